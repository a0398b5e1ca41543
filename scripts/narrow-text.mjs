// Characters string-width counts as exactly one column with its default options (ambiguous characters narrow):
// printable ASCII, Latin-1 (not the soft hyphen, not © and ®, which are emoji), general punctuation (not the
// zero-width and bidi controls, not ‼ and ⁉), ← ↑ → ↓ and the mathematical operators. A string made only of
// these needs no segmenter: its width is its length. __tests__/cli/narrow-text.test.ts checks every one of them
// against string-width itself.
export const NARROW_TEXT_SOURCE =
  '^[\\u0020-\\u007E\\u00A0-\\u00A8\\u00AA-\\u00AC\\u00AF-\\u00FF\\u2010-\\u2027\\u2030-\\u203B\\u203D-\\u2048\\u204A-\\u205E\\u2190-\\u2193\\u2200-\\u22FF]*$';
