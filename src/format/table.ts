/**
 * Tables as aligned monospace lines: none of the four platforms has tables, and all of them have
 * a monospace block. Column widths come from the whole table (kept on the block), so the pieces of
 * a table split over several messages line up the same way.
 */
import { displayWidth, type Block } from './parse.js';

type Table = Extract<Block, { type: 'table' }>;

/**
 * The table's lines: header, a rule of `─` under each column, then the rows; columns separated by
 * two spaces (` │ ` would cost three characters of a narrow phone screen per column).
 */
export function tableLines(table: Table): string[] {
  const line = (cells: string[]): string =>
    table.widths.map((width, i) => pad(cells[i] ?? '', width, table.align[i] ?? null)).join('  ').trimEnd();
  return [line(table.header), table.widths.map((width) => '─'.repeat(width)).join('  '), ...table.rows.map(line)];
}

function pad(text: string, width: number, align: Table['align'][number]): string {
  const room = Math.max(0, width - displayWidth(text));
  if (align === 'right') return ' '.repeat(room) + text;
  if (align === 'center') return ' '.repeat(Math.floor(room / 2)) + text + ' '.repeat(Math.ceil(room / 2));
  return text + ' '.repeat(room);
}
