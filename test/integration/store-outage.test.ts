/**
 * The store going away under a running bridge, with a redis-server of the test's own: frozen (no
 * answers) and killed (connection refused), then back. Users get the try-again words within
 * STORE_TIMEOUT_MS instead of silence, /healthz turns 503 and back, the bridge answers again
 * without a restart, and nothing answered before the outage is answered twice.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { connectRedis, type RedisConnection } from '../../src/core/redis-connection.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { RedisThreadOrder } from '../../src/core/thread-order.js';
import { MESSAGES } from '../../src/core/user-messages.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { storeHealthCheck } from '../../src/http/health.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { incoming, recordingReply } from '../fakes/recording-reply.js';
import { RedisProcess } from './redis-process.js';

const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });
const TIMEOUT_MS = 300;
let redis: RedisProcess;
let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;
let coordination: RedisConnection;
let order: RedisThreadOrder;
let http: HttpServer;
let bridge: Bridge;
let base: string;

beforeAll(async () => {
  redis = await RedisProcess.start();
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
  store = await openStore(redis.url, { timeoutMs: TIMEOUT_MS });
  coordination = await connectRedis(redis.url);
  order = new RedisThreadOrder(coordination, { timeoutMs: TIMEOUT_MS });
  bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger, threadOrder: order, userRateLimit: 0 });
  http = new HttpServer(logger);
  http.addHealthCheck(storeHealthCheck(store, { maxAgeMs: 0, timeoutMs: TIMEOUT_MS }));
  base = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
});

afterAll(async () => {
  await http.close();
  order.close();
  if (coordination.isOpen) await coordination.close().catch(() => undefined);
  await store.close().catch(() => undefined);
  await client.close();
  await emulator.close();
  await redis.stop();
});

async function health(): Promise<{ status: number; body: { ok: boolean; parts: Record<string, { ok: boolean; detail?: string }> } }> {
  const res = await request(`${base}/healthz`);
  return { status: res.statusCode, body: (await res.body.json()) as never };
}

/** Handles `event` and returns what the user read. */
async function ask(event: ReturnType<typeof incoming>): Promise<string[]> {
  const reply = recordingReply();
  await bridge.handle(event, reply);
  return reply.texts.map((t) => t.text);
}

describe('store outage', () => {
  const before = incoming('What are your business hours?', { threadKey: 'shell:outage' });

  it('answers, and reports the store up', async () => {
    expect(await ask(before)).toEqual([expect.stringMatching(/\S/)]);
    expect((await ask(before))).toEqual([]); // a redelivery is a duplicate
    expect(await health()).toMatchObject({ status: 200, body: { ok: true, parts: { store: { ok: true } } } });
  });

  const duringFreeze = incoming('Do you ship abroad?', { threadKey: 'shell:outage' });

  it('frozen Redis: the user is told to try again, and /healthz is 503 with the reason', async () => {
    redis.freeze();
    expect(await ask(duringFreeze)).toEqual([MESSAGES.storeUnavailable]);
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body.parts.store?.ok).toBe(false);
    expect(down.body.parts.store?.detail).toMatch(/no answer within/);
  });

  it('thawed: healthy again, the refused message is answered on redelivery, the earlier one not twice', async () => {
    redis.thaw();
    await expect.poll(async () => (await health()).status, { timeout: 10_000, interval: 100 }).toBe(200);
    const answer = await ask(duringFreeze);
    expect(answer).toHaveLength(1);
    expect(answer[0]).not.toBe(MESSAGES.storeUnavailable);
    expect(await ask(before)).toEqual([]);
  });

  it('a claim that timed out but lands once Redis wakes up is undone, so a redelivery is not taken for a duplicate', async () => {
    redis.freeze();
    await expect(store.setIfNotExists('dedupe:shell:late', 'working', 60_000)).rejects.toThrow(/no answer within/);
    redis.thaw();
    // Queued behind the late write on the same connection: once this answers, the write has landed.
    await store.get('health:probe');
    await expect.poll(() => store.get('dedupe:shell:late'), { timeout: 5_000 }).toBeUndefined();
  });

  const duringStop = incoming('What is your returns policy?', { threadKey: 'shell:outage' });

  it('stopped Redis: refused at once (no offline queue), /healthz is 503', async () => {
    await redis.stop();
    expect(await ask(duringStop)).toEqual([MESSAGES.storeUnavailable]);
    expect((await health()).status).toBe(503);
  });

  it('started again: the bridge reconnects by itself and answers', async () => {
    await redis.startAgain();
    await expect.poll(async () => (await health()).status, { timeout: 15_000, interval: 200 }).toBe(200);
    // The coordination connection reconnects on its own schedule: wait for the first answer.
    await expect.poll(async () => (await ask(duringStop))[0], { timeout: 15_000, interval: 200 }).not.toBe(MESSAGES.storeUnavailable);
  });
});
