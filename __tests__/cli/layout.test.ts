import { describe, expect, it } from '@jest/globals';
import { fitColumnWidths, renderFittedTable } from '../../src/cli/render/fit-table.js';
import { visibleWidth, wrapText } from '../../src/cli/render/wrap.js';

describe('wrapping text to a width', () => {
  it('breaks at spaces and never returns a line wider than the width', () => {
    expect(wrapText('the mapped address 127.0.0.1:50185 is this host', 20)).toEqual(['the mapped address', '127.0.0.1:50185 is', 'this host']);
  });
  it('cuts a word wider than the line (a long IPv6 address) into pieces of the width', () => {
    const lines = wrapText('[2001:db8:1234:5678:9abc:def0:1234:5678]:3478', 16);
    expect(lines.join('')).toBe('[2001:db8:1234:5678:9abc:def0:1234:5678]:3478');
    expect(Math.max(...lines.map(visibleWidth))).toBe(16);
  });
  it('keeps line breaks that are already there', () => {
    expect(wrapText('a\nb c', 10)).toEqual(['a', 'b c']);
  });
  it('counts what a terminal shows: ANSI colour codes take no columns, wide characters two', () => {
    expect(visibleWidth('\u001b[31mred\u001b[39m')).toBe(3);
    expect(visibleWidth('端口')).toBe(4);
    expect(visibleWidth('✔ → –')).toBe(5);
  });
});

describe('fitting a table to the terminal', () => {
  it('keeps natural widths when the table fits', () => {
    expect(fitColumnWidths([['ab', 'cde'], ['a', 'b']], 80)).toEqual([2, 3]);
  });
  it('shrinks the column with the most room to wrap at spaces first, then cuts words', () => {
    const rows = [['Mapping (RFC 4787)', 'endpoint-independent', 'a new mapping for every destination port (203.0.113.11:1, 203.0.113.11:2)']];
    const widths = fitColumnWidths(rows, 80);
    expect(widths.reduce((sum, w) => sum + w + 3, 1)).toBeLessThanOrEqual(80);
    expect(widths[1]).toBe('endpoint-independent'.length);
  });
  it('renders a bordered table no wider than asked, whatever the content', () => {
    const rows = [['x'.repeat(300), 'y '.repeat(100), 'z']];
    for (const width of [40, 80, 100]) {
      const text = renderFittedTable(rows, width, { head: ['A', 'B', 'C'] });
      expect(Math.max(...text.split('\n').map(visibleWidth))).toBeLessThanOrEqual(width);
      expect(text.replace(/[^x]/g, '')).toHaveLength(300);
    }
  });
});
