import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpServer, readBody } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';

describe('HttpServer', () => {
  const server = new HttpServer(createLogger({ level: 'silent' }));
  let base: string;
  let telegramUp = false;

  beforeAll(async () => {
    server.addHealthCheck({ name: 'telegram', healthy: () => telegramUp });
    server.mount('POST', '/echo', async (req, res) => {
      const body = await readBody(req, 16);
      res.writeHead(200).end(body);
    });
    server.mount('GET', '/boom', () => {
      throw new Error('handler bug');
    });
    base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
  });

  afterAll(() => server.close());

  const get = async (path: string) => {
    const res = await request(base + path);
    return { status: res.statusCode, body: await res.body.text() };
  };

  it('/healthz is 503 until every part is up, then 200, naming each part', async () => {
    expect(await get('/healthz')).toEqual({ status: 503, body: '{"ok":false,"parts":{"telegram":{"ok":false}}}' });
    telegramUp = true;
    expect(await get('/healthz')).toEqual({ status: 200, body: '{"ok":true,"parts":{"telegram":{"ok":true}}}' });
  });

  it('routes by method and path, ignoring the query string', async () => {
    const res = await request(`${base}/echo?x=1`, { method: 'POST', body: 'hello' });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('hello');
    expect((await get('/echo')).status).toBe(404);
    expect((await get('/nowhere')).status).toBe(404);
  });

  it('a throwing handler is a 500, and the server keeps serving', async () => {
    expect((await get('/boom')).status).toBe(500);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('an oversized body is refused with 413', async () => {
    const res = await request(`${base}/echo`, { method: 'POST', body: 'x'.repeat(100) });
    expect(res.statusCode).toBe(413);
    await res.body.dump();
  });
});
