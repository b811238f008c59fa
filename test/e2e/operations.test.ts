/**
 * Operations through real parts: the Telegram adapter (grammY) against the Bot API fake behind a
 * TCP proxy the test takes down and up, the emulator, the HTTP server with the parts main wires
 * (`Operations`). /healthz follows the platform (start-up while it is down, an outage later),
 * /metrics counts traffic, a graceful shutdown delivers the answer in flight while webhook routes
 * answer 503, signals exit as documented, and the quota watch alerts once per threshold.
 */
import { EventEmitter } from 'node:events';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TelegramAdapter } from '../../adapters/telegram/telegram-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import type { Adapter } from '../../src/core/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { HttpServer } from '../../src/http/server.js';
import { exitOnSignals, shutDownGracefully } from '../../src/lifecycle.js';
import { createLogger } from '../../src/log.js';
import { Operations } from '../../src/operations.js';
import { QuotaWatch } from '../../src/quota-watch.js';
import { incoming, recordingReply } from '../fakes/recording-reply.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import { TcpProxy } from '../integration/tcp-proxy.js';

const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });
const VISITOR = { id: 4242, first_name: 'Vera' };

/** One bridge process as main wires it, on a memory store, with Telegram through `proxy`. */
async function startBridge(emulator: EmulatorHandle, telegram: FakeTelegram, proxy: TcpProxy) {
  const store = await openStore('memory://');
  const ops = await Operations.start({ storeUrl: 'memory://', storeTimeoutMs: 1_000, userRateLimit: 0, metrics: true, usageCheckMs: 0, teamChannel: undefined }, store, logger);
  const client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, ...ops.clientHooks });
  const bridge = new Bridge({ client, store, sessions: new SessionMap(store, ops.onSessionMinted), logger, ...ops.bridgeOptions });
  const http = new HttpServer(logger);
  const adapter = new TelegramAdapter({
    config: { telegram: { token: telegram.token, apiRoot: proxy.url, adminIds: new Set(), webhookUrl: undefined, webhookSecret: undefined } },
    logger,
    http,
    connectRetry: { firstDelayMs: 100, maxDelayMs: 300 },
  });
  const started = new Set<Adapter>();
  ops.attach({ http, bridge, adapters: [adapter], started: (a) => started.has(a), client });
  http.mount('POST', '/webhook', (_req, res) => void res.writeHead(200).end());
  const base = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
  const starting = adapter.start(bridge).then(() => void started.add(adapter));
  const cleanups = [() => http.close(), () => ops.close(), () => client.close(), () => store.close()];
  return { store, ops, client, bridge, http, adapter, base, starting, cleanups };
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await request(url);
  return { status: res.statusCode, text: await res.body.text() };
}

let emulator: EmulatorHandle;
let telegram: FakeTelegram;

beforeAll(async () => {
  emulator = await startEmulator({ plan: 'free' });
  telegram = await startFakeTelegram();
});

afterAll(async () => {
  await telegram.close();
  await emulator.close();
});

afterEach(() => {
  emulator.faults.clear();
  telegram.clearRecords();
});

describe('health and metrics', () => {
  let proxy: TcpProxy;
  let app: Awaited<ReturnType<typeof startBridge>>;

  beforeAll(async () => {
    proxy = await TcpProxy.reserve(telegram.apiRoot);
    app = await startBridge(emulator, telegram, proxy); // Telegram out of reach at start
  });

  afterAll(async () => {
    await app.adapter.stop();
    for (const cleanup of app.cleanups) await cleanup();
    await proxy.down();
  });

  const health = async () => {
    const { status, text } = await get(`${app.base}/healthz`);
    return { status, body: JSON.parse(text) as { ok: boolean; parts: Record<string, { ok: boolean; detail?: string }> } };
  };

  it('is 503 while Telegram is out of reach at start-up, 200 once it answers', async () => {
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body.parts).toEqual({ store: { ok: true, detail: expect.stringMatching(/answered/) as unknown }, telegram: { ok: false, detail: 'not started' } });
    await proxy.up();
    await app.starting;
    await expect.poll(async () => (await health()).status, { timeout: 15_000 }).toBe(200);
    expect((await health()).body.parts.telegram).toEqual({ ok: true, detail: 'connected' });
  });

  it('turns 503 when Telegram goes away, and 200 again when it is back', async () => {
    await proxy.down();
    await expect.poll(async () => (await health()).status, { timeout: 15_000 }).toBe(503);
    expect((await health()).body.parts.telegram).toEqual({ ok: false, detail: 'disconnected' });
    await proxy.up();
    await expect.poll(async () => (await health()).status, { timeout: 15_000 }).toBe(200);
  });

  it('counts messages, answers, sessions, duplicates and Asyntai calls in /metrics', async () => {
    telegram.userSends({ from: VISITOR, text: 'What are your business hours?' });
    await telegram.waitForMessages(1, { chatId: VISITOR.id, timeoutMs: 10_000 });
    const event = incoming('/help', { platform: 'telegram', threadKey: 'telegram:1' });
    await app.bridge.handle(event, recordingReply());
    await app.bridge.handle(event, recordingReply()); // the same message again
    // The fake shows the answer before the adapter has its response: wait for the count.
    await expect.poll(async () => (await get(`${app.base}/metrics`)).text).toMatch(/^bridge_answers_sent_total\{platform="telegram"\} 2$/m);
    const { status, text } = await get(`${app.base}/metrics`);
    expect(status).toBe(200);
    expect(text).toMatch(/^bridge_messages_received_total\{platform="telegram"\} 3$/m);
    expect(text).toMatch(/^bridge_duplicates_dropped_total\{platform="telegram"\} 1$/m);
    expect(text).toMatch(/^bridge_sessions_minted_total\{platform="telegram"\} 1$/m);
    expect(text).toMatch(/^bridge_asyntai_request_duration_seconds_count\{endpoint="POST chat\/"\} 1$/m);
    expect(text).toMatch(/^bridge_queue_pending 0$/m);
    expect(text).toMatch(/^# TYPE bridge_webhook_events_total counter$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });
});

describe('graceful shutdown', () => {
  it('delivers the answer in flight, refuses webhook posts meanwhile, then closes everything', async () => {
    const proxy = await TcpProxy.reserve(telegram.apiRoot);
    await proxy.up();
    const app = await startBridge(emulator, telegram, proxy);
    await app.starting;
    emulator.faults.setLatency(1_500);
    telegram.userSends({ from: VISITOR, text: 'Do you ship abroad?' });
    await expect.poll(() => app.bridge.pending, { timeout: 10_000 }).toBe(1);
    const before = telegram.sentMessages.length;
    const shutdown = shutDownGracefully({ logger, http: app.http, adapters: [app.adapter], bridge: app.bridge, graceMs: 20_000, cleanups: app.cleanups });
    const refused = await request(`${app.base}/webhook`, { method: 'POST', body: '{}' });
    expect(refused.statusCode).toBe(503);
    await refused.body.dump();
    expect(await shutdown).toBe(true);
    expect(telegram.sentMessages.slice(before).map((m) => m.chat_id)).toEqual([VISITOR.id]);
    expect(app.adapter.isHealthy()).toBe(false);
    await proxy.down();
  });

  it('gives up on answers still in progress when the grace period is over', async () => {
    const proxy = await TcpProxy.reserve(telegram.apiRoot);
    await proxy.up();
    const app = await startBridge(emulator, telegram, proxy);
    await app.starting;
    emulator.faults.setLatency(8_000);
    const reply = recordingReply();
    const answering = app.bridge.handle(incoming('Do you ship abroad?'), reply);
    expect(await shutDownGracefully({ logger, http: app.http, adapters: [app.adapter], bridge: app.bridge, graceMs: 50, cleanups: app.cleanups })).toBe(false);
    // Everything is closed with the answer still in progress (main exits the process here).
    expect(app.bridge.pending).toBe(1);
    await answering;
    await proxy.down();
  });

  it('exits 0 after the shutdown on the first signal, and at once with 1 on a second', async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    let finish!: () => void;
    const shutdown = new Promise<void>((resolve) => (finish = resolve));
    exitOnSignals({ shutdown: () => shutdown, exit: (code) => exits.push(code), logger, signals });
    signals.emit('SIGTERM', 'SIGTERM');
    expect(exits).toEqual([]);
    signals.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([1]);
    finish();
    await expect.poll(() => exits).toEqual([1, 0]);
  });
});

describe('quota watch', () => {
  let store: StateStore;
  let client: AsyntaiClient;

  beforeAll(async () => {
    store = await openStore('memory://');
    client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
  });

  afterAll(async () => {
    await client.close();
    await store.close();
  });

  const chat = async (count: number) => {
    for (let i = 0; i < count; i++) await client.chat({ message: `question ${i}` });
  };

  it('alerts the log and TEAM_CHANNEL once at 80% and once at 95% of the free plan, also across instances', async () => {
    const proxy = await TcpProxy.reserve(telegram.apiRoot);
    await proxy.up();
    const app = await startBridge(emulator, telegram, proxy);
    await app.starting;
    const team = -1001234567890;
    const watch = (now: Date) =>
      new QuotaWatch({ client, store, logger, adapters: [app.adapter], teamChannel: `telegram:${team}`, intervalMs: 60_000, now: () => now });
    const month = new Date();
    const used = (await client.account()).messages_used;
    await chat(79 - used);
    expect(await watch(month).check()).toBeUndefined();
    await chat(1); // 80 of 100
    expect(await watch(month).check()).toBe(80);
    expect(await watch(month).check()).toBeUndefined(); // another instance, same month
    await chat(15); // 95 of 100
    expect(await watch(month).check()).toBe(95);
    expect(await watch(month).check()).toBeUndefined();
    const alerts = telegram.sentMessages.filter((m) => m.chat_id === team).map((m) => m.visibleText);
    expect(alerts).toEqual([expect.stringMatching(/80 of its 100 messages.*over 80%/), expect.stringMatching(/95 of its 100 messages.*over 95%/)]);
    await app.adapter.stop();
    for (const cleanup of app.cleanups) await cleanup();
    await proxy.down();
  });
});
