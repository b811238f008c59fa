/**
 * Knowledge over real HTTP: retrieval of uploaded facts, deletion, chunking, spreadsheets (CSV
 * and a real XLSX built with exceljs) with plan truncation, the daily upload allowance, and URL
 * ingestion from a loopback page (allowed only with allowPrivateUrls).
 */
import ExcelJS from 'exceljs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatResponse,
  ErrorBody,
  KnowledgeListResponse,
  KnowledgeSpreadsheetResponse,
  KnowledgeTextResponse,
  KnowledgeUrlResponse,
} from '../../src/asyntai/types.js';
import { chunkText } from '../../src/emulator/knowledge.js';
import { outboundAgent } from '../../src/emulator/net-guard.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { call, startReceiver } from './emulator-helpers.js';

let emu: EmulatorHandle;
let strict: EmulatorHandle;
let site: Awaited<ReturnType<typeof startReceiver>>;
const api = (method: string, path: string, body?: unknown) => call(emu.url, emu.apiKey, method, path, { body });
const ask = async (message: string, websiteId?: number): Promise<string> =>
  ChatResponse.parse((await api('POST', 'chat/', { message, website_id: websiteId })).body).response;

beforeAll(async () => {
  emu = await startEmulator({ allowPrivateUrls: true });
  strict = await startEmulator();
  site = await startReceiver((req, res) => {
    if (req.url === '/visit') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        '<html><head><title>Visiting &amp; Parking</title><style>p{color:red}</style></head><body>' +
          '<nav>Home | Shop | Blog</nav><h1>Visiting us</h1>' +
          '<p>Parking: free parking behind the store, entrance on Mill Lane.</p>' +
          '<p>Bicycles can be left at the racks by the front door.</p><script>var tracking = 1;</script></body></html>',
      );
    } else if (req.url === '/moved') {
      res.writeHead(302, { location: '/visit' });
      res.end();
    } else if (req.url === '/notes.txt') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('Plain notes: the loyalty stamp card gives a free coffee after nine visits.');
    } else if (req.url === '/image') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.alloc(64));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not here');
    }
  });
});
afterAll(async () => {
  await Promise.all([emu.close(), strict.close(), site.close()]);
});

describe('text knowledge', () => {
  it('finds an uploaded fact, and forgets it when the entry is deleted', async () => {
    expect(await ask('Where can I park?')).not.toMatch(/behind the store/);
    const added = KnowledgeTextResponse.parse(
      (await api('POST', 'knowledge/text/', { title: 'Parking', content: 'Parking: free parking behind the store' })).body,
    );
    expect(await ask('Where can I park?')).toMatch(/free parking behind the store/);
    await api('DELETE', `knowledge/${added.id}/`);
    expect(await ask('Where can I park?')).not.toMatch(/behind the store/);
  });

  it('splits long text into chunks of at most 800 characters and reports the true count', async () => {
    const paragraph = (topic: string) =>
      `${topic} ` + Array.from({ length: 8 }, (_, i) => `Sentence ${i} explains the ${topic.toLowerCase()} policy in more detail.`).join(' ');
    const paragraphs = ['Warranty', 'Repairs', 'Rentals', 'Lessons'].map(paragraph);
    // Each paragraph fits a chunk but no two do, so every paragraph becomes one chunk.
    for (const p of paragraphs) expect(p.length).toBeGreaterThan(400);
    const content = paragraphs.join('\n\n');
    const res = KnowledgeTextResponse.parse((await api('POST', 'knowledge/text/', { title: 'Services', content })).body);
    expect(res.chunks_created).toBe(4);
    // A run-on paragraph without sentence ends is cut at spaces, losing nothing.
    const runOn = paragraphs.join(' ').replace(/\. /g, ', and ');
    const pieces = chunkText(runOn);
    expect(pieces.every((c) => c.length <= 800)).toBe(true);
    expect(pieces.join(' ')).toBe(runOn);
    expect(await ask('Do you offer lessons?')).toMatch(/lessons policy/);
  });
});

describe('spreadsheets', () => {
  const upload = async (handle: EmulatorHandle, file: Blob, name: string, websiteId?: string) => {
    const form = new FormData();
    if (websiteId !== undefined) form.append('website_id', websiteId);
    form.append('file', file, name);
    return call(handle.url, handle.apiKey, 'POST', 'knowledge/spreadsheet/', { body: form });
  };

  it('turns each CSV row into a retrievable piece and truncates at the plan maximum (starter 500)', async () => {
    const rows = Array.from({ length: 510 }, (_, i) => `SKU-${i},Widget ${i},${10 + i}.00`);
    const csv = `sku,name,price\n${rows.join('\n')}\nSKU-X,"Trail Lantern, solar",49.00\n`;
    const res = await upload(emu, new Blob([csv], { type: 'text/csv' }), 'products.csv');
    const body = KnowledgeSpreadsheetResponse.parse(res.body);
    expect(body).toMatchObject({ title: 'products.csv', rows_processed: 500, chunks_created: 500 });
    expect(await ask('How much is Widget 42?')).toMatch(/price: 52\.00/);
    // Row 511 was truncated, so the lantern is unknown.
    expect(await ask('Do you sell a solar lantern?')).not.toMatch(/Lantern/);
    const { entries } = KnowledgeListResponse.parse((await api('GET', 'knowledge/')).body);
    expect(entries[0]).toMatchObject({ id: body.id, type: 'spreadsheet', title: 'products.csv' });
  });

  it('reads a real XLSX built with exceljs, with website_id', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Menu');
    sheet.addRow(['Item', 'Price', 'Notes']);
    sheet.addRow(['Cardamom bun', 3.5, 'Baked every morning']);
    sheet.addRow([]);
    sheet.addRow(['Cold brew', 4.25, 'Steeped for 18 hours']);
    for (let i = 0; i < 600; i++) sheet.addRow([`Cookie ${i}`, 2, 'Plain']);
    const data = await workbook.xlsx.writeBuffer();
    const res = await upload(emu, new Blob([data]), 'menu.xlsx', '2');
    const body = KnowledgeSpreadsheetResponse.parse(res.body);
    expect(body).toMatchObject({ title: 'menu.xlsx', rows_processed: 500, chunks_created: 500 });
    expect(await ask('How much is the cold brew?', 2)).toMatch(/Price: 4\.25/);
    expect(await ask('How much is the cold brew?', 1)).not.toMatch(/4\.25/);
  });

  it('refuses other file types, a missing file and a non-multipart body with 400', async () => {
    const pdf = await upload(emu, new Blob(['%PDF-1.4']), 'doc.pdf');
    expect(pdf.status).toBe(400);
    expect(ErrorBody.parse(pdf.body).error).toMatch(/\.csv or \.xlsx/);
    const junk = await upload(emu, new Blob(['not a zip']), 'fake.xlsx');
    expect(junk.status).toBe(400);
    const form = new FormData();
    form.append('website_id', '1');
    expect((await call(emu.url, emu.apiKey, 'POST', 'knowledge/spreadsheet/', { body: form })).status).toBe(400);
    expect((await api('POST', 'knowledge/spreadsheet/', { file: 'products.csv' })).status).toBe(400);
  });
});

describe('daily upload allowance (starter: 100,000 characters, shared by all upload kinds)', () => {
  it('answers 429 once an upload would exceed it and stores nothing', async () => {
    const handle = await startEmulator({ seed: false });
    try {
      const text = (n: number) => 'All about tents and more. '.repeat(n).slice(0, n);
      const first = await call(handle.url, handle.apiKey, 'POST', 'knowledge/text/', { body: { title: 'A', content: text(60_000) } });
      expect(first.status).toBe(200);
      const second = await call(handle.url, handle.apiKey, 'POST', 'knowledge/text/', { body: { title: 'B', content: text(60_000) } });
      expect(second.status).toBe(429);
      expect(ErrorBody.parse(second.body).error).toMatch(/Daily upload limit/);
      const form = new FormData();
      form.append('file', new Blob([`q,a\n${'x'.repeat(39_000)},y\n`]), 'big.csv');
      expect((await call(handle.url, handle.apiKey, 'POST', 'knowledge/spreadsheet/', { body: form })).status).toBe(200);
      const form2 = new FormData();
      form2.append('file', new Blob([`q,a\n${'x'.repeat(2_000)},y\n`]), 'more.csv');
      expect((await call(handle.url, handle.apiKey, 'POST', 'knowledge/spreadsheet/', { body: form2 })).status).toBe(429);
      const list = KnowledgeListResponse.parse((await call(handle.url, handle.apiKey, 'GET', 'knowledge/')).body);
      expect(list.entries.map((e) => e.title)).toEqual(['big.csv', 'A']);
    } finally {
      await handle.close();
    }
  });
});

describe('URL ingestion', () => {
  it('fetches a page, keeps its readable text and uses <title> as title', async () => {
    const res = await api('POST', 'knowledge/url/', { url: `${site.url}/visit` });
    const body = KnowledgeUrlResponse.parse(res.body);
    expect(body).toMatchObject({ title: 'Visiting & Parking', url: `${site.url}/visit`, chunks_created: 1 });
    const answer = await ask('Where do I park my car?');
    expect(answer).toMatch(/free parking behind the store/);
    expect(answer).not.toMatch(/tracking|color/);
    const { entries } = KnowledgeListResponse.parse((await api('GET', 'knowledge/')).body);
    expect(entries[0]).toMatchObject({ id: body.id, type: 'url', title: 'Visiting & Parking' });
  });

  it('follows redirects, accepts plain text with the URL as title', async () => {
    expect(KnowledgeUrlResponse.parse((await api('POST', 'knowledge/url/', { url: `${site.url}/moved` })).body).title).toBe(
      'Visiting & Parking',
    );
    const txt = KnowledgeUrlResponse.parse((await api('POST', 'knowledge/url/', { url: `${site.url}/notes.txt` })).body);
    expect(txt.title).toBe(`${site.url}/notes.txt`);
  });

  it('answers 400 for a failing page, an unsupported type, a bad scheme or a missing url', async () => {
    for (const body of [{ url: `${site.url}/missing` }, { url: `${site.url}/image` }, { url: 'ftp://example.com/x' }, { url: 'not a url' }, {}]) {
      const res = await api('POST', 'knowledge/url/', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      ErrorBody.parse(res.body);
    }
  });

  it('refuses loopback and private addresses without allowPrivateUrls', async () => {
    for (const url of [`${site.url}/visit`, 'http://localhost:1/', 'http://[::1]/', 'http://10.0.0.8/', 'http://169.254.169.254/latest']) {
      const res = await call(strict.url, strict.apiKey, 'POST', 'knowledge/url/', { body: { url } });
      expect(res.status, url).toBe(400);
      expect(ErrorBody.parse(res.body).error).toMatch(/private or loopback/);
    }
    expect(site.received.filter((r) => r.url === '/visit')).toHaveLength(2);
  });

  it('refuses names that resolve to private addresses at connection time', async () => {
    const agent = outboundAgent(false);
    const port = new URL(site.url).port;
    await expect(request(`http://localhost:${port}/visit`, { dispatcher: agent })).rejects.toThrow(/private address/);
    await agent.close();
  });
});
