/**
 * `npm run bench` (BENCH_QUICK=1 for a shorter run): what the bridge core costs on top of a raw
 * Asyntai call, against the in-repo emulator on loopback, in this one process.
 *
 * 1. Latency per message: `client.chat()` vs `bridge.handle()` through a no-op Reply, memory and
 *    SQLite stores, interleaved call by call after a warm-up.
 * 2. Throughput: 50 threads at once, each sending its messages in order, raw vs through the core.
 * 3. Memory: RSS and heapUsed idle after start-up and after 100,000 sessions minted by SessionMap.
 *
 * Every timing is reported as a ratio against raw calls made in the same run, never as an
 * absolute claim: the emulator shares this process and this CPU, and its numbers are a machine's.
 * Results go to bench/results/<ISO timestamp>.json and are printed as tables.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AsyntaiClient } from '../src/asyntai/client.js';
import { Bridge } from '../src/core/bridge.js';
import { SessionMap } from '../src/core/session-map.js';
import { openStore, type StateStore } from '../src/core/state-store.js';
import { WebsiteBindings } from '../src/core/website-bindings.js';
import { startEmulator } from '../src/emulator/server.js';
import { PLANS } from '../src/emulator/plans.js';
import { createLogger, type Logger } from '../src/log.js';
import {
  benchIncoming,
  findGc,
  fixed,
  memorySnapshot,
  mib,
  noopReply,
  nowMs,
  printTable,
  summarize,
  type MemorySnapshot,
  type Summary,
} from './harness.js';

const QUICK = process.env.BENCH_QUICK === '1';

/** Untimed calls per path before latency samples: JIT, keep-alive sockets, SQLite page cache. */
const LATENCY_WARMUP = QUICK ? 100 : 300;
/** Timed calls per path and store. */
const LATENCY_SAMPLES = QUICK ? 400 : 2_000;
/** Messages per conversation in the latency runs: the emulator answers from each session's history, so short threads keep its cost flat. */
const LATENCY_MESSAGES_PER_THREAD = 10;
/** Timed repetitions of the per-message store calls, to show how much of the added latency is the store. */
const STORE_OP_SAMPLES = QUICK ? 100 : 300;
/** Conversations in flight at once in the throughput runs. */
const THROUGHPUT_THREADS = 50;
/** Messages each conversation sends, one after the other. */
const THROUGHPUT_MESSAGES_PER_THREAD = QUICK ? 8 : 20;
/** Untimed messages per conversation before the throughput rounds (opens the pool's sockets). */
const THROUGHPUT_WARMUP_PER_THREAD = 2;
/** Timed raw/bridged pairs per store; the median round is reported. */
const THROUGHPUT_ROUNDS = QUICK ? 1 : 3;
/** Sessions minted for the memory figure. */
const MEMORY_SESSIONS = QUICK ? 20_000 : 100_000;
/** The emulator plan: 'pro' allows the most /chat/ calls per month, checked against the plan below. */
const PLAN = 'pro';

/** Questions the seeded knowledge answers, so each call does the emulator's full retrieval. */
const QUESTIONS = [
  'What are your business hours?',
  'How long does standard shipping take?',
  'Can I return an item I bought on sale?',
  'How much does the Trail Club membership cost?',
  'How can I reach your support team?',
  'Do you ship to Canada?',
] as const;

/** The stores measured; `{tmp}` is replaced with a fresh temp folder. */
const STORES = [
  { label: 'memory', url: 'memory://' },
  { label: 'sqlite', url: 'sqlite://{tmp}/bench.sqlite' },
] as const;

/** /chat/ calls the whole run makes; must fit the plan, or the emulator would answer 429. */
const PLANNED_CHATS =
  STORES.length *
  (2 * (LATENCY_WARMUP + LATENCY_SAMPLES) +
    2 * THROUGHPUT_THREADS * (THROUGHPUT_WARMUP_PER_THREAD + THROUGHPUT_ROUNDS * THROUGHPUT_MESSAGES_PER_THREAD));

interface Env {
  client: AsyntaiClient;
  logger: Logger;
  tmp: string;
}

interface LatencyResult {
  store: string;
  raw: Summary;
  bridged: Summary;
  ratioMedian: number;
  ratioP95: number;
  addedMedianMs: number;
  addedP95Ms: number;
  /** The store calls of one message, each timed alone. */
  storeOps: Record<StoreOp, Summary>;
}

type StoreOp = 'claim event' | 'get session' | 'get website' | 'mark done';

interface ThroughputResult {
  store: string;
  threads: number;
  messagesPerRound: number;
  rawPerSecond: number[];
  bridgedPerSecond: number[];
  /** Median round of each path. */
  rawMedian: number;
  bridgedMedian: number;
  ratio: number;
}

interface MemoryResult {
  sessions: number;
  gc: string;
  idle: MemorySnapshot;
  afterSessions: MemorySnapshot;
  bytesPerSessionHeap: number;
  bytesPerSessionRss: number;
}

async function main(): Promise<void> {
  if (PLANNED_CHATS > PLANS[PLAN].messagesPerMonth) {
    throw new Error(`bench plans ${PLANNED_CHATS} /chat/ calls; the emulator's ${PLAN} plan allows ${PLANS[PLAN].messagesPerMonth}`);
  }
  console.log(
    [
      `asyntai-bridge benchmarks${QUICK ? ' (BENCH_QUICK)' : ''}: Node ${process.version}, ${cpus().length} CPU(s)`,
      'Measured on loopback against the in-process emulator, which shares this CPU:',
      '  latency    raw client.chat() vs bridge.handle() through a no-op Reply, interleaved, after a warm-up',
      `  throughput ${THROUGHPUT_THREADS} concurrent threads, messages in order within each, raw vs through the core`,
      `  memory     RSS / heapUsed idle after start-up and after ${MEMORY_SESSIONS.toLocaleString('en')} sessions (memory:// store)`,
      'Timings are ratios against raw calls made in this same run; absolute numbers describe this machine only.',
    ].join('\n'),
  );

  const started = new Date();
  const { gc, source: gcSource } = findGc();
  const emulator = await startEmulator({ plan: PLAN });
  // No retries: a failed call must surface, not hide inside a slow sample.
  const client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retries: 0 });
  const env: Env = { client, logger: createLogger({ level: 'silent' }), tmp: await mkdtemp(join(tmpdir(), 'asyntai-bench-')) };
  try {
    const memory = await measureMemory(env, gc, gcSource);
    const latency: LatencyResult[] = [];
    for (const store of STORES) latency.push(await measureLatency(env, store.label, storeUrl(env, store.url)));
    const throughput: ThroughputResult[] = [];
    for (const store of STORES) throughput.push(await measureThroughput(env, store.label, storeUrl(env, store.url)));

    // Every bridged message must have reached /chat/ and been answered; an apology would not count.
    const used = (await client.account()).messages_used;
    if (used !== PLANNED_CHATS) throw new Error(`emulator answered ${used} /chat/ calls, expected ${PLANNED_CHATS}`);

    report(latency, throughput, memory);
    const file = await writeResults(started, { latency, throughput, memory });
    console.log(`\nResults: ${file}`);
  } finally {
    await client.close();
    await emulator.close();
    await rm(env.tmp, { recursive: true, force: true });
  }
}

function storeUrl(env: Env, template: string): string {
  return template.replace('{tmp}', env.tmp);
}

function newBridge(env: Env, store: StateStore): Bridge {
  // userRateLimit 0: the bench sends far more than a person could, from one user.
  return new Bridge({ client: env.client, store, sessions: new SessionMap(store), logger: env.logger, userRateLimit: 0 });
}

/** A session id shaped like SessionMap's (`sh-` + 20 characters), so raw requests carry the same bytes. */
function rawSessionId(): string {
  return `sh-${randomBytes(15).toString('base64url')}`;
}

function question(i: number): string {
  return QUESTIONS[i % QUESTIONS.length]!;
}

/**
 * RSS and heapUsed with everything loaded and started (emulator, client, store) and idle, then after
 * minting sessions on a memory:// store. Runs first, before the timing runs grow the heap.
 */
async function measureMemory(env: Env, gc: (() => void) | undefined, gcSource: string): Promise<MemoryResult> {
  const store = await openStore('memory://', { namespace: 'bench-memory' });
  try {
    const sessions = new SessionMap(store);
    const idle = memorySnapshot(gc);
    for (let i = 0; i < MEMORY_SESSIONS; i++) await sessions.sessionFor(`shell:memory-${i}`, 'shell');
    const afterSessions = memorySnapshot(gc);
    return {
      sessions: MEMORY_SESSIONS,
      gc: gcSource,
      idle,
      afterSessions,
      bytesPerSessionHeap: (afterSessions.heapUsed - idle.heapUsed) / MEMORY_SESSIONS,
      bytesPerSessionRss: (afterSessions.rss - idle.rss) / MEMORY_SESSIONS,
    };
  } finally {
    await store.close();
  }
}

/**
 * One message at a time, raw and bridged alternately (the order flipping every pair), so both
 * paths see the same emulator state, sockets and GC pressure.
 */
async function measureLatency(env: Env, label: string, url: string): Promise<LatencyResult> {
  const store = await openStore(url, { namespace: `bench-latency-${label}` });
  try {
    const bridge = newBridge(env, store);
    const reply = noopReply();
    const total = LATENCY_WARMUP + LATENCY_SAMPLES;
    const rawSessions = Array.from({ length: Math.ceil(total / LATENCY_MESSAGES_PER_THREAD) }, rawSessionId);
    const thread = (i: number) => Math.floor(i / LATENCY_MESSAGES_PER_THREAD);

    const raw = async (i: number) => {
      await env.client.chat({ message: question(i), sessionId: rawSessions[thread(i)] });
    };
    const bridged = (i: number) =>
      bridge.handle(benchIncoming(`shell:latency-${label}-${thread(i)}`, `latency-${label}-${i}`, question(i)), reply);
    const time = async (call: (i: number) => Promise<void>, i: number) => {
      const start = nowMs();
      await call(i);
      return nowMs() - start;
    };

    const rawMs: number[] = [];
    const bridgedMs: number[] = [];
    for (let i = 0; i < total; i++) {
      let r: number;
      let b: number;
      if (i % 2 === 0) {
        r = await time(raw, i);
        b = await time(bridged, i);
      } else {
        b = await time(bridged, i);
        r = await time(raw, i);
      }
      if (i >= LATENCY_WARMUP) {
        rawMs.push(r);
        bridgedMs.push(b);
      }
    }
    if (reply.texts !== total) throw new Error(`latency/${label}: ${reply.texts} answers for ${total} messages`);

    const storeOps = await measureStoreOps(store, label);
    const rawSummary = summarize(rawMs);
    const bridgedSummary = summarize(bridgedMs);
    return {
      store: label,
      raw: rawSummary,
      bridged: bridgedSummary,
      ratioMedian: bridgedSummary.medianMs / rawSummary.medianMs,
      ratioP95: bridgedSummary.p95Ms / rawSummary.p95Ms,
      addedMedianMs: bridgedSummary.medianMs - rawSummary.medianMs,
      addedP95Ms: bridgedSummary.p95Ms - rawSummary.p95Ms,
      storeOps,
    };
  } finally {
    await store.close();
  }
}

/**
 * The store calls `Bridge.handle` makes for a question on a thread that already has a session, in
 * its order, each timed alone. Mirrors bridge.ts by hand (its TTLs are private): update both together.
 */
async function measureStoreOps(store: StateStore, label: string): Promise<Record<StoreOp, Summary>> {
  const sessions = new SessionMap(store);
  const websites = new WebsiteBindings(store, undefined);
  const threadKey = `shell:store-ops-${label}`;
  await sessions.sessionFor(threadKey, 'shell');
  const ops: Record<StoreOp, (event: string) => Promise<unknown>> = {
    'claim event': (event) => store.setIfNotExists(event, 'working', 5 * 60_000),
    'get session': () => sessions.peek(threadKey),
    'get website': () => websites.resolve('shell:bench'),
    'mark done': (event) => store.set(event, 'done', 24 * 60 * 60_000),
  };
  const names = Object.keys(ops) as StoreOp[];
  const times = new Map<StoreOp, number[]>(names.map((name) => [name, []]));
  for (let i = 0; i < STORE_OP_SAMPLES; i++) {
    const event = `event:shell:store-ops-${label}-${i}`;
    for (const name of names) {
      const start = nowMs();
      await ops[name](event);
      times.get(name)!.push(nowMs() - start);
    }
  }
  return Object.fromEntries(names.map((name) => [name, summarize(times.get(name)!)])) as Record<StoreOp, Summary>;
}

/**
 * THROUGHPUT_THREADS conversations at once, each awaiting its answer before sending the next
 * message, as a user in a chat would. Raw and bridged rounds alternate; each round uses fresh
 * conversations so session histories stay as short as in every other round.
 */
async function measureThroughput(env: Env, label: string, url: string): Promise<ThroughputResult> {
  const store = await openStore(url, { namespace: `bench-throughput-${label}` });
  try {
    const bridge = newBridge(env, store);
    const reply = noopReply();
    let round = 0;

    const rawRound = (perThread: number) => {
      const sessions = Array.from({ length: THROUGHPUT_THREADS }, rawSessionId);
      return runConcurrent(perThread, async (t, m) => {
        await env.client.chat({ message: question(m), sessionId: sessions[t] });
      });
    };
    const bridgedRound = (perThread: number) => {
      const prefix = `throughput-${label}-${round++}`;
      return runConcurrent(perThread, (t, m) =>
        bridge.handle(benchIncoming(`shell:${prefix}-${t}`, `${prefix}-${t}-${m}`, question(m)), reply),
      );
    };

    await rawRound(THROUGHPUT_WARMUP_PER_THREAD);
    await bridgedRound(THROUGHPUT_WARMUP_PER_THREAD);
    const rawPerSecond: number[] = [];
    const bridgedPerSecond: number[] = [];
    for (let r = 0; r < THROUGHPUT_ROUNDS; r++) {
      if (r % 2 === 0) {
        rawPerSecond.push(await rawRound(THROUGHPUT_MESSAGES_PER_THREAD));
        bridgedPerSecond.push(await bridgedRound(THROUGHPUT_MESSAGES_PER_THREAD));
      } else {
        bridgedPerSecond.push(await bridgedRound(THROUGHPUT_MESSAGES_PER_THREAD));
        rawPerSecond.push(await rawRound(THROUGHPUT_MESSAGES_PER_THREAD));
      }
    }
    const expected = THROUGHPUT_THREADS * (THROUGHPUT_WARMUP_PER_THREAD + THROUGHPUT_ROUNDS * THROUGHPUT_MESSAGES_PER_THREAD);
    if (reply.texts !== expected) throw new Error(`throughput/${label}: ${reply.texts} answers for ${expected} messages`);

    const rawMedian = median(rawPerSecond);
    const bridgedMedian = median(bridgedPerSecond);
    return {
      store: label,
      threads: THROUGHPUT_THREADS,
      messagesPerRound: THROUGHPUT_THREADS * THROUGHPUT_MESSAGES_PER_THREAD,
      rawPerSecond,
      bridgedPerSecond,
      rawMedian,
      bridgedMedian,
      ratio: bridgedMedian / rawMedian,
    };
  } finally {
    await store.close();
  }
}

/** Runs THROUGHPUT_THREADS loops of `perThread` sequential sends; returns messages per second. */
async function runConcurrent(perThread: number, send: (thread: number, message: number) => Promise<void>): Promise<number> {
  const start = nowMs();
  await Promise.all(
    Array.from({ length: THROUGHPUT_THREADS }, async (_, t) => {
      for (let m = 0; m < perThread; m++) await send(t, m);
    }),
  );
  return (THROUGHPUT_THREADS * perThread) / ((nowMs() - start) / 1000);
}

function median(values: readonly number[]): number {
  return summarize(values).medianMs;
}

function report(latency: LatencyResult[], throughput: ThroughputResult[], memory: MemoryResult): void {
  printTable(`Latency per message (${LATENCY_SAMPLES} samples per path after ${LATENCY_WARMUP} warm-up; ms on this machine)`, [
    ['store', 'raw p50', 'raw p95', 'bridge p50', 'bridge p95', 'ratio p50', 'ratio p95', 'added p50', 'added p95'],
    ...latency.map((l) => [
      l.store,
      fixed(l.raw.medianMs, 3),
      fixed(l.raw.p95Ms, 3),
      fixed(l.bridged.medianMs, 3),
      fixed(l.bridged.p95Ms, 3),
      `${fixed(l.ratioMedian)}×`,
      `${fixed(l.ratioP95)}×`,
      `${fixed(l.addedMedianMs, 3)} ms`,
      `${fixed(l.addedP95Ms, 3)} ms`,
    ]),
  ]);
  const ops = Object.keys(latency[0]?.storeOps ?? {}) as StoreOp[];
  printTable(`Store calls per message, each timed alone (p50 ms, ${STORE_OP_SAMPLES} samples)`, [
    ['store', ...ops, 'sum'],
    ...latency.map((l) => [
      l.store,
      ...ops.map((op) => fixed(l.storeOps[op].medianMs, 3)),
      fixed(ops.reduce((sum, op) => sum + l.storeOps[op].medianMs, 0), 3),
    ]),
  ]);
  printTable(
    `Throughput (${THROUGHPUT_THREADS} concurrent threads × ${THROUGHPUT_MESSAGES_PER_THREAD} messages, median of ${THROUGHPUT_ROUNDS} round(s))`,
    [
      ['store', 'raw msg/s', 'bridge msg/s', 'ratio'],
      ...throughput.map((t) => [t.store, fixed(t.rawMedian, 0), fixed(t.bridgedMedian, 0), `${fixed(t.ratio)}×`]),
    ],
  );
  printTable(`Memory (memory:// store, GC: ${memory.gc})`, [
    ['state', 'RSS', 'heapUsed'],
    ['idle after start-up', mib(memory.idle.rss), mib(memory.idle.heapUsed)],
    [`after ${memory.sessions.toLocaleString('en')} sessions`, mib(memory.afterSessions.rss), mib(memory.afterSessions.heapUsed)],
    ['per session', `${fixed(memory.bytesPerSessionRss, 0)} B`, `${fixed(memory.bytesPerSessionHeap, 0)} B`],
  ]);
}

async function writeResults(started: Date, results: object): Promise<string> {
  const folder = join(dirname(fileURLToPath(import.meta.url)), 'results');
  await mkdir(folder, { recursive: true });
  // Colons are not allowed in Windows file names.
  const file = join(folder, `${started.toISOString().replace(/:/g, '-')}.json`);
  const config = {
    quick: QUICK,
    latencyWarmup: LATENCY_WARMUP,
    latencySamples: LATENCY_SAMPLES,
    latencyMessagesPerThread: LATENCY_MESSAGES_PER_THREAD,
    storeOpSamples: STORE_OP_SAMPLES,
    throughputThreads: THROUGHPUT_THREADS,
    throughputMessagesPerThread: THROUGHPUT_MESSAGES_PER_THREAD,
    throughputRounds: THROUGHPUT_ROUNDS,
    memorySessions: MEMORY_SESSIONS,
    plannedChats: PLANNED_CHATS,
  };
  const environment = { node: process.version, platform: process.platform, arch: process.arch, cpus: cpus().length };
  await writeFile(file, `${JSON.stringify({ startedAt: started.toISOString(), environment, config, ...results }, null, 2)}\n`);
  return file;
}

await main();
