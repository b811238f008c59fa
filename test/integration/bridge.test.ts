/**
 * Core flows through the adapter boundary (`Bridge.handle` with a recording Reply) against the
 * emulator over real HTTP and a real store: ordering, concurrency, sessions, limits, errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge, type BridgeOptions } from '../../src/core/bridge.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { incoming, recordingReply } from '../fakes/recording-reply.js';

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let dir: string;
const opened: Array<{ close(): Promise<void> }> = [];
const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  dir = await mkdtemp(join(tmpdir(), 'bridge-test-'));
});

afterEach(async () => {
  emulator.faults.clear();
  while (opened.length > 0) await opened.pop()!.close();
});

afterAll(async () => {
  await client.close();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

async function makeBridge(overrides: Partial<BridgeOptions> & { storeUrl?: string } = {}) {
  const store = await openStore(overrides.storeUrl ?? 'memory://');
  opened.push(store);
  const sessions = new SessionMap(store);
  const bridge = new Bridge({ client, store, sessions, logger, userRateLimit: 0, ...overrides });
  return { bridge, store, sessions };
}

/** A gate a test opens by hand: proves ordering and concurrency without timing. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('answering', () => {
  it('answers a question from the knowledge base, showing typing once the assistant takes a while', async () => {
    const { bridge } = await makeBridge({ typingDelayMs: 100 });
    const reply = recordingReply();
    emulator.faults.setLatency(1_000); // well past the delay, even on a busy machine
    await bridge.handle(incoming('What are your business hours?'), reply);
    expect(reply.texts).toHaveLength(1);
    expect(reply.all).toMatch(/\d/);
    expect(reply.typingCount).toBeGreaterThan(0);
  });

  it('a quick answer comes without typing (no platform call for it)', async () => {
    const { bridge } = await makeBridge({ typingDelayMs: 5_000 });
    const reply = recordingReply();
    await bridge.handle(incoming('What are your business hours?'), reply);
    expect(reply.texts).toHaveLength(1);
    expect(reply.typingCount).toBe(0);
  });

  it('ignores empty and whitespace-only messages', async () => {
    const { bridge } = await makeBridge();
    const reply = recordingReply();
    await bridge.handle(incoming('   \n '), reply);
    expect(reply.texts).toEqual([]);
  });

  it('answers the same event only once', async () => {
    const { bridge } = await makeBridge();
    const reply = recordingReply();
    const event = incoming('What are your business hours?');
    await Promise.all([bridge.handle(event, reply), bridge.handle({ ...event }, reply)]);
    await bridge.handle({ ...event }, reply);
    expect(reply.texts).toHaveLength(1);
  });

  it('answers a redelivery when the first attempt could not be delivered', async () => {
    const { bridge } = await makeBridge();
    const event = incoming('What are your business hours?');
    const failing = recordingReply({ beforeText: () => Promise.reject(new Error('platform down')) });
    await bridge.handle(event, failing);
    const retry = recordingReply();
    await bridge.handle({ ...event }, retry);
    expect(retry.texts).toHaveLength(1);
  });
});

describe('ordering and concurrency', () => {
  it('keeps the order of one thread under concurrency', async () => {
    const { bridge, sessions } = await makeBridge();
    emulator.faults.setLatency(20);
    const reply = recordingReply();
    const thread = { threadKey: 'shell:order' };
    await Promise.all([1, 2, 3, 4, 5].map((n) => bridge.handle(incoming(`question number ${n}`, thread), reply)));
    const sessionId = await sessions.peek('shell:order');
    const history = await client.conversation(sessionId!);
    expect(history.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([1, 2, 3, 4, 5].map((n) => `question number ${n}`));
    expect(reply.texts).toHaveLength(5);
  });

  it('does not hold other threads behind a slow one', async () => {
    const { bridge } = await makeBridge();
    const blocked = gate();
    const slow = recordingReply({ beforeText: () => blocked.opened });
    const slowDone = bridge.handle(incoming('What are your business hours?', { threadKey: 'shell:slow' }), slow);
    const fast = recordingReply();
    // Resolves while the slow thread is still waiting on its platform.
    await bridge.handle(incoming('What are your business hours?', { threadKey: 'shell:fast' }), fast);
    expect(fast.texts).toHaveLength(1);
    expect(slow.texts).toHaveLength(0);
    blocked.open();
    await slowDone;
    expect(slow.texts).toHaveLength(1);
  });

  it('tells the user to wait when a thread has too many pending messages', async () => {
    const { bridge } = await makeBridge({ maxPendingPerThread: 1 });
    const blocked = gate();
    const reply = recordingReply({ beforeText: (t) => (t.includes('still working') ? undefined : blocked.opened) });
    const first = bridge.handle(incoming('one question', { threadKey: 'shell:busy' }), reply);
    const second = bridge.handle(incoming('two question', { threadKey: 'shell:busy' }), reply);
    await bridge.handle(incoming('three question', { threadKey: 'shell:busy' }), reply);
    expect(reply.all).toContain('still working');
    blocked.open();
    await Promise.all([first, second]);
    expect(reply.texts).toHaveLength(3);
  });
});

describe('sessions', () => {
  it('mints one session id for a thread even across two instances on one SQLite file', async () => {
    const storeUrl = `sqlite://${join(dir, 'mint.sqlite')}`;
    // Room for all 50 in each instance's queue: this test is about minting, not the queue bound.
    const a = await makeBridge({ storeUrl, maxPendingPerThread: 50 });
    const b = await makeBridge({ storeUrl, maxPendingPerThread: 50 });
    const thread = { threadKey: 'shell:mint' };
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).bridge.handle(incoming(`hello ${i}`, thread), recordingReply())),
    );
    const id = await a.sessions.peek('shell:mint');
    expect(id).toMatch(/^sh-/);
    expect(await b.sessions.peek('shell:mint')).toBe(id);
    expect(await client.conversation(id!, { limit: 100 })).toHaveLength(100);
  });

  it('keeps the session across a restart and replaces it on /reset', async () => {
    const storeUrl = `sqlite://${join(dir, 'restart.sqlite')}`;
    const first = await makeBridge({ storeUrl });
    await first.bridge.handle(incoming('What are your business hours?', { threadKey: 'shell:restart' }), recordingReply());
    const before = await first.sessions.peek('shell:restart');
    await opened.pop()!.close();

    const second = await makeBridge({ storeUrl });
    expect(await second.sessions.peek('shell:restart')).toBe(before);
    const history = recordingReply();
    await second.bridge.handle(incoming('/history', { threadKey: 'shell:restart' }), history);
    expect(history.all).toContain('What are your business hours?');

    const reset = recordingReply();
    await second.bridge.handle(incoming('/reset', { threadKey: 'shell:restart' }), reset);
    expect(reset.all).toMatch(/new conversation/i);
    const after = await second.sessions.peek('shell:restart');
    expect(after).not.toBe(before);
    expect(await second.sessions.threadOf(after!)).toBe('shell:restart');
    const empty = recordingReply();
    await second.bridge.handle(incoming('/history', { threadKey: 'shell:restart' }), empty);
    expect(empty.all).toMatch(/no conversation/i);
  });
});

describe('limits', () => {
  it('refuses an oversized message without calling the API', async () => {
    const { bridge, sessions } = await makeBridge({ maxMessageChars: 50 });
    const reply = recordingReply();
    await bridge.handle(incoming('x'.repeat(51), { threadKey: 'shell:long' }), reply);
    expect(reply.all).toMatch(/too long/);
    expect(await sessions.peek('shell:long')).toBeUndefined();
  });

  it('rate-limits a noisy user per minute, not other users', async () => {
    const { bridge } = await makeBridge({ userRateLimit: 2 });
    const reply = recordingReply();
    for (let i = 0; i < 3; i++) await bridge.handle(incoming(`hi ${i}`, { sender: { id: 'noisy', isAdmin: false } }), reply);
    expect(reply.texts[2]!.text).toMatch(/wait \d+ second/);
    const other = recordingReply();
    await bridge.handle(incoming('hi', { sender: { id: 'calm', isAdmin: false } }), other);
    expect(other.all).not.toMatch(/wait/);
  });
});

describe('errors in words', () => {
  const ask = async (bridge: Bridge) => {
    const reply = recordingReply();
    await bridge.handle(incoming('What are your business hours?', { threadKey: `shell:err-${Math.random()}` }), reply);
    return reply.all;
  };

  it('monthly limit reached', async () => {
    const { bridge } = await makeBridge();
    emulator.faults.failNext(1, 429);
    expect(await ask(bridge)).toMatch(/monthly message limit.*\/usage/);
  });

  it('service unavailable after retries', async () => {
    const { bridge } = await makeBridge();
    emulator.faults.failNext(3, 503);
    expect(await ask(bridge)).toMatch(/not reachable right now/);
  });

  it('timeout', async () => {
    const impatient = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, chatTimeoutMs: 50 });
    opened.push(impatient);
    const { bridge } = await makeBridge({ client: impatient });
    // Well past the limit: undici's timers fire up to about a second late.
    emulator.faults.setLatency(2_500);
    expect(await ask(bridge)).toMatch(/not reachable right now/);
  });

  it('bad API key', async () => {
    const wrong = new AsyntaiClient({ apiKey: 'wrong', baseUrl: emulator.url });
    opened.push(wrong);
    const { bridge } = await makeBridge({ client: wrong });
    const answer = await ask(bridge);
    expect(answer).toMatch(/not set up correctly/);
    expect(answer).not.toContain('wrong');
  });

  it('anything else: an apology with a reference', async () => {
    const { bridge } = await makeBridge();
    emulator.faults.malformNext(1);
    expect(await ask(bridge)).toMatch(/something went wrong.*reference [0-9a-f]{8}/);
  });
});
