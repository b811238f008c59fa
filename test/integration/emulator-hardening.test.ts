/**
 * Regressions found by hostile testing of the emulator, over real HTTP: each request here once
 * crashed the process, froze it, exhausted its memory, answered 500 or slipped past the SSRF
 * guard. Hostile files are built here: exceljs writes the sparse sheets, and the zip bombs are a
 * hand-assembled zip around a deflated run of zeros.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { constants, crc32, deflateRawSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorBody, KnowledgeSpreadsheetResponse } from '../../src/asyntai/types.js';
import { createLogger } from '../../src/log.js';
import { vetUrl } from '../../src/emulator/net-guard.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { inflateZip } from '../../src/emulator/zip-inspect.js';
import { call } from './emulator-helpers.js';

let emu: EmulatorHandle;
/** Limits small enough to reach with small files. */
let tight: EmulatorHandle;
beforeAll(async () => {
  emu = await startEmulator({ plan: 'pro' });
  tight = await startEmulator({ spreadsheetLimits: { maxCells: 50 } });
});
afterAll(async () => {
  await Promise.all([emu.close(), tight.close()]);
});

const errorOf = (body: unknown): string => ErrorBody.parse(body).error;

/** The emulator still answers an ordinary request. */
async function expectAlive(handle: EmulatorHandle = emu): Promise<void> {
  expect((await call(handle.url, handle.apiKey, 'GET', 'account/')).status).toBe(200);
}

/** POSTs `body` as is with this Content-Type (call() would label it JSON). */
async function postRaw(path: string, body: string, contentType: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(new URL(path, emu.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${emu.apiKey}`, 'content-type': contentType },
    body,
  });
  return { status: res.status, body: await res.json() };
}

async function upload(data: Uint8Array, filename: string, handle: EmulatorHandle = emu): Promise<{ status: number; body: unknown }> {
  const form = new FormData();
  form.set('file', new Blob([data]), filename);
  return call(handle.url, handle.apiKey, 'POST', 'knowledge/spreadsheet/', { body: form });
}

/** An .xlsx of `rows` rows by `columns` columns of short text. */
async function gridXlsx(rows: number, columns: number): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  const sheet = book.addWorksheet('Grid');
  for (let r = 0; r < rows; r++) sheet.addRow(Array.from({ length: columns }, (_, c) => `r${r}c${c}`));
  return Buffer.from(await book.xlsx.writeBuffer());
}

/** Sends raw bytes on one connection and returns everything the server writes back. */
async function rawExchange(handle: EmulatorHandle, bytes: string): Promise<string> {
  const { hostname, port } = new URL(handle.url);
  const socket = connect(Number(port), hostname);
  socket.end(bytes);
  let out = '';
  socket.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  await new Promise((resolve, reject) => socket.on('close', resolve).on('error', reject));
  return out;
}

/** The workbook with its first sheet's XML passed through `edit`, zipped again. */
function rewriteSheet(workbook: Buffer, edit: (xml: string) => string): Buffer {
  const parts = inflateZip(workbook, { maxEntries: 100, maxUncompressedBytes: 1 << 20 });
  return zipArchive(
    [...parts].map(([name, content]) => {
      const data = name === 'xl/worksheets/sheet1.xml' ? Buffer.from(edit(content.toString('utf8'))) : content;
      return { name, data: deflateRawSync(data), method: 8, declaredSize: data.length, crc: crc32(data) };
    }),
  );
}

/**
 * An .xlsx whose rows hold one cell each at column XFD (16,384) under a one-cell header. exceljs
 * writes a two-row workbook (writing thousands of such rows costs it as much as reading them);
 * the second row is then repeated in the sheet XML.
 */
async function sparseXlsx(rows: number): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  const sheet = book.addWorksheet('Sparse');
  sheet.getCell(1, 1).value = 'Name';
  sheet.getCell(2, 16_384).value = 7;
  return rewriteSheet(Buffer.from(await book.xlsx.writeBuffer()), (xml) => {
    const row = /<row r="2"[\s\S]*?<\/row>/.exec(xml)?.[0] ?? '';
    const copies = Array.from({ length: rows }, (_, i) => row.replaceAll(/(<row r="|<c r="XFD)2"/g, `$1${i + 2}"`));
    return xml.replace(row, copies.join(''));
  });
}

/**
 * A price list whose B2 holds a hyperlink. exceljs always writes a hyperlink's text as a string;
 * the test turns it into a number in the XML, as other writers produce it.
 */
async function hyperlinkXlsx(): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  const sheet = book.addWorksheet('Prices');
  sheet.addRow(['Item', 'Price']);
  sheet.addRow(['Lantern', { text: 'price', hyperlink: 'https://shop.example/lantern' }]);
  return Buffer.from(await book.xlsx.writeBuffer());
}

interface ZipPart {
  name: string;
  /** Bytes as stored in the archive (deflated when `method` is 8). */
  data: Buffer;
  method: 0 | 8;
  /** The uncompressed size the headers declare (true or not). */
  declaredSize: number;
  /** CRC-32 of the uncompressed bytes; 0 for bombs (no reader here checks it first). */
  crc?: number;
}

/** A zip archive (local headers, central directory, end record) around `parts`; CRCs left 0. */
function zipArchive(parts: ReadonlyArray<ZipPart>): Buffer {
  const pieces: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const name = Buffer.from(part.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(part.method, 8);
    local.writeUInt32LE(part.crc ?? 0, 14);
    local.writeUInt32LE(part.data.length, 18);
    local.writeUInt32LE(part.declaredSize, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(part.method, 10);
    central.writeUInt32LE(part.crc ?? 0, 16);
    central.writeUInt32LE(part.data.length, 20);
    central.writeUInt32LE(part.declaredSize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    pieces.push(local, name, part.data);
    directory.push(central, name);
    offset += local.length + name.length + part.data.length;
  }
  const centralDirectory = Buffer.concat(directory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...pieces, centralDirectory, end]);
}

/**
 * A raw deflate stream of `mebibytes` MiB of zeros, about 1 KB per MiB: one fully flushed
 * megabyte repeated (a full flush makes each copy independent of the one before), then an empty
 * final block.
 */
function deflatedZeros(mebibytes: number): Buffer {
  const segment = deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: mebibytes }, () => segment), Buffer.from([0x03, 0x00])]);
}

/** A "workbook" whose sheet unpacks to `mebibytes` MiB, declaring `declaredSize` bytes. */
function zipBomb(mebibytes: number, declaredSize = mebibytes * 1024 * 1024): Buffer {
  return zipArchive([{ name: 'xl/worksheets/sheet1.xml', data: deflatedZeros(mebibytes), method: 8, declaredSize }]);
}

describe('multipart bodies', () => {
  it('a body that ends before its closing boundary is a 400, and the emulator lives on', async () => {
    const body = '--XX\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\na,b\n1,2\n';
    const res = await postRaw('knowledge/spreadsheet/', body, 'multipart/form-data; boundary=XX');
    expect(res.status).toBe(400);
    expect(errorOf(res.body)).toBe('Malformed multipart/form-data body');
    await expectAlive();
  });
});

describe('multipart size', () => {
  it('a chunked body over 10 MB of form fields is a 413 (no length declared, no file)', async () => {
    const field = 'x'.repeat(1024 * 1024);
    const parts = Array.from({ length: 11 }, (_, i) => `--XX\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\n${field}\r\n`).join('');
    const body = `${parts}--XX--\r\n`;
    const chunked = `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const answer = await rawExchange(
      emu,
      `POST /api/v1/knowledge/spreadsheet/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${emu.apiKey}\r\n` +
        `Content-Type: multipart/form-data; boundary=XX\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    await expectAlive();
  });
});

describe('spreadsheet limits', () => {
  it('a small .xlsx with cells at column XFD is refused before parsing, naming the column', async () => {
    const file = await sparseXlsx(1_000);
    expect(file.length).toBeLessThan(20 * 1024);
    const res = await upload(file, 'sparse.xlsx');
    expect(res.status).toBe(413);
    expect(errorOf(res.body)).toMatch(/column XFD; at most 256 columns/);
    await expectAlive();
  });

  it('20,000 such rows (the file that exhausted the heap) are refused the same way', async () => {
    const res = await upload(await sparseXlsx(20_000), 'sparse-20k.xlsx');
    expect(res.status).toBe(413);
    expect(errorOf(res.body)).toMatch(/column XFD/);
  });

  it('a 1 MB zip bomb (1 GB unpacked) is refused from its declared sizes', async () => {
    const bomb = zipBomb(1024);
    expect(bomb.length).toBeLessThan(1.5 * 1024 * 1024);
    const res = await upload(bomb, 'bomb.xlsx');
    expect(res.status).toBe(413);
    expect(errorOf(res.body)).toMatch(/unpacks to more than 32 MB/);
  });

  it('a bomb that declares a small size is stopped at the unpack budget', async () => {
    const res = await upload(zipBomb(256, 1000), 'liar.xlsx');
    expect(res.status).toBe(413);
    expect(errorOf(res.body)).toMatch(/unpacks to more than 32 MB/);
  });

  it('four bombs in parallel are all refused and the emulator lives on', async () => {
    const bomb = zipBomb(1024, 100);
    const results = await Promise.all([1, 2, 3, 4].map((i) => upload(bomb, `bomb-${i}.xlsx`)));
    expect(results.map((r) => r.status)).toEqual([413, 413, 413, 413]);
    await expectAlive();
  });

  it('an entry whose inflated size differs from its header is a 400, not a crash in the zip reader', async () => {
    const sheet = Buffer.from('<worksheet><sheetData/></worksheet>');
    const res = await upload(zipArchive([{ name: 'xl/worksheets/sheet1.xml', data: sheet, method: 0, declaredSize: sheet.length + 5 }]), 'odd.xlsx');
    expect(res.status).toBe(400);
    expect(errorOf(res.body)).toMatch(/valid Excel workbook/);
    await expectAlive();
  });

  it('a CSV or .xlsx past the cell limit is a 413', async () => {
    const csv = await upload(Buffer.from(`name\n${'a\n'.repeat(50)}`), 'many.csv', tight);
    expect(csv.status).toBe(413);
    expect(errorOf(csv.body)).toBe('The spreadsheet has more than 50 cells');
    const xlsx = await upload(await gridXlsx(11, 5), 'many.xlsx', tight);
    expect(xlsx.status).toBe(413);
    expect(errorOf(xlsx.body)).toBe('The spreadsheet has more than 50 cells');
    expect((await upload(await gridXlsx(10, 5), 'fits.xlsx', tight)).status).toBe(200);
  });

  it('a CSV row wider than the column limit is a 413', async () => {
    const res = await upload(Buffer.from(`${Array.from({ length: 300 }, (_, i) => `h${i}`).join(',')}\n`), 'wide.csv');
    expect(res.status).toBe(413);
    expect(errorOf(res.body)).toMatch(/column KN; at most 256 columns \(A to IV\)/);
  });

  it('a parse past its time limit is a 413', async () => {
    const hurried = await startEmulator({ spreadsheetLimits: { parseTimeoutMs: 0 } });
    try {
      const res = await upload(await gridXlsx(3, 2), 'slow.xlsx', hurried);
      expect(res.status).toBe(413);
      expect(errorOf(res.body)).toBe('The spreadsheet is too large to read within 0 s');
    } finally {
      await hurried.close();
    }
  });

  it('a numeric cell with a hyperlink is read as its text, not a 500', async () => {
    const res = await upload(rewriteSheet(await hyperlinkXlsx(), (xml) => xml.replace(/<c r="B2"[^>]*>[\s\S]*?<\/c>/, '<c r="B2"><v>42</v></c>')), 'prices.xlsx');
    expect(res.status).toBe(200);
    expect(KnowledgeSpreadsheetResponse.parse(res.body).rows_processed).toBe(1);
  });
});

describe('request targets and bodies', () => {
  it.each(['//%%', 'http://['])('GET %s is a 400', async (target) => {
    const answer = await rawExchange(emu, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"success":false');
    await expectAlive();
  });

  it('a body that is not JSON says so, also when curl -d labels it a form', async () => {
    for (const contentType of ['application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
      const res = await postRaw('chat/', 'hello there', contentType);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ success: false, error: 'the body is not valid JSON' });
    }
    // A real form still works.
    const form = await postRaw('chat/', 'message=hours%3F&session_id=form-1', 'application/x-www-form-urlencoded');
    expect(form.status).toBe(200);
  });
});

describe('SSRF guard', () => {
  const smuggled = [
    'http://[::127.0.0.1]/', // IPv4-compatible
    'http://[::ffff:0:7f00:1]/', // IPv4-translated
    'http://[::ffff:7f00:1]/', // IPv4-mapped
    'http://[64:ff9b::7f00:1]/', // NAT64
    'http://[2002:7f00:1::]/', // 6to4
    'http://[2002:a00:1::1]/', // 6to4 around 10.0.0.1
    'http://[fec0::1]/', // site-local
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', // Teredo
    'http://[2001:db8::1]/', // documentation
    'http://100.64.0.1/', // carrier-grade NAT
    'http://0x7f.1/', // 127.0.0.1 in another spelling
  ];

  it.each(smuggled)('refuses %s for URL ingestion and webhooks', async (url) => {
    const ingest = await call(emu.url, emu.apiKey, 'POST', 'knowledge/url/', { body: { url } });
    expect(ingest.status).toBe(400);
    expect(errorOf(ingest.body)).toMatch(/private or loopback/);
    const hook = await call(emu.url, emu.apiKey, 'POST', 'webhooks/', {
      body: { url: url.replace('http:', 'https:'), events: ['message.received'] },
    });
    expect(hook.status).toBe(400);
    expect(errorOf(hook.body)).toMatch(/private or loopback/);
  });

  it('still allows globally routable addresses, also inside NAT64 and 6to4', () => {
    for (const url of ['https://93.184.215.14/', 'https://[2606:4700::1111]/', 'https://[64:ff9b::5db8:d70e]/', 'https://[2002:5db8:d70e::1]/']) {
      expect(vetUrl(url, false, ['https:'], 'url').href).toBe(url);
    }
  });
});

describe('request log', () => {
  it('one info line per request with method, path, status and ms, without the key', async () => {
    const lines: string[] = [];
    const logged = await startEmulator({
      apiKeys: ['request-log-key'],
      logger: createLogger({ secrets: ['request-log-key'], destination: { write: (line: string) => lines.push(line) } }),
    });
    try {
      await call(logged.url, logged.apiKey, 'GET', 'account/?probe=1');
      await call(logged.url, 'wrong-key', 'GET', 'account/');
      await call(logged.url, logged.apiKey, 'POST', 'chat/', { body: 'hello there' });
    } finally {
      await logged.close();
    }
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.map(({ method, path, status }) => ({ method, path, status }))).toEqual([
      { method: 'GET', path: '/api/v1/account/', status: 200 },
      { method: 'GET', path: '/api/v1/account/', status: 401 },
      { method: 'POST', path: '/api/v1/chat/', status: 400 },
    ]);
    for (const entry of entries) {
      expect(entry['level']).toBe(30);
      expect(typeof entry['ms']).toBe('number');
    }
    expect(lines.join('')).not.toContain('request-log-key');
  });
});

describe('command line', () => {
  it('--help lists every flag with its environment variable', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/emulator/cli.ts', '--help']);
    for (const [flag, variable] of [
      ['--port', 'EMULATOR_PORT'],
      ['--host', 'EMULATOR_HOST'],
      ['--api-key', 'EMULATOR_API_KEY'],
      ['--plan', 'EMULATOR_PLAN'],
      ['--data', 'EMULATOR_DATA'],
      ['--allow-private-urls', 'EMULATOR_ALLOW_PRIVATE_URLS'],
      ['--log-level', 'LOG_LEVEL'],
    ] as const) {
      expect(stdout).toMatch(new RegExp(`${flag}\\b.*${variable}`));
    }
    expect(stdout).toContain('--no-seed');
  });
});
