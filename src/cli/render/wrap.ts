import { stripVTControlCharacters } from 'node:util';

/** Columns a string takes on a terminal: ANSI escapes count 0, wide (CJK, emoji) characters 2, others 1. */
export function visibleWidth(text: string): number {
  let width = 0;
  for (const char of stripVTControlCharacters(text)) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0) || (code >= 0x300 && code < 0x370) || code === 0x200d || (code >= 0xfe00 && code <= 0xfe0f)) continue;
    width += isWide(code) ? 2 : 1;
  }
  return width;
}

// East Asian Wide/Fullwidth blocks and the emoji planes: enough for what natscope prints (addresses and words).
function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  );
}

/**
 * Wraps text to `width` columns: at spaces where it can, and a word wider than the line (a long address) is cut
 * into pieces of the line's width. Existing line breaks are kept. Never returns a line wider than `width`.
 */
export function wrapText(text: string, width: number): string[] {
  const limit = Math.max(1, Math.floor(width));
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/ +/).filter((w) => w !== '')) {
      const candidate = line === '' ? word : `${line} ${word}`;
      if (visibleWidth(candidate) <= limit) {
        line = candidate;
        continue;
      }
      if (line !== '') lines.push(line);
      line = '';
      let rest = word;
      while (visibleWidth(rest) > limit) {
        const [head, tail] = splitAtWidth(rest, limit);
        lines.push(head);
        rest = tail;
      }
      line = rest;
    }
    lines.push(line);
  }
  return lines;
}

/** Splits plain text after `width` columns. */
function splitAtWidth(text: string, width: number): [string, string] {
  let head = '';
  for (const char of text) {
    if (visibleWidth(head + char) > width) break;
    head += char;
  }
  // A character wider than the whole line still moves forward.
  if (head === '') head = [...text][0] ?? '';
  return [head, text.slice(head.length)];
}

/** Wraps a paragraph to the width and joins it back into one string. */
export function wrapParagraph(text: string, width: number): string {
  return wrapText(text, width).join('\n');
}
