/**
 * Spreadsheet uploads: CSV (csv-parse) and XLSX (exceljs, first worksheet). The first row holds
 * the column headers; every later row becomes one knowledge piece of "Header: value" lines.
 */
import { parse } from 'csv-parse/sync';
import { HttpError } from './http-io.js';

/** Rows of a spreadsheet as text, blank rows skipped, in sheet order. */
export async function spreadsheetRows(filename: string, mimeType: string, data: Buffer): Promise<string[]> {
  const name = filename.toLowerCase();
  let matrix: string[][];
  if (name.endsWith('.csv') || (!name.includes('.') && /csv/.test(mimeType))) matrix = parseCsv(data);
  else if (name.endsWith('.xlsx') || (!name.includes('.') && /spreadsheetml/.test(mimeType))) matrix = await parseXlsx(data);
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

function parseCsv(data: Buffer): string[][] {
  try {
    return parse(data, { bom: true, relax_column_count: true, skip_empty_lines: true, trim: true });
  } catch (err) {
    throw new HttpError(400, `Could not parse the CSV file: ${(err as Error).message}`);
  }
}

async function parseXlsx(data: Buffer): Promise<string[][]> {
  // Loaded on first use: exceljs alone takes ~200 ms to import, most of the emulator's start-up.
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  try {
    // exceljs types its argument as an ArrayBuffer-like "Buffer"; JSZip underneath reads any Uint8Array.
    await workbook.xlsx.load(data as unknown as ArrayBuffer);
  } catch {
    throw new HttpError(400, 'Could not read the .xlsx file (is it a valid Excel workbook?)');
  }
  const sheet = workbook.worksheets[0];
  if (sheet === undefined) throw new HttpError(400, 'The workbook has no worksheet');
  const matrix: string[][] = [];
  sheet.eachRow({ includeEmpty: false }, (row) => {
    const cells: string[] = [];
    row.eachCell({ includeEmpty: true }, (cell, col) => {
      cells[col - 1] = cell.text.trim();
    });
    matrix.push(Array.from(cells, (c) => c ?? ''));
  });
  return matrix;
}
