/**
 * The /healthz and /metrics pieces on a real HTTP server: the store check's cache, a draining
 * server, metrics kept per registry, and METRICS=false leaving no route.
 */
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { storeHealthCheck } from '../../src/http/health.js';
import { BridgeMetrics } from '../../src/http/metrics.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { Operations } from '../../src/operations.js';

const logger = createLogger({ level: 'silent' });
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function serve(http: HttpServer): Promise<string> {
  closers.push(() => http.close());
  return `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
}

async function memoryStore(): Promise<StateStore> {
  const store = await openStore('memory://');
  closers.push(() => store.close());
  return store;
}

describe('store health check', () => {
  it('reuses a fresh result, and probes again once it is older than maxAge', async () => {
    const store = await memoryStore();
    let reads = 0;
    const counting: StateStore = { ...store, get: (key) => (reads++, store.get(key)) };
    const check = storeHealthCheck(counting, { maxAgeMs: 60_000 });
    await Promise.all([check.healthy(), check.healthy(), check.healthy()]);
    expect(reads).toBe(1);
    const uncached = storeHealthCheck(counting, { maxAgeMs: 0 });
    await uncached.healthy();
    await uncached.healthy();
    expect(reads).toBe(3);
  });

  it('is down with the reason when the store fails, and up again when it answers', async () => {
    const store = await memoryStore();
    let failing = true;
    const flaky: StateStore = { ...store, get: (key) => (failing ? Promise.reject(new Error('connection refused')) : store.get(key)) };
    const check = storeHealthCheck(flaky, { maxAgeMs: 0 });
    expect(await check.healthy()).toEqual({ ok: false, detail: 'connection refused' });
    failing = false;
    expect(await check.healthy()).toMatchObject({ ok: true });
  });
});

describe('draining', () => {
  it('answers POST routes and /healthz with 503, and GET routes as before', async () => {
    const http = new HttpServer(logger);
    http.addHealthCheck({ name: 'part', healthy: () => true });
    http.mount('POST', '/hook', (_req, res) => void res.writeHead(200).end());
    http.mount('GET', '/page', (_req, res) => void res.writeHead(200).end());
    const base = await serve(http);
    expect((await request(`${base}/hook`, { method: 'POST', body: '{}' })).statusCode).toBe(200);
    http.drain();
    const refused = await request(`${base}/hook`, { method: 'POST', body: '{}' });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    await refused.body.dump();
    const health = await request(`${base}/healthz`);
    expect(health.statusCode).toBe(503);
    expect(await health.body.json()).toEqual({ ok: false, draining: true, parts: { part: { ok: true } } });
    const page = await request(`${base}/page`);
    expect(page.statusCode).toBe(200);
    await page.body.dump();
  });
});

describe('metrics', () => {
  it('keeps counts per registry', async () => {
    const [a, b] = [new BridgeMetrics(new Registry(), () => 0), new BridgeMetrics(new Registry(), () => 7)];
    a.messageReceived('slack');
    a.messageReceived('slack');
    b.messageReceived('discord');
    a.asyntaiResponse({ method: 'DELETE', path: 'knowledge/abc123/', durationMs: 12, errorKind: 'not_found' });
    const http = new HttpServer(logger);
    a.mount(http);
    const text = await (await request(`${await serve(http)}/metrics`)).body.text();
    expect(text).toMatch(/^bridge_messages_received_total\{platform="slack"\} 2$/m);
    expect(text).not.toMatch(/platform="discord"/);
    expect(text).toMatch(/^bridge_asyntai_request_duration_seconds_count\{endpoint="DELETE knowledge\/\{id\}\/"\} 1$/m);
    expect(text).toMatch(/^bridge_asyntai_errors_total\{kind="not_found"\} 1$/m);
    expect(text).toMatch(/^bridge_queue_pending 0$/m);
  });

  it('METRICS=false: no /metrics route', async () => {
    const store = await memoryStore();
    const config = { storeUrl: 'memory://', storeTimeoutMs: 1_000, userRateLimit: 0, metrics: false, usageCheckMs: 0, teamChannel: undefined };
    const ops = await Operations.start(config, store, logger);
    closers.push(() => ops.close());
    const http = new HttpServer(logger);
    ops.attach({ http, bridge: { pending: 0 }, adapters: [], started: () => true, client: { account: () => Promise.reject(new Error('not used')) } });
    const base = await serve(http);
    const res = await request(`${base}/metrics`);
    expect(res.statusCode).toBe(404);
    await res.body.dump();
    expect(ops.metrics).toBeUndefined();
  });
});
