/**
 * Spreadsheet uploads: CSV (csv-parse) and XLSX (exceljs streaming reader, first worksheet). The
 * first row holds the column headers; every later row becomes one knowledge piece of
 * "Header: value" lines.
 *
 * A small file can still be expensive: exceljs's cost per row grows with the row's highest column
 * (a 7.6 KB sheet of cells at column XFD took 32 s), and a 1 MB zip can unpack to 1 GB. So limits
 * are checked before parsing (zip directory sizes, inflated bytes, cell references in the sheet
 * XML) and while parsing (cells, columns, time), and one heavy parse runs at a time so parallel
 * uploads cannot add up.
 */
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { HttpError } from './http-io.js';
import { inflateZip } from './zip-inspect.js';

/** What one upload may cost; each violation is a 413 naming the limit. */
export interface SpreadsheetLimits {
  /** Columns read per row. */
  maxColumns: number;
  /** Cells over the whole file. */
  maxCells: number;
  /** All parts of an .xlsx together, unpacked. */
  maxUncompressedBytes: number;
  /** Parts of an .xlsx (a workbook has a dozen or so). */
  maxZipEntries: number;
  /** Wall time for one .xlsx parse, checked between rows. */
  parseTimeoutMs: number;
}

export const DEFAULT_SPREADSHEET_LIMITS: Readonly<SpreadsheetLimits> = {
  maxColumns: 256, // A to IV, the classic Excel limit
  maxCells: 250_000,
  maxUncompressedBytes: 32 * 1024 * 1024,
  maxZipEntries: 500,
  parseTimeoutMs: 15_000,
};

/** Uploads waiting for the parser; more get 503. */
const MAX_WAITING_PARSES = 4;

/** Rows of a spreadsheet as text, blank rows skipped, in sheet order. */
export async function spreadsheetRows(
  filename: string,
  mimeType: string,
  data: Buffer,
  limits: Readonly<SpreadsheetLimits> = DEFAULT_SPREADSHEET_LIMITS,
): Promise<string[]> {
  const name = filename.toLowerCase();
  let matrix: string[][];
  if (name.endsWith('.csv') || (!name.includes('.') && /csv/.test(mimeType))) matrix = await parseLane.run(() => parseCsv(data, limits));
  else if (name.endsWith('.xlsx') || (!name.includes('.') && /spreadsheetml/.test(mimeType))) matrix = await parseLane.run(() => parseXlsx(data, limits));
  else throw new HttpError(400, 'Unsupported file type: upload a .csv or .xlsx file');

  const [header, ...body] = matrix;
  if (header === undefined || header.every((h) => h === '')) throw new HttpError(400, 'The spreadsheet has no header row');
  const names = header.map((h, i) => h || `Column ${i + 1}`);
  return body
    .map((cells) =>
      cells
        .map((value, i) => (value === '' ? '' : `${names[i] ?? `Column ${i + 1}`}: ${value}`))
        .filter((line) => line !== '')
        .join('\n'),
    )
    .filter((row) => row !== '');
}

/** Runs one parse at a time (per process: memory is per process), with a short bounded wait list. */
class ParseLane {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  async run<T>(parse: () => T | Promise<T>): Promise<T> {
    if (this.waiting >= MAX_WAITING_PARSES) {
      throw new HttpError(503, 'Busy reading other spreadsheets; try again in a few seconds', { 'Retry-After': '5' });
    }
    this.waiting++;
    const result = this.tail.then(() => {
      this.waiting--;
      return parse();
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const parseLane = new ParseLane();

const tooManyCells = (limits: SpreadsheetLimits): HttpError =>
  new HttpError(413, `The spreadsheet has more than ${limits.maxCells.toLocaleString('en-US')} cells`);
const tooManyColumns = (column: number, limits: SpreadsheetLimits): HttpError =>
  new HttpError(
    413,
    `The spreadsheet uses column ${columnName(column)}; at most ${limits.maxColumns} columns (A to ${columnName(limits.maxColumns)}) are read`,
  );
const tooSlow = (limits: SpreadsheetLimits): HttpError =>
  new HttpError(413, `The spreadsheet is too large to read within ${limits.parseTimeoutMs / 1000} s`);

function parseCsv(data: Buffer, limits: SpreadsheetLimits): string[][] {
  let cells = 0;
  try {
    return parse(data, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      // Counted record by record so a file of a million tiny cells stops early rather than at the end.
      on_record: (record: string[]) => {
        cells += record.length;
        if (cells > limits.maxCells) throw tooManyCells(limits);
        if (record.length > limits.maxColumns) throw tooManyColumns(record.length, limits);
        return record;
      },
    });
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `Could not parse the CSV file: ${(err as Error).message}`);
  }
}

/** `<c … r="XFD12"` in sheet XML: a cell and its column letters. */
const CELL_REFERENCE = /<c\s[^>]*?\br\s*=\s*["']([A-Za-z]{1,4})\d/g;
/** Any cell element (`<c>`, `<c/>`, `<c r=…>`), for counting. */
const CELL_ELEMENT = /<c[\s/>]/g;
const WORKSHEET_PART = /^xl\/worksheets\/[^/]+\.xml$/i;

/**
 * Checks the archive and the cell references of every worksheet before exceljs builds any row:
 * its per-row cost is paid for the highest column whether or not the cells between exist.
 */
function precheckXlsx(data: Buffer, limits: SpreadsheetLimits): void {
  const parts = inflateZip(data, { maxEntries: limits.maxZipEntries, maxUncompressedBytes: limits.maxUncompressedBytes });
  let cells = 0;
  for (const [name, content] of parts) {
    if (!WORKSHEET_PART.test(name)) continue;
    // latin1 maps bytes 1:1, enough to find ASCII markup without decoding UTF-8.
    const xml = content.toString('latin1');
    cells += xml.match(CELL_ELEMENT)?.length ?? 0;
    if (cells > limits.maxCells) throw tooManyCells(limits);
    for (const m of xml.matchAll(CELL_REFERENCE)) {
      const column = columnNumber(m[1] ?? 'A');
      if (column > limits.maxColumns) throw tooManyColumns(column, limits);
    }
  }
}

async function parseXlsx(data: Buffer, limits: SpreadsheetLimits): Promise<string[][]> {
  precheckXlsx(data, limits);
  // Loaded on first use: exceljs alone takes ~200 ms to import, most of the emulator's start-up.
  const { default: ExcelJS } = await import('exceljs');
  const deadline = Date.now() + limits.parseTimeoutMs;
  // The streaming reader keeps one row at a time and skips what a knowledge upload does not use
  // (merges, data validations, drawings), where the full loader expands ranges cell by cell.
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(Readable.from([data]), {
    sharedStrings: 'cache',
    styles: 'cache', // number formats, so dates read as dates
    hyperlinks: 'ignore',
    worksheets: 'emit',
    entries: 'ignore',
  });
  const matrix: string[][] = [];
  let cells = 0;
  let sheetIndex = 0;
  try {
    for await (const sheet of reader) {
      const first = sheetIndex++ === 0;
      for await (const row of sheet) {
        if (Date.now() >= deadline) throw tooSlow(limits);
        cells += row.actualCellCount;
        if (cells > limits.maxCells) throw tooManyCells(limits);
        if (row.cellCount > limits.maxColumns) throw tooManyColumns(row.cellCount, limits);
        if (!first) continue;
        const values: string[] = [];
        row.eachCell({ includeEmpty: false }, (cell, column) => {
          values[column - 1] = cellText(cell.text);
        });
        matrix.push(Array.from(values, (v) => v ?? ''));
      }
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'Could not read the .xlsx file (is it a valid Excel workbook?)');
  }
  if (sheetIndex === 0) throw new HttpError(400, 'The workbook has no worksheet');
  return matrix.filter((cells) => cells.some((c) => c !== ''));
}

/** A cell's display text, trimmed. exceljs types it as string but can give a hyperlink's own value, e.g. a number. */
function cellText(text: unknown): string {
  if (typeof text === 'string') return text.trim();
  return typeof text === 'number' || typeof text === 'boolean' ? String(text) : '';
}

/** 'A' → 1, 'XFD' → 16384. */
function columnNumber(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

/** 1 → 'A', 256 → 'IV'. */
function columnName(column: number): string {
  let name = '';
  for (let n = column; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}
