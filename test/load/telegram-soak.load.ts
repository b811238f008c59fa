/**
 * Load drill (`npm run test:load`, also run by .ci/run): 200 Telegram conversations sending at a
 * steady rate through the loopback Bot API fake (long polling, real grammY runner), the real core
 * on Redis, and the emulator behind it; once with a healthy API, once with 503 bursts and
 * 2-second latencies injected by the emulator. Checked per conversation: every message gets
 * exactly one reply (an answer, or the try-again words when the API kept failing), no question
 * reaches the API twice, and the API saw the questions in the order they were sent. RSS is
 * sampled and must stay within a generous bound after warm-up; the closing line reports it.
 *
 * LOAD_SECONDS (default 60) sets how long each phase sends. Needs Redis (REDIS_URL, else
 * 127.0.0.1:6379); without one the drill is skipped and says so.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelegramAdapter } from '../../adapters/telegram/telegram-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { Outbox } from '../../src/core/outbox.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const THREADS = 200;
/** Each conversation sends one message this often: 200 / 2 s = 100 messages per second in all. */
const INTERVAL_MS = 2_000;
/** RSS is not judged during this first part of a phase (JIT, pools, caches filling). */
const WARMUP_MS = 15_000;
/** Generous: the emulator's conversation history and the fake's records grow with every message, in this same process. */
const RSS_GROWTH_LIMIT = 150 * 2 ** 20;
const QUESTIONS = [
  'What are your business hours?',
  'How long does standard shipping take?',
  'Can I return an item I bought on sale?',
  'Do you ship to Canada?',
  'How can I reach your support team?',
];

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisAnswers = await openStore(redisUrl, { namespace: 'load-probe' }).then(
  async (store) => {
    await store.close();
    return true;
  },
  () => false,
);
if (!redisAnswers) console.log(`load: NOTICE Redis does not answer at ${redisUrl}; the load drill is skipped`);

interface PhaseReport {
  sent: number;
  replies: number;
  answered: number;
  apologies: number;
  rssWarmMiB: number;
  rssEndMiB: number;
  seconds: number;
}

const logger = createLogger({ level: 'silent' });
const reports: Record<string, PhaseReport> = {};

describe.skipIf(!redisAnswers)('load drill: 200 Telegram conversations on Redis', () => {
  let emulator: EmulatorHandle;
  let client: AsyntaiClient;
  let store: StateStore;
  let sessions: SessionMap;
  let fake: FakeTelegram;
  let adapter: TelegramAdapter;
  let outbox: Outbox;

  beforeAll(async () => {
    emulator = await startEmulator({ plan: 'pro' });
    // Quick backoff: a 503 burst is retried within the burst's neighbourhood, as in production but sooner.
    client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 50 });
    store = await openStore(redisUrl, { namespace: `load-${randomBytes(6).toString('hex')}` });
    sessions = new SessionMap(store);
    // Wired as main.ts wires it: an answer Telegram would not take is kept and delivered later.
    outbox = new Outbox({ store, logger, retryMs: 1_000 });
    const bridge = new Bridge({ client, store, sessions, logger, userRateLimit: 0, outbox });
    fake = await startFakeTelegram();
    adapter = new TelegramAdapter({
      config: { telegram: { token: fake.token, apiRoot: fake.apiRoot, adminIds: new Set(), webhookUrl: undefined, webhookSecret: undefined } },
      logger,
      http: undefined,
    });
    outbox.attach(adapter);
    await adapter.start(bridge);
    outbox.start();
  });

  afterAll(async () => {
    await outbox?.stop();
    await adapter?.stop();
    await fake?.close();
    if (store) {
      const keys = await store.keys('');
      for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((key) => store.delete(key)));
      await store.close();
    }
    await client?.close();
    await emulator?.close();
    const line = Object.entries(reports)
      .map(([phase, r]) =>
        `${phase}: ${r.sent} sent in ${r.seconds}s, ${r.replies} replies (${r.answered} answers, ${r.apologies} try-again), RSS ${r.rssWarmMiB.toFixed(0)} → ${r.rssEndMiB.toFixed(0)} MiB`,
      )
      .join('; ');
    console.log(`load summary: ${line || 'no phase ran'}`);
  });

  /**
   * Sends for SECONDS (each chat every INTERVAL_MS, chats staggered), with `during(elapsedMs)`
   * called every second to inject faults; then waits for every reply and checks each chat.
   */
  async function phase(name: string, firstChatId: number, during: (elapsedMs: number) => void): Promise<PhaseReport> {
    const sentByChat = new Map<number, string[]>();
    const started = Date.now();
    const rss: Array<{ at: number; rss: number }> = [];
    const sampler = setInterval(() => rss.push({ at: Date.now() - started, rss: process.memoryUsage().rss }), 1_000);
    const faults = setInterval(() => during(Date.now() - started), 1_000);
    try {
      await Promise.all(
        Array.from({ length: THREADS }, async (_, t) => {
          const chatId = firstChatId + t;
          const sent: string[] = [];
          sentByChat.set(chatId, sent);
          // Staggered, so the 100 messages a second arrive evenly rather than in 200-message waves.
          await sleep((INTERVAL_MS * t) / THREADS);
          for (let n = 0; Date.now() - started < SECONDS * 1000; n++) {
            const text = `${QUESTIONS[n % QUESTIONS.length]} (${name} ${chatId} #${n})`;
            sent.push(text);
            fake.userSends({ from: { id: chatId, first_name: `Load ${t}` }, text });
            await sleep(INTERVAL_MS);
          }
        }),
      );
    } finally {
      clearInterval(faults);
      emulator.faults.clear();
    }
    const total = [...sentByChat.values()].reduce((sum, s) => sum + s.length, 0);
    const repliesIn = (chatId: number) => fake.sentMessages.filter((m) => m.chat_id === chatId).length;
    const replied = () => [...sentByChat.keys()].reduce((sum, chatId) => sum + repliesIn(chatId), 0);
    // Drain: whatever is queued, waiting on a slow API or kept by the outbox finishes.
    const deadline = Date.now() + 90_000;
    while (replied() < total && Date.now() < deadline) await sleep(250);
    clearInterval(sampler);

    let answered = 0;
    for (const [chatId, sent] of sentByChat) {
      // One reply per message: none lost, none twice.
      expect(repliesIn(chatId), `replies in chat ${chatId}`).toBe(sent.length);
      const sessionId = await sessions.peek(`telegram:${chatId}`);
      const asked = sessionId ? (await client.conversation(sessionId, { limit: 100 })).filter((m) => m.role === 'user').map((m) => m.content) : [];
      // Each question reached the API at most once, in the order sent (those that failed are missing, not moved).
      expect(new Set(asked).size, `no question asked twice in chat ${chatId}`).toBe(asked.length);
      expect(isSubsequence(asked, sent), `questions of chat ${chatId} in order`).toBe(true);
      answered += asked.length;
    }
    const warm = rss.find((s) => s.at >= WARMUP_MS) ?? rss[0]!;
    const end = rss[rss.length - 1]!;
    const report: PhaseReport = {
      sent: total,
      replies: replied(),
      answered,
      apologies: replied() - answered,
      rssWarmMiB: warm.rss / 2 ** 20,
      rssEndMiB: end.rss / 2 ** 20,
      seconds: SECONDS,
    };
    reports[name] = report;
    fake.clearRecords();
    expect(end.rss - warm.rss, `RSS growth after warm-up in ${name}`).toBeLessThan(RSS_GROWTH_LIMIT);
    return report;
  }

  it('answers every message once and in order with a healthy API', async () => {
    const report = await phase('steady', 910_000, () => undefined);
    // A healthy API answers everything: not one try-again.
    expect(report.apologies).toBe(0);
    expect(report.answered).toBe(report.sent);
  }, (SECONDS + 120) * 1000);

  it('still replies to every message once and in order with 503 bursts and 2-second latencies', async () => {
    let lastSecond = -1;
    const report = await phase('faults', 920_000, (elapsedMs) => {
      const second = Math.floor(elapsedMs / 1000);
      if (second === lastSecond) return;
      lastSecond = second;
      // A burst of 503s every 10 s; 2-second answers in the third and fifth 10-second slices.
      if (second % 10 === 3) emulator.faults.failNext(40, 503);
      const slow = Math.floor(second / 10) % 5 === 2 || Math.floor(second / 10) % 5 === 4;
      emulator.faults.setLatency(slow ? 2_000 : 0);
    });
    // Most are answered; the rest got the try-again words after the retries ran out, never silence.
    expect(report.answered).toBeGreaterThan(report.sent / 2);
    expect(report.replies).toBe(report.sent);
  }, (SECONDS + 120) * 1000);
});

/** Whether `part` appears in `whole` in the same order (gaps allowed). */
function isSubsequence(part: readonly string[], whole: readonly string[]): boolean {
  let i = 0;
  for (const item of whole) if (i < part.length && part[i] === item) i++;
  return i === part.length;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
