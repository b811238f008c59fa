/**
 * One process run of the core benchmark on one store (`node --import tsx bench/core-run.ts
 * <api url> <store url>`), started by bench/run.ts several times per store so it can report the
 * min and median of runs. Prints one JSON line ({@link CoreRunResult}) on stdout.
 *
 * Baseline: a raw undici POST /chat/ (RawCaller) to the instant API, which runs in another
 * process. Bridge: `bridge.handle()` with a no-op Reply, the same request made by AsyntaiClient.
 *
 * - latency: raw and bridged alternated one by one (order flipping every pair); the figure is the
 *   difference within each pair, whose p50 and p99 are reported.
 * - CPU: this process's CPU time over blocks of sequential messages, raw and bridged blocks
 *   alternating; microseconds per message.
 * - throughput: THREADS conversations at once, each awaiting its answer before the next message;
 *   one raw and one bridged round, which goes first alternating between runs; fresh conversations.
 */
import { randomBytes } from 'node:crypto';
import { AsyntaiClient } from '../src/asyntai/client.js';
import { Bridge } from '../src/core/bridge.js';
import { SessionMap } from '../src/core/session-map.js';
import { openStore } from '../src/core/state-store.js';
import { createLogger } from '../src/log.js';
import { BENCH_API_KEY, benchIncoming, cpuMicros, noopReply, nowMs, RawCaller, summarize, type Summary } from './harness.js';

const QUICK = process.env.BENCH_QUICK === '1';
const WARMUP_PAIRS = QUICK ? 300 : 500;
const LATENCY_PAIRS = QUICK ? 1_000 : 3_000;
/** A conversation gets a new thread key every this many messages, as a chat would. */
const MESSAGES_PER_THREAD = 10;
const CPU_BLOCK = QUICK ? 500 : 1_000;
const CPU_BLOCKS = 2;
export const THROUGHPUT_THREADS = 1_000;
export const THROUGHPUT_MESSAGES = 10;
/** Which path goes first in this run's throughput round; bench/run.ts alternates it between runs. */
const RAW_FIRST = process.env.BENCH_RUN_INDEX === undefined || Number(process.env.BENCH_RUN_INDEX) % 2 === 0;

/** What one process run measured. */
export interface CoreRunResult {
  store: string;
  raw: Summary;
  bridged: Summary;
  /** bridged − raw within each pair, ms. */
  added: Summary;
  rawCpuMicros: number;
  bridgedCpuMicros: number;
  rawPerSecond: number;
  bridgedPerSecond: number;
}

const QUESTIONS = [
  'What are your business hours?',
  'How long does standard shipping take?',
  'Can I return an item I bought on sale?',
  'Do you ship to Canada?',
] as const;
const question = (i: number) => QUESTIONS[i % QUESTIONS.length]!;
const rawSessionId = () => `sh-${randomBytes(15).toString('base64url')}`;

async function main(): Promise<void> {
  const [apiUrl, storeUrl] = process.argv.slice(2);
  if (!apiUrl || !storeUrl) throw new Error('usage: core-run.ts <api url> <store url>');
  const label = /^([a-z]+):/.exec(storeUrl)?.[1] ?? storeUrl;
  // A namespace of its own: runs sharing one Redis never see each other's keys.
  const store = await openStore(storeUrl, { namespace: `bench-${randomBytes(6).toString('hex')}` });
  const raw = new RawCaller(apiUrl);
  // No retries: a failed call must surface, not hide inside a slow sample.
  const client = new AsyntaiClient({ apiKey: BENCH_API_KEY, baseUrl: apiUrl, retries: 0 });
  // userRateLimit 0: the bench sends far more than a person could, from one user.
  const bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger: createLogger({ level: 'silent' }), userRateLimit: 0 });
  const reply = noopReply();
  let sent = 0;
  let rawSessions: string[] = [];

  const rawCall = async (i: number) => {
    const thread = Math.floor(i / MESSAGES_PER_THREAD);
    rawSessions[thread] ??= rawSessionId();
    await raw.chat(question(i), rawSessions[thread]);
  };
  const bridgedCall = (i: number, prefix: string) => {
    sent++;
    return bridge.handle(benchIncoming(`shell:${prefix}-${Math.floor(i / MESSAGES_PER_THREAD)}`, `${prefix}-${i}`, question(i)), reply);
  };

  try {
    // Latency, paired.
    const rawMs: number[] = [];
    const bridgedMs: number[] = [];
    const addedMs: number[] = [];
    for (let i = 0; i < WARMUP_PAIRS + LATENCY_PAIRS; i++) {
      let r = 0;
      let b = 0;
      const timeRaw = async () => {
        const t = nowMs();
        await rawCall(i);
        r = nowMs() - t;
      };
      const timeBridged = async () => {
        const t = nowMs();
        await bridgedCall(i, 'lat');
        b = nowMs() - t;
      };
      if (i % 2 === 0) {
        await timeRaw();
        await timeBridged();
      } else {
        await timeBridged();
        await timeRaw();
      }
      if (i >= WARMUP_PAIRS) {
        rawMs.push(r);
        bridgedMs.push(b);
        addedMs.push(b - r);
      }
    }

    // CPU per message, in alternating blocks.
    let rawCpu = 0;
    let bridgedCpu = 0;
    rawSessions = [];
    for (let block = 0; block < CPU_BLOCKS * 2; block++) {
      const bridged = block % 2 === (Math.floor(block / 2) % 2 === 0 ? 1 : 0);
      const start = cpuMicros();
      for (let i = 0; i < CPU_BLOCK; i++) {
        const n = block * CPU_BLOCK + i;
        if (bridged) await bridgedCall(n, 'cpu');
        else await rawCall(n);
      }
      const used = cpuMicros() - start;
      if (bridged) bridgedCpu += used;
      else rawCpu += used;
    }

    // Throughput.
    let round = 0;
    const concurrent = async (send: (thread: number, message: number) => Promise<unknown>): Promise<number> => {
      const t = nowMs();
      await Promise.all(
        Array.from({ length: THROUGHPUT_THREADS }, async (_, thread) => {
          for (let m = 0; m < THROUGHPUT_MESSAGES; m++) await send(thread, m);
        }),
      );
      return (THROUGHPUT_THREADS * THROUGHPUT_MESSAGES) / ((nowMs() - t) / 1000);
    };
    const rawRound = () => {
      const sessions = Array.from({ length: THROUGHPUT_THREADS }, rawSessionId);
      return concurrent((thread, m) => raw.chat(question(m), sessions[thread]!));
    };
    const bridgedRound = () => {
      const prefix = `tp${round++}`;
      return concurrent((thread, m) => {
        sent++;
        return bridge.handle(benchIncoming(`shell:${prefix}-${thread}`, `${prefix}-${thread}-${m}`, question(m)), reply);
      });
    };
    // The latency and CPU runs above warmed both paths; one round each, the order set by the run.
    let rawPerSecond: number;
    let bridgedPerSecond: number;
    if (RAW_FIRST) {
      rawPerSecond = await rawRound();
      bridgedPerSecond = await bridgedRound();
    } else {
      bridgedPerSecond = await bridgedRound();
      rawPerSecond = await rawRound();
    }

    // Every bridged message must have been answered, not apologised for.
    if (reply.texts !== sent) throw new Error(`${label}: ${reply.texts} answers for ${sent} messages`);
    const result: CoreRunResult = {
      store: label,
      raw: summarize(rawMs),
      bridged: summarize(bridgedMs),
      added: summarize(addedMs),
      rawCpuMicros: rawCpu / (CPU_BLOCKS * CPU_BLOCK),
      bridgedCpuMicros: bridgedCpu / (CPU_BLOCKS * CPU_BLOCK),
      rawPerSecond,
      bridgedPerSecond,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await clearStore(store);
    await store.close();
    await client.close();
    await raw.close();
  }
}

/** Deletes this run's keys, so a shared Redis is left as it was found. */
async function clearStore(store: Awaited<ReturnType<typeof openStore>>): Promise<void> {
  const keys = await store.keys('');
  for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((key) => store.delete(key)));
}

await main();
