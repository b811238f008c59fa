/**
 * Figures of the real bridge process (`node dist/bundle/main.js`, built by bench/run.ts), with every
 * platform adapter connected to its loopback fake (which run in the benchmark's process) and the
 * instant API in a third process:
 *
 * - cold start: spawn to the first 200 from /healthz, several times;
 * - RSS of the bridge process (from /proc, no forced GC) idle, after 100k messages through the
 *   Telegram fake, and after a second 100k;
 * - end to end per platform: the fake delivers a message → SDK → adapter → core → API → adapter →
 *   the fake records the answer; paired with a raw undici call to the same API, difference per pair;
 * - ack per platform while the API takes 4 s: Slack's HTTP 200 to an event, Discord's deferral of
 *   /ask.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import type { FakeTelegram } from '../test/fakes/telegram-bot-api.js';
import type { FakeSlack } from '../test/fakes/slack-api.js';
import type { FakeDiscord, FakeUser } from '../test/fakes/discord-api.js';
import { BENCH_API_KEY, cpuSecondsOf, median, nowMs, RawCaller, ROOT, rssOf, sleep, summarize, type Summary } from './harness.js';

export interface RealProcessOptions {
  quick: boolean;
  apiUrl: string;
  setApiDelay: (ms: number) => Promise<void>;
  log: (line: string) => void;
}

export interface RealProcessResult {
  adapters: string[];
  /** Why adapters with a fake were left out. */
  failures: string[];
  /** Spawn to healthy, ms, each attempt. */
  coldStartMs: number[];
  /** CPU seconds the process had used when first healthy, each attempt. */
  coldStartCpuSeconds: number[];
  rssIdleBytes: number;
  messagesPerStep: number;
  /** Right after the last answer of each step: garbage V8 has not collected yet is included. */
  rssAfterFirstBytes: number;
  rssAfterSecondBytes: number;
  /** The same once the process is quiet (see {@link settledRss}): what it keeps. */
  rssSettledFirstBytes: number;
  rssSettledSecondBytes: number;
  /** Messages per second through Telegram during the memory steps. */
  telegramRate: number;
  endToEnd: Record<string, { raw: Summary; platform: Summary; added: Summary }>;
  /** Ack times while the API takes 4 s, ms. */
  ack: Record<string, Summary>;
}

interface Fakes {
  telegram: FakeTelegram;
  slack: FakeSlack | undefined;
  discord: FakeDiscord | undefined;
}

/** Chats the memory steps cycle through: sessions pile up in the store as with real users. */
const MEMORY_CHATS = 5_000;
/** Messages in flight at once during the memory steps. */
const IN_FLIGHT = 500;
/** How long {@link settledRss} watches a quiet process at most. */
const SETTLE_MS = 40_000;
const API_SLOW_MS = 4_000;
const SLACK_USER = { id: 'U0BENCH', name: 'bench' };
const DISCORD_USER: FakeUser = { id: '300000000000000009', username: 'bench' };

export async function measureRealProcess(options: RealProcessOptions): Promise<RealProcessResult> {
  const { quick, log } = options;
  const fakes = await startFakes(log);
  const { slack, discord } = fakes;
  const tmp = await mkdtemp(join(tmpdir(), 'asyntai-bench-process-'));
  const raw = new RawCaller(options.apiUrl);
  const port = await freePort();
  if (fakes.slack) fakes.slack.botUrl = `http://127.0.0.1:${port}/slack/events`;
  const health = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  let bridge: ChildProcess | undefined;
  try {
    // Every adapter with a fake; if that process cannot start (a platform's code broken in this
    // checkout), Telegram alone, and the failure is reported rather than hiding every figure.
    const all = ['telegram', ...(fakes.slack ? ['slack'] : []), ...(fakes.discord ? ['discord'] : [])];
    let adapters = all;
    let env = bridgeEnv(options.apiUrl, `sqlite://${tmp}/bridge.sqlite`, port, fakes, adapters);
    const coldStartMs: number[] = [];
    const coldStartCpuSeconds: number[] = [];
    const failures: string[] = [];
    try {
      const first = await startBridge(env, health);
      coldStartMs.push(first.ms);
      coldStartCpuSeconds.push(first.cpuSeconds);
      await stopBridge(first.child);
    } catch (error) {
      if (all.length === 1) throw error;
      failures.push(`with ${all.join(', ')}: ${error instanceof Error ? error.message : String(error)}; measured with telegram alone`);
      log(`  ${failures[0]}`);
      adapters = ['telegram'];
      env = bridgeEnv(options.apiUrl, `sqlite://${tmp}/bridge.sqlite`, port, fakes, adapters);
    }
    if (!adapters.includes('slack')) fakes.slack = undefined;
    if (!adapters.includes('discord')) fakes.discord = undefined;
    while (coldStartMs.length < (quick ? 3 : 5)) {
      const started = await startBridge(env, health);
      coldStartMs.push(started.ms);
      coldStartCpuSeconds.push(started.cpuSeconds);
      await stopBridge(started.child);
    }
    log(`  cold start ${coldStartMs.map((ms) => ms.toFixed(0)).join(', ')} ms; CPU ${coldStartCpuSeconds.map((s) => s.toFixed(2)).join(', ')} s`);

    bridge = (await startBridge(env, health)).child;
    // Let start-up work (command registration, first polls, lazy imports) settle.
    await sleep(3_000);
    const rssIdleBytes = rssOf(bridge.pid!) ?? NaN;

    const endToEnd: RealProcessResult['endToEnd'] = {};
    const pairs = quick ? 150 : 400;
    endToEnd.telegram = await pairedEndToEnd(raw, pairs, telegramSender(fakes.telegram));
    if (fakes.slack) endToEnd.slack = await pairedEndToEnd(raw, pairs, slackSender(fakes.slack));
    if (fakes.discord) endToEnd.discord = await pairedEndToEnd(raw, pairs, discordSender(fakes.discord));
    log(`  end to end: ${Object.entries(endToEnd).map(([p, r]) => `${p} +${r.added.p50.toFixed(2)} ms`).join(', ')}`);

    const ack: RealProcessResult['ack'] = {};
    if (fakes.slack || fakes.discord) {
      await options.setApiDelay(API_SLOW_MS);
      try {
        if (fakes.slack) ack.slack = await slackAcks(fakes.slack, quick ? 20 : 50);
        if (fakes.discord) ack.discord = await discordAcks(fakes.discord, quick ? 20 : 50);
      } finally {
        await options.setApiDelay(0);
      }
      // The slow answers are still on their way; they must not count in the next figures.
      await sleep(API_SLOW_MS + 1_000);
    }

    const messagesPerStep = Number(process.env.BENCH_MESSAGES ?? (quick ? 3_000 : 10_000));
    const first = await telegramFlood(fakes.telegram, messagesPerStep, 0);
    const rssAfterFirstBytes = rssOf(bridge.pid!) ?? NaN;
    const rssSettledFirstBytes = await settledRss(bridge.pid!);
    log(`  ${messagesPerStep} messages at ${first.toFixed(0)}/s, RSS ${mebi(rssAfterFirstBytes)} MiB, settled ${mebi(rssSettledFirstBytes)} MiB`);
    const second = await telegramFlood(fakes.telegram, messagesPerStep, messagesPerStep);
    const rssAfterSecondBytes = rssOf(bridge.pid!) ?? NaN;
    const rssSettledSecondBytes = await settledRss(bridge.pid!);
    log(`  ${messagesPerStep} more at ${second.toFixed(0)}/s, RSS ${mebi(rssAfterSecondBytes)} MiB, settled ${mebi(rssSettledSecondBytes)} MiB`);

    return {
      adapters,
      failures,
      coldStartMs,
      coldStartCpuSeconds,
      rssIdleBytes,
      messagesPerStep,
      rssAfterFirstBytes,
      rssAfterSecondBytes,
      rssSettledFirstBytes,
      rssSettledSecondBytes,
      telegramRate: median([first, second]),
      endToEnd,
      ack,
    };
  } finally {
    if (bridge) await stopBridge(bridge);
    await health.close();
    await raw.close();
    await fakes.telegram.close();
    await slack?.close();
    await discord?.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Telegram's fake always; Slack's and Discord's when they exist in this checkout. */
async function startFakes(log: (line: string) => void): Promise<Fakes> {
  const { startFakeTelegram } = await import('../test/fakes/telegram-bot-api.js');
  const telegram = await startFakeTelegram();
  let slack: FakeSlack | undefined;
  let discord: FakeDiscord | undefined;
  try {
    slack = await (await import('../test/fakes/slack-api.js')).startFakeSlack();
  } catch (error) {
    log(`  (no Slack fake: ${String(error)})`);
  }
  try {
    discord = await (await import('../test/fakes/discord-api.js')).startFakeDiscord();
  } catch (error) {
    log(`  (no Discord fake: ${String(error)})`);
  }
  return { telegram, slack, discord };
}

/** The environment of a production-like bridge: only what it needs, nothing inherited but PATH. */
function bridgeEnv(apiUrl: string, storeUrl: string, port: number, fakes: Fakes, adapters: string[]): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    ASYNTAI_API_KEY: BENCH_API_KEY,
    ASYNTAI_API_URL: apiUrl,
    STORE_URL: storeUrl,
    HTTP_PORT: String(port),
    LOG_LEVEL: 'warn',
    // Node flags to try on the measured process (e.g. `--max-semi-space-size=4`), nothing by default.
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    // One bench user sends far more than a person could.
    USER_RATE_LIMIT: '0',
    ADAPTERS: adapters.join(','),
    TELEGRAM_BOT_TOKEN: fakes.telegram.token,
    TELEGRAM_API_ROOT: fakes.telegram.apiRoot,
    ...(fakes.slack ? { SLACK_BOT_TOKEN: fakes.slack.botToken, SLACK_SIGNING_SECRET: fakes.slack.signingSecret, SLACK_API_URL: fakes.slack.apiUrl } : {}),
    ...(fakes.discord ? { DISCORD_BOT_TOKEN: fakes.discord.token, DISCORD_API_URL: fakes.discord.apiUrl } : {}),
  };
}

/** Spawns the built bridge and resolves when /healthz first answers 200, with the time it took. */
async function startBridge(env: NodeJS.ProcessEnv, health: Pool): Promise<{ child: ChildProcess; ms: number; cpuSeconds: number }> {
  const started = nowMs();
  const child = spawn(process.execPath, [join(ROOT, 'dist/bundle/main.js')], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'pipe'] });
  let exited = false;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
    process.stderr.write(chunk);
  });
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`the bridge exited during start-up (code ${child.exitCode}): ${stderr.split('\n')[0]}`);
    if (nowMs() - started > 30_000) {
      child.kill('SIGKILL');
      throw new Error('the bridge was not healthy within 30 s');
    }
    try {
      const res = await health.request({ method: 'GET', path: '/healthz' });
      await res.body.dump();
      if (res.statusCode === 200) return { child, ms: nowMs() - started, cpuSeconds: cpuSecondsOf(child.pid!) ?? NaN };
    } catch {
      // Not listening yet.
    }
    await sleep(5);
  }
}

async function stopBridge(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Sends `text` in conversation `thread` through a platform fake; resolves when the answer, which
 * echoes the question and so its `marker`, was recorded.
 */
type PlatformSender = (thread: number, text: string, marker: string) => Promise<void>;

async function pairedEndToEnd(raw: RawCaller, pairs: number, send: PlatformSender): Promise<{ raw: Summary; platform: Summary; added: Summary }> {
  const rawMs: number[] = [];
  const platformMs: number[] = [];
  const addedMs: number[] = [];
  const warmup = 30;
  for (let i = 0; i < warmup + pairs; i++) {
    const thread = Math.floor(i / 10);
    const marker = `q${i}x${Date.now()}`;
    const text = `What are your business hours? ${marker}`;
    const timeRaw = async () => {
      const t = nowMs();
      await raw.chat(text, `bench-${thread}`);
      return nowMs() - t;
    };
    const timePlatform = async () => {
      const t = nowMs();
      await send(thread, text, marker);
      return nowMs() - t;
    };
    let r: number;
    let p: number;
    if (i % 2 === 0) {
      r = await timeRaw();
      p = await timePlatform();
    } else {
      p = await timePlatform();
      r = await timeRaw();
    }
    if (i >= warmup) {
      rawMs.push(r);
      platformMs.push(p);
      addedMs.push(p - r);
    }
  }
  return { raw: summarize(rawMs), platform: summarize(platformMs), added: summarize(addedMs) };
}

function telegramSender(fake: FakeTelegram): PlatformSender {
  return async (thread, text, marker) => {
    const id = 500_000 + thread;
    fake.userSends({ from: { id, first_name: `User ${thread}` }, text });
    await fake.waitFor(() => fake.sentMessages.some((m) => m.text.includes(marker)), { timeoutMs: 10_000, what: 'the answer' });
    fake.clearRecords();
  };
}

function slackSender(fake: FakeSlack): PlatformSender {
  return async (thread, text, marker) => {
    // A DM: one event, no mention needed.
    void fake.userSays(SLACK_USER, `D0BENCH${thread}`, text);
    await fake.waitFor(() => fake.messages.some((m) => m.text.includes(marker)), { timeoutMs: 10_000, what: 'the answer' });
    fake.clearRecords();
  };
}

function discordSender(fake: FakeDiscord): PlatformSender {
  return async (_thread, text, marker) => {
    fake.userSends({ author: DISCORD_USER, content: text });
    await fake.waitFor(() => fake.sent.some((m) => m.content.includes(marker)), 10_000);
    fake.clearRecords();
  };
}

/**
 * Sends signed bodies to the bot at once and resolves with each one's time to its HTTP 200, ms.
 * It runs in a worker thread of its own, as Slack's servers are elsewhere: timed on this
 * process's main thread, the fake's handling of the bot's own Slack calls in the same burst
 * (typing reactions) was counted as ack time.
 */
const SLACK_BURST_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, request } = require('undici');
const { url, requests } = workerData;
const agent = new Agent({ keepAliveTimeout: 4000 });
Promise.all(requests.map(async ({ body, headers }) => {
  const started = performance.now();
  const res = await request(url, { method: 'POST', dispatcher: agent, body, headers });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error('Slack event answered ' + res.statusCode);
  return performance.now() - started;
})).then(async (times) => { await agent.close(); parentPort.postMessage(times); });
`;

/** Slack events (DMs) delivered together while the API is slow; the time to each HTTP 200. */
async function slackAcks(fake: FakeSlack, count: number): Promise<Summary> {
  if (!fake.botUrl) throw new Error('fake.botUrl is not set');
  const timestamp = Math.floor(Date.now() / 1000);
  // Signed here, by the fake, as Slack signs before it sends.
  const requests = Array.from({ length: count }, (_, i) => {
    const ts = `${timestamp}.${String(100_000 + i).padStart(6, '0')}`;
    const event = { type: 'message', channel_type: 'im', channel: `D0ACK${i}`, user: SLACK_USER.id, text: `Do you ship to Canada? (${i})`, ts, event_ts: ts, team: fake.teamId };
    const body = JSON.stringify(fake.eventEnvelope(event));
    const headers = { 'content-type': 'application/json', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': fake.sign(body, timestamp) };
    return { body, headers };
  });
  const worker = new Worker(SLACK_BURST_WORKER, { eval: true, workerData: { url: fake.botUrl, requests } });
  const times = await new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  return summarize(times);
}

/** /ask commands dispatched together while the API is slow; the time to each deferral. */
async function discordAcks(fake: FakeDiscord, count: number): Promise<Summary> {
  const times = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const t = nowMs();
      const interaction = fake.runCommand({ user: DISCORD_USER, name: 'ask', options: { question: `Do you ship to Canada? (${i})` } });
      await fake.waitFor(() => interaction.callbacks.length > 0, 10_000);
      return nowMs() - t;
    }),
  );
  return summarize(times);
}

/**
 * `count` messages through the Telegram fake, IN_FLIGHT at a time over MEMORY_CHATS private chats;
 * resolves with the rate. The fake's records are cleared as it goes, so only the bridge grows.
 */
/**
 * The RSS of a process left quiet after a flood, no GC forced: V8 keeps the heap it grew to until
 * its memory reducer runs a full collection, some 10–40 s after allocation stops (seen here: 348
 * MiB right after 6,000 messages, 132 MiB 30 s later). Watches once a second for up to SETTLE_MS;
 * returns the lowest reading, early once the RSS has fallen by a fifth and then held for 3 s.
 */
async function settledRss(pid: number): Promise<number> {
  const start = rssOf(pid) ?? NaN;
  let lowest = start;
  let steady = 0;
  for (let waited = 0; waited < SETTLE_MS; waited += 1_000) {
    await sleep(1_000);
    const now = rssOf(pid) ?? NaN;
    steady = now < lowest ? 0 : steady + 1;
    lowest = Math.min(lowest, now);
    if (lowest < start * 0.8 && steady >= 3) break;
  }
  return lowest;
}

const mebi = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

async function telegramFlood(fake: FakeTelegram, count: number, offset: number): Promise<number> {
  const started = nowMs();
  let answered = 0;
  for (let sent = 0; sent < count; ) {
    const batch = Math.min(IN_FLIGHT, count - sent);
    const before = fake.sentMessages.length;
    for (let i = 0; i < batch; i++) {
      const n = offset + sent + i;
      const id = 700_000 + (n % MEMORY_CHATS);
      fake.userSends({ from: { id, first_name: 'Flood' }, text: `How long does standard shipping take? (${n})` });
    }
    await fake.waitFor(() => fake.sentMessages.length - before >= batch, { timeoutMs: 60_000, what: `${batch} answers` });
    answered += fake.sentMessages.length - before;
    sent += batch;
    fake.clearRecords();
  }
  if (answered !== count) throw new Error(`Telegram flood: ${answered} answers for ${count} messages`);
  return count / ((nowMs() - started) / 1000);
}
