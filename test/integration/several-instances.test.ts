/**
 * Two Bridge instances on one real Redis (REDIS_URL), as behind a load balancer: every event
 * answered exactly once when both receive it, a burst of one thread's messages spread over both
 * answered in order, a ticket whose instance died skipped once its lease expires, and the per-user
 * limit shared.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { connectRedis } from '../../src/core/redis-connection.js';
import { RedisRateLimiter } from '../../src/core/redis-rate-limiter.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore } from '../../src/core/state-store.js';
import { RedisThreadOrder } from '../../src/core/thread-order.js';
import type { Reply } from '../../src/core/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { incoming } from '../fakes/recording-reply.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('REDIS_URL unset: the several-instances tests (thread order and limits across instances) are skipped');

const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });
let emulator: EmulatorHandle;
let client: AsyntaiClient;
const closers: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
});

afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

afterAll(async () => {
  await client.close();
  await emulator.close();
});

/** One instance: its own store connection, coordination connection and core, in `namespace`. */
async function instance(namespace: string, options: { leaseMs?: number; userRateLimit?: number } = {}) {
  const store = await openStore(redisUrl!, { namespace });
  const redis = await connectRedis(redisUrl!);
  const order = new RedisThreadOrder(redis, { namespace, ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}) });
  closers.push(() => store.close(), () => redis.close(), () => order.close());
  const bridge = new Bridge({
    client,
    store,
    sessions: new SessionMap(store),
    logger,
    threadOrder: order,
    limiter: new RedisRateLimiter(redis, options.userRateLimit ?? 0, { namespace }),
  });
  return { bridge, redis, order };
}

/** A reply that appends `label: text` to a shared log, after `delayMs` (a slow platform call). */
function loggingReply(log: string[], label: string, delayMs = 0): Reply {
  return {
    async text(text) {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      log.push(`${label}: ${text}`);
    },
  };
}

describe.skipIf(!redisUrl)('two instances on one Redis', () => {
  it('answers an event delivered to both exactly once', async () => {
    const namespace = `test-${randomUUID()}`;
    const [a, b] = [await instance(namespace), await instance(namespace)];
    const log: string[] = [];
    const events = Array.from({ length: 6 }, (_, i) => incoming(`What are your business hours? (${i})`, { threadKey: `shell:t${i % 2}` }));
    await Promise.all(events.flatMap((event, i) => [a.bridge.handle(event, loggingReply(log, `a${i}`)), b.bridge.handle(event, loggingReply(log, `b${i}`))]));
    expect(log).toHaveLength(events.length);
    for (let i = 0; i < events.length; i++) expect(log.filter((line) => line.startsWith(`a${i}:`) || line.startsWith(`b${i}:`))).toHaveLength(1);
  });

  it("answers a burst of one thread's messages spread over both instances in order", async () => {
    const namespace = `test-${randomUUID()}`;
    const [a, b] = [await instance(namespace), await instance(namespace)];
    const log: string[] = [];
    const count = 8;
    // Earlier messages take longer to post: without a shared order, later ones would overtake them.
    const handled: Array<Promise<void>> = [];
    for (let i = 0; i < count; i++) {
      const target = i % 2 === 0 ? a : b;
      handled.push(target.bridge.handle(incoming(`/help`, { threadKey: 'shell:burst' }), loggingReply(log, `m${i}`, (count - i) * 15)));
      // The platform sends the next message once this one is acknowledged, which adapters do after
      // `handle` issued the ticket; a PING behind it on the same connection marks that moment.
      await target.redis.ping();
    }
    await Promise.all(handled);
    expect(log.map((line) => line.split(':')[0])).toEqual(Array.from({ length: count }, (_, i) => `m${i}`));
  });

  it("moves past a ticket whose instance died, once the ticket's lease expires", async () => {
    const namespace = `test-${randomUUID()}`;
    const dying = await instance(namespace, { leaseMs: 300 });
    const survivor = await instance(namespace, { leaseMs: 300 });
    // The dying instance takes its place in the line and never runs it (crashed mid-answer).
    const lost = dying.order.ticket('shell:crash');
    void lost;
    dying.order.close(); // no more lease renewals, as after a crash
    const log: string[] = [];
    await survivor.bridge.handle(incoming('/help', { threadKey: 'shell:crash' }), loggingReply(log, 'next'));
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^next: /);
  });

  it('shares the per-user limit across instances', async () => {
    const namespace = `test-${randomUUID()}`;
    const a = await instance(namespace, { userRateLimit: 2 });
    const b = await instance(namespace, { userRateLimit: 2 });
    const log: string[] = [];
    const sender = { id: `u-${randomUUID()}`, isAdmin: false };
    await a.bridge.handle(incoming('What are your business hours?', { sender, threadKey: 'shell:l1' }), loggingReply(log, '1'));
    await b.bridge.handle(incoming('Do you ship abroad?', { sender, threadKey: 'shell:l2' }), loggingReply(log, '2'));
    await a.bridge.handle(incoming('And returns?', { sender, threadKey: 'shell:l3' }), loggingReply(log, '3'));
    expect(log.slice(0, 2).join('\n')).not.toMatch(/faster than I can answer/);
    expect(log[2]).toMatch(/^3: You're sending messages faster than I can answer/);
  });
});
