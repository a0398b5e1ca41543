import Table from 'cli-table3';
import { visibleWidth, wrapText } from './wrap.js';

/** Fewest columns a table cell shrinks to before the table is allowed to overflow. */
const MIN_CELL_WIDTH = 6;

/**
 * Column content widths (without padding) so that a table with borders fits in `width` columns: each column
 * starts at its widest line; then the widest column gives up one column at a time, first down to its longest word
 * (wrapping at spaces loses nothing), and only then further (cutting words, such as long addresses).
 */
export function fitColumnWidths(rows: readonly (readonly string[])[], width: number): number[] {
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const cells = (i: number): string[] => rows.flatMap((row) => (row[i] ?? '').split('\n'));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(1, ...cells(i).map(visibleWidth)));
  const longestWord = Array.from({ length: columns }, (_, i) => Math.max(1, ...cells(i).flatMap((line) => line.split(' ')).map(visibleWidth)));
  // Each column costs its content, one space of padding each side and one border; plus the closing border.
  const total = (): number => widths.reduce((sum, w) => sum + w + 3, 1);
  // Phase 1 takes from the column with the most room to wrap at spaces; phase 2 from the widest.
  const shrink = (pick: (i: number) => number | undefined): boolean => {
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < columns; i += 1) {
      const score = pick(i);
      if (score !== undefined && score > bestScore) [best, bestScore] = [i, score];
    }
    if (best < 0) return false;
    widths[best]! -= 1;
    return true;
  };
  const wrapRoom = (i: number): number | undefined => {
    const room = widths[i]! - Math.max(MIN_CELL_WIDTH, longestWord[i]!);
    return room > 0 ? room : undefined;
  };
  const widthAboveMinimum = (i: number): number | undefined => (widths[i]! > MIN_CELL_WIDTH ? widths[i] : undefined);
  while (total() > width && shrink(wrapRoom));
  while (total() > width && shrink(widthAboveMinimum));
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
