import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NARROW_TEXT_SOURCE } from '../../scripts/narrow-text.mjs';

// The string-width copies the CLI bundle patches (scripts/bundle-cli.mjs): 7.x under cliui and wrap-ansi, 8.x under yargs.
const copies = ['cliui', 'yargs'].map((parent) => join(process.cwd(), 'node_modules', parent, 'node_modules', 'string-width', 'index.js'));

describe("the bundle's fast path for string-width", () => {
  it('counts one column for each character it lets through, as string-width itself does', async () => {
    const narrow = new RegExp(NARROW_TEXT_SOURCE);
    const accepted: string[] = [];
    for (let code = 0; code <= 0x2fff; code += 1) {
      const char = String.fromCodePoint(code);
      if (narrow.test(char)) accepted.push(char);
    }
    expect(accepted.length).toBeGreaterThan(500);
    expect(accepted).toEqual(expect.arrayContaining(['a', '§', '×', '≥', '→', '–']));
    for (const path of copies) {
      const { default: stringWidth } = (await import(pathToFileURL(path).href)) as { default: (text: string) => number };
      const wrong = accepted.filter((char) => stringWidth(char) !== 1).map((char) => char.codePointAt(0)!.toString(16));
      expect({ path, wrong }).toEqual({ path, wrong: [] });
    }
  });
  it('leaves wide, zero-width and emoji characters to string-width', () => {
    const narrow = new RegExp(NARROW_TEXT_SOURCE);
    for (const text of ['端', '\u00ad', '\u200b', '©', '‼', '↔', '\u0301', '\t']) expect({ text, fast: narrow.test(text) }).toEqual({ text, fast: false });
  });
});
