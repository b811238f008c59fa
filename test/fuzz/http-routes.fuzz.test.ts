/**
 * Fuzzing the bridge's HTTP server (src/http/server.ts) over raw TCP: random methods, paths,
 * query strings, headers and bodies, huge and cut bodies. Never a 500, never a hang, never an
 * error logged for a client's own mistake, and /healthz still answers afterwards.
 */
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpServer, MAX_BODY_BYTES, readBody } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { fuzzParameters, fuzzRuns, fuzzTimeout, rawExchange } from './fuzz-support.js';

const RUNS = fuzzRuns(150);
/** Lines the server logged at error level or above. */
const errors: string[] = [];
const server = new HttpServer(
  createLogger({
    level: 'error',
    destination: { write: (line: string) => errors.push(line) },
  }),
);
let port: number;

beforeAll(async () => {
  server.addHealthCheck({ name: 'fuzz', healthy: () => true });
  server.mount('POST', '/echo', async (req, res) => {
    const body = await readBody(req);
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  server.mount('POST', '/small', async (req, res) => {
    const body = await readBody(req, 1024);
    res.writeHead(200).end(String(body.length));
  });
  server.mount('GET', '/status', (_req, res) => {
    res.writeHead(200).end('ok');
  });
  port = await server.listen(0, '127.0.0.1');
});
afterAll(() => server.close());

async function expectHealthy(): Promise<void> {
  const res = await request(`http://127.0.0.1:${port}/healthz`);
  expect(res.statusCode).toBe(200);
  await res.body.dump();
}

const TOKEN = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const method = fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'), TOKEN);
const path = fc.oneof(
  fc.constantFrom('/healthz', '/echo', '/small', '/status', '/', '//%%', '/%', '/..%2f..', 'http://[', '*', '/healthz/'),
  fc.stringMatching(/^\/[\w%./~:@!$&'()*+,;=-]{0,40}$/),
);
const query = fc.option(fc.stringMatching(/^[\w%=&+.~-]{0,30}$/), { nil: undefined });
/** Header lines a client could send, including duplicate and odd but legal ones. */
const headers = fc.array(
  fc.tuple(
    fc.oneof(TOKEN, fc.constantFrom('Content-Type', 'Transfer-Encoding', 'Expect', 'Connection', 'Host', 'Authorization')),
    fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
  ),
  { maxLength: 6 },
);
const body = fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)));

/** One request as bytes; the body goes with a correct Content-Length unless `framing` says chunked. */
function requestBytes(m: string, target: string, extra: Array<[string, string]>, payload: Buffer, chunked: boolean): Buffer {
  const lines = [`${m} ${target} HTTP/1.1`, 'Host: fuzz'];
  // Framing headers are ours to set: a random one would only make the request ambiguous (a 400).
  for (const [name, value] of extra) if (!/^(content-length|transfer-encoding|host)$/i.test(name)) lines.push(`${name}: ${value}`);
  if (chunked) lines.push('Transfer-Encoding: chunked');
  else lines.push(`Content-Length: ${payload.length}`);
  lines.push('Connection: close', '', '');
  const framed = chunked && payload.length > 0 ? Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from('\r\n0\r\n\r\n')]) : chunked ? Buffer.from('0\r\n\r\n') : payload;
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), framed]);
}

describe('bridge HTTP server under fuzzing', () => {
  it(
    'random methods, paths, queries, headers and bodies: a 2xx/4xx/503 answer, never a 500',
    async () => {
      await fc.assert(
        fc.asyncProperty(method, path, query, headers, body, fc.boolean(), async (m, p, q, h, payload, chunked) => {
          const target = q === undefined ? p : `${p}?${q}`;
          const answer = await rawExchange(port, requestBytes(m, target, h, payload, chunked));
          expect(answer.status, answer.text.slice(0, 200)).toBeGreaterThanOrEqual(200);
          expect(answer.status).not.toBe(500);
          expect(answer.status === 503 || answer.status < 500).toBe(true);
        }),
        fuzzParameters(RUNS),
      );
      await expectHealthy();
      expect(errors).toEqual([]);
    },
    fuzzTimeout(RUNS, 30),
  );

  it(
    'a declared body over the limit is a 413 before it is sent, whatever the route reads',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('/echo', '/small'), fc.integer({ min: MAX_BODY_BYTES + 1, max: 2 ** 40 }), fc.nat(4096), async (route, declared, sent) => {
          const head = `POST ${route} HTTP/1.1\r\nHost: fuzz\r\nContent-Length: ${declared}\r\n\r\n`;
          // Only a little of the body is sent: the answer must not wait for the rest.
          const answer = await rawExchange(port, Buffer.concat([Buffer.from(head), Buffer.alloc(sent, 0x61)]));
          expect(answer.status, answer.text.slice(0, 200)).toBe(413);
          expect(answer.text).toContain('request body too large');
        }),
        fuzzParameters(Math.ceil(RUNS / 3)),
      );
      await expectHealthy();
    },
    fuzzTimeout(RUNS, 10),
  );

  it(
    'a body over the limit sent in full is answered 413, and the client reads it',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 256 * 1024 }), async (over) => {
          const res = await request(`http://127.0.0.1:${port}/echo`, { method: 'POST', body: Buffer.alloc(MAX_BODY_BYTES + over, 0x62) });
          expect(res.statusCode).toBe(413);
          expect(await res.body.text()).toContain('request body too large');
        }),
        fuzzParameters(Math.max(5, Math.ceil(RUNS / 30))),
      );
      await expectHealthy();
    },
    fuzzTimeout(RUNS, 20),
  );

  it(
    'a client that hangs up mid-body is not logged as a server error',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('/echo', '/small'), fc.integer({ min: 10, max: 1000 }), fc.nat(9), async (route, declared, sent) => {
          const head = `POST ${route} HTTP/1.1\r\nHost: fuzz\r\nContent-Length: ${declared}\r\n\r\n`;
          const answer = await rawExchange(port, Buffer.concat([Buffer.from(head), Buffer.alloc(sent, 0x63)]));
          expect(answer.status).not.toBe(500);
        }),
        fuzzParameters(Math.ceil(RUNS / 3)),
      );
      await expectHealthy();
      expect(errors).toEqual([]);
    },
    fuzzTimeout(RUNS, 10),
  );
});
