/**
 * Helpers shared by the benchmark scripts: the instant API as a child process, a raw undici call
 * (the baseline every figure is a ratio to), the adapter side of the core (an `Incoming` and a
 * no-op `Reply`), percentiles, a process's RSS, and a plain-text table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { Incoming, Reply } from '../src/core/types.js';

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The API key every benchmark sends; the instant API accepts any. */
export const BENCH_API_KEY = 'bench-key';

/** A child process that printed one JSON line when ready. */
export interface ChildHandle<T> {
  child: ChildProcess;
  ready: T;
  /** SIGTERM, then waits for exit. */
  stop(): Promise<void>;
}

/**
 * Starts `node [--import tsx] script args…` and resolves with the first JSON line it prints on
 * stdout. Rejects if it exits first. `tsx` is loaded only for .ts scripts.
 */
export async function startChild<T>(script: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<ChildHandle<T>> {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<T>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      try {
        resolve(JSON.parse(line) as T);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
  return {
    child,
    ready,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The instant API (bench/instant-api.ts) in its own process. */
export async function startInstantApi(): Promise<{ url: string; origin: string; setDelay(ms: number): Promise<void>; chats(): Promise<number>; stop(): Promise<void> }> {
  const handle = await startChild<{ port: number }>(join(ROOT, 'bench/instant-api.ts'));
  const origin = `http://127.0.0.1:${handle.ready.port}`;
  const control = new Pool(origin, { connections: 1 });
  return {
    url: `${origin}/api/v1/`,
    origin,
    setDelay: async (ms) => {
      await (await control.request({ method: 'POST', path: '/__delay', body: JSON.stringify({ ms }) })).body.text();
    },
    chats: async () => ((await (await control.request({ method: 'GET', path: '/__stats' })).body.json()) as { chats: number }).chats,
    stop: async () => {
      await control.close();
      await handle.stop();
    },
  };
}

/**
 * The baseline: one POST /chat/ with undici on a keep-alive pool, body read and JSON-parsed,
 * nothing else. The bridge's client makes the same request with the same pool size.
 */
export class RawCaller {
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;

  constructor(private readonly apiUrl: string) {
    const url = new URL(apiUrl);
    this.pool = new Pool(url.origin, { connections: 16, keepAliveTimeout: 4_000 });
    this.headers = { authorization: `Bearer ${BENCH_API_KEY}`, accept: 'application/json', 'content-type': 'application/json' };
  }

  async chat(message: string, sessionId: string): Promise<string> {
    const res = await this.pool.request({
      method: 'POST',
      path: `${new URL(this.apiUrl).pathname}chat/`,
      headers: this.headers,
      body: JSON.stringify({ message, session_id: sessionId }),
    });
    const body = (await res.body.json()) as { response: string };
    return body.response;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** A question as a chat adapter would deliver it: no command, nobody else in the thread. */
export function benchIncoming(threadKey: string, dedupeKey: string, text: string): Incoming {
  return {
    platform: 'shell',
    threadKey,
    spaceKey: 'shell:bench',
    dedupeKey,
    sender: { id: 'bench-user', isAdmin: false },
    text,
    attachments: [],
    isPrivate: true,
  };
}

/** A `Reply` that sends nothing, so only the core's own work is timed. Counts texts for a sanity check. */
export interface CountingReply extends Reply {
  readonly texts: number;
}

/**
 * A no-op `Reply`. It has `typing` because every real adapter does, so the core's "typing…"
 * timer is part of what is measured.
 */
export function noopReply(): CountingReply {
  let texts = 0;
  return {
    get texts() {
      return texts;
    },
    text() {
      texts++;
      return Promise.resolve();
    },
    typing() {
      return Promise.resolve();
    },
  };
}

/** Median and 99th percentile of a set of durations in milliseconds. */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
}

/** Nearest-rank percentiles: no interpolation, so every reported value was actually observed. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summarize: no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99) };
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return summarize(values).p50;
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function nowMs(): number {
  return performance.now();
}

/** CPU time (user + system) of this process in microseconds. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The resident set size of process `pid` in bytes, from /proc (Linux); undefined elsewhere. */
export function rssOf(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system) process `pid` has used, in seconds, from /proc (Linux, 100 ticks per
 * second as on every mainstream kernel); undefined elsewhere. Unlike wall time, it does not grow
 * when other work on the machine delays the process.
 */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Prints rows as aligned columns; the first row is the header. Numbers are right-aligned. */
export function printTable(title: string, rows: ReadonlyArray<readonly string[]>): void {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const numeric = /^[-+≤≥]?\s?[\d.,]+\s*[a-zA-Z/%×µ]*$/;
  const line = (row: readonly string[]) =>
    row.map((cell, i) => (numeric.test(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(`\n${title}`);
  rows.forEach((row, i) => {
    console.log(line(row));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

/** `value` with `digits` decimals. */
export function fixed(value: number, digits = 2): string {
  return value.toFixed(digits);
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
