import Table from 'cli-table3';
import { visibleWidth, wrapText } from './wrap.js';

/** Fewest columns a table cell shrinks to before the table is allowed to overflow. */
const MIN_CELL_WIDTH = 6;

/**
 * Column content widths (without padding) so that a table with borders fits in `width` columns: each column
 * starts at its widest line, and the widest column gives up one column at a time until the table fits.
 */
export function fitColumnWidths(rows: readonly (readonly string[])[], width: number): number[] {
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(1, ...rows.map((row) => Math.max(0, ...(row[i] ?? '').split('\n').map(visibleWidth)))),
  );
  // Each column costs its content, one space of padding each side and one border; plus the closing border.
  const total = (): number => widths.reduce((sum, w) => sum + w + 3, 1);
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < columns; i += 1) if (widths[i]! > MIN_CELL_WIDTH && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    if (widest < 0) break;
    widths[widest]! -= 1;
  }
  return widths;
}

/** A bordered cli-table3 table that fits `width` columns: cells are wrapped to fitted column widths. */
export function renderFittedTable(rows: readonly (readonly string[])[], width: number, options: { head?: readonly string[] } = {}): string {
  const all = options.head === undefined ? rows : [options.head, ...rows];
  const widths = fitColumnWidths(all, width);
  const wrap = (row: readonly string[]): string[] => widths.map((w, i) => wrapText(row[i] ?? '', w).join('\n'));
  const table = new Table({
    ...(options.head === undefined ? {} : { head: wrap(options.head) }),
    colWidths: widths.map((w) => w + 2),
    // The cells are wrapped above (cutting long addresses); cli-table3's own wrap is the safety net.
    wordWrap: true,
    // No rule between rows: multi-line rows stay readable and the table half as tall.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    style: { head: [], border: [] },
  });
  for (const row of rows) table.push(wrap(row));
  return table.toString();
}
