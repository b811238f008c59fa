/**
 * Fuzzing every emulator route over real HTTP: JSON bodies of random shapes under random content
 * types, random query strings, multipart bodies cut at random places, spreadsheets with random
 * bytes flipped, and raw requests with random methods, paths and headers. Never a 500, never a
 * hang past the request timeout, nothing logged as an internal failure, and the emulator still
 * answers afterwards. URLs in bodies are hostile or invalid only, so nothing leaves the machine.
 */
import ExcelJS from 'exceljs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { fuzzParameters, fuzzRuns, fuzzTimeout, rawExchange } from './fuzz-support.js';

const RUNS = fuzzRuns(100);
const REQUEST_TIMEOUT_MS = 10_000;

/** Lines the emulator logged at error level (an internal failure). */
const errors: string[] = [];
let emu: EmulatorHandle;
let port: number;
let xlsx: Buffer;

beforeAll(async () => {
  emu = await startEmulator({
    plan: 'pro',
    logger: createLogger({ level: 'error', destination: { write: (line: string) => errors.push(line) } }),
  });
  port = Number(new URL(emu.url).port);
  const book = new ExcelJS.Workbook();
  const sheet = book.addWorksheet('Products');
  sheet.addRow(['Product', 'Price', 'Notes']);
  for (let i = 1; i <= 20; i++) sheet.addRow([`Lamp ${i}`, i * 3.5, { text: `see ${i}`, hyperlink: `https://shop.example/${i}` }]);
  xlsx = Buffer.from(await book.xlsx.writeBuffer());
});
afterAll(async () => {
  await emu.close();
});

/** Every documented route, with an id where the path takes one. */
const ROUTES: ReadonlyArray<readonly [method: string, path: string]> = [
  ['POST', 'chat/'],
  ['GET', 'websites/'],
  ['GET', 'conversations/'],
  ['GET', 'sessions/'],
  ['GET', 'leads/'],
  ['GET', 'account/'],
  ['GET', 'knowledge/'],
  ['POST', 'knowledge/text/'],
  ['POST', 'knowledge/url/'],
  ['POST', 'knowledge/spreadsheet/'],
  ['DELETE', 'knowledge/some-id/'],
  ['GET', 'webhooks/'],
  ['POST', 'webhooks/'],
  ['DELETE', 'webhooks/some-id/'],
];

/** URLs that must all be refused before any fetch; none reaches outside the machine. */
const HOSTILE_URLS = [
  'http://127.0.0.1/',
  'https://[::1]/',
  'http://[::127.0.0.1]/',
  'https://[::ffff:0:7f00:1]/',
  'https://[64:ff9b::a00:1]/',
  'https://[2002:c0a8:101::]/',
  'https://[fec0::2]/',
  'http://localhost:8080/x',
  'https://10.1.2.3/',
  'ftp://example.com/',
  'javascript:alert(1)',
  'http://user:pw@example.com/',
];
const notAUrl = fc.string({ maxLength: 40 }).filter((s) => !/https?:/i.test(s));

/** A field value of any JSON type; `url` fields stay hostile. */
const jsonValue = fc.jsonValue({ maxDepth: 3 });
const fieldValue = (name: string): fc.Arbitrary<unknown> =>
  name === 'url' ? fc.oneof(fc.constantFrom(...HOSTILE_URLS), notAUrl, jsonValue) : fc.oneof(jsonValue, fc.string({ maxLength: 300 }), fc.integer());
const FIELDS = ['message', 'session_id', 'website_id', 'title', 'content', 'url', 'events', 'limit', 'source'];
const jsonBody = fc
  .array(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 10 })), { maxLength: 6 })
  .chain((names) => fc.tuple(...names.map((n) => fieldValue(n).map((v) => [n, v] as const))))
  .map((pairs) => Object.fromEntries(pairs));

/** The body as sent: JSON of that object, or of any JSON value, or any text, or nothing. */
const bodyText = fc.oneof(
  jsonBody.map((o) => JSON.stringify(o)),
  jsonValue.map((v) => JSON.stringify(v)),
  jsonBody.map((o) => new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString()),
  fc.string({ maxLength: 200 }),
  fc.constant(''),
);
const contentType = fc.option(
  fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=zz', 'multipart/form-data', 'application/json; charset=latin1'),
  { nil: undefined },
);
const queryString = fc
  .array(fc.tuple(fc.constantFrom('limit', 'website_id', 'session_id', 'source', 'x'), fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String))), { maxLength: 4 })
  .map((pairs) => new URLSearchParams(pairs).toString());

interface Answer {
  status: number;
  body: unknown;
}

async function send(method: string, path: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<Answer> {
  const res = await fetch(new URL(path, emu.url), {
    method,
    headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // kept as text: the assertion below shows it
  }
  return { status: res.status, body: parsed };
}

/** Not a 500; every answer is the documented JSON (an error body when not 2xx). */
function expectHandled(answer: Answer): void {
  expect(answer.status, JSON.stringify(answer.body)).not.toBe(500);
  expect(answer.status === 503 || answer.status < 500, JSON.stringify(answer.body)).toBe(true);
  if (answer.status >= 400) expect(answer.body).toMatchObject({ success: false, error: expect.any(String) as unknown });
}

async function expectAlive(): Promise<void> {
  expect((await send('GET', 'account/', { authorization: `Bearer ${emu.apiKey}` })).status).toBe(200);
  expect(errors).toEqual([]);
}

/** A multipart body carrying `file` (and a website_id field). */
function multipart(boundary: string, filename: string, file: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="website_id"\r\n\r\n1\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

describe('emulator routes under fuzzing', () => {
  it(
    'random JSON shapes, content types and query strings on every route',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...ROUTES), bodyText, contentType, queryString, fc.boolean(), async ([method, path], body, type, query, withKey) => {
          const headers: Record<string, string> = {};
          if (withKey) headers['authorization'] = `Bearer ${emu.apiKey}`;
          if (type !== undefined) headers['content-type'] = type;
          expectHandled(await send(method, query === '' ? path : `${path}?${query}`, headers, body));
        }),
        fuzzParameters(RUNS),
      );
      await expectAlive();
    },
    fuzzTimeout(RUNS, 60),
  );

  it(
    'multipart uploads cut at random places, with random boundaries and file names',
    async () => {
      const csv = Buffer.from('Product,Price\nLamp,12\nDesk,80\n');
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('a.csv', 'b.xlsx', 'c.txt', 'noext'),
          // Ten-thousandths of the body (fc.double would mostly give 0 and other edge values).
          fc.integer({ min: 0, max: 10_000 }),
          fc.constantFrom('zz', 'X'.repeat(70), 'a b', '--', ''),
          fc.boolean(),
          async (filename, cut, boundary, declareSameBoundary) => {
            const file = filename.endsWith('.csv') ? csv : xlsx;
            const full = multipart(boundary === '' ? 'q' : boundary, filename, file);
            const body = full.subarray(0, Math.floor((full.length * cut) / 10_000));
            const type = `multipart/form-data; boundary=${declareSameBoundary ? boundary : 'other'}`;
            expectHandled(await send('POST', 'knowledge/spreadsheet/', { authorization: `Bearer ${emu.apiKey}`, 'content-type': type }, body));
          },
        ),
        fuzzParameters(RUNS),
      );
      await expectAlive();
    },
    fuzzTimeout(RUNS, 150),
  );

  it(
    'spreadsheets with random bytes overwritten',
    async () => {
      const csv = Buffer.from('Product,Price,Notes\n"Lamp, large",12,"say ""hi"""\nDesk,80,\n');
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('s.xlsx', 's.csv'),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
          async (filename, edits) => {
            const file = Buffer.from(filename === 's.csv' ? csv : xlsx);
            for (const [where, byte] of edits) file[where % file.length] = byte;
            expectHandled(await send('POST', 'knowledge/spreadsheet/', { authorization: `Bearer ${emu.apiKey}`, 'content-type': 'multipart/form-data; boundary=zz' }, multipart('zz', filename, file)));
          },
        ),
        fuzzParameters(RUNS),
      );
      await expectAlive();
    },
    fuzzTimeout(RUNS, 150),
  );

  it(
    'raw requests: random methods, paths and headers',
    async () => {
      const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}$/);
      const path = fc.oneof(
        fc.constantFrom(...ROUTES.map(([, p]) => `/api/v1/${p}`), '/', '//%%', 'http://[', '/api/v1/knowledge/%E0%A4%A/', '/api/v1', '/_emulator/', '*'),
        fc.stringMatching(/^\/(api\/v1\/)?[\w%./~:@!$&'()*+,;=-]{0,40}$/),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'HEAD', 'OPTIONS'), token),
          path,
          fc.array(fc.tuple(token, fc.stringMatching(/^[\x20-\x7e]{0,40}$/)), { maxLength: 5 }),
          fc.constantFrom('', `Authorization: Bearer ${emu.apiKey}\r\n`, `X-API-Key: ${emu.apiKey}\r\n`, 'Authorization: Bearer nope\r\n'),
          fc.string({ maxLength: 100 }),
          async (method, target, extra, auth, body) => {
            const lines = extra.filter(([name]) => !/^(content-length|transfer-encoding|host)$/i.test(name)).map(([n, v]) => `${n}: ${v}\r\n`);
            const payload = Buffer.from(body, 'utf8');
            const head = `${method} ${target} HTTP/1.1\r\nHost: fuzz\r\n${auth}${lines.join('')}Content-Length: ${payload.length}\r\nConnection: close\r\n\r\n`;
            const answer = await rawExchange(port, Buffer.concat([Buffer.from(head, 'latin1'), payload]), REQUEST_TIMEOUT_MS);
            expect(answer.status, answer.text.slice(0, 300)).toBeGreaterThanOrEqual(200);
            expect(answer.status === 503 || answer.status < 500, answer.text.slice(0, 300)).toBe(true);
          },
        ),
        fuzzParameters(RUNS),
      );
      await expectAlive();
    },
    fuzzTimeout(RUNS, 60),
  );
});
