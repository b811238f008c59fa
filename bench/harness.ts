/**
 * Small helpers for `bench/run.ts`: the adapter side of the core (an `Incoming` builder and a
 * no-op `Reply`), percentiles, memory snapshots with a forced GC, and a plain-text table.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { Incoming, Reply } from '../src/core/types.js';

/** A question as the shell adapter would deliver it: no command, nobody else in the thread. */
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

/** Median, 95th percentile and mean of a set of durations in milliseconds. */
export interface Summary {
  n: number;
  medianMs: number;
  p95Ms: number;
  meanMs: number;
}

/** Nearest-rank percentiles: no interpolation, so every reported value was actually observed. */
export function summarize(durationsMs: readonly number[]): Summary {
  if (durationsMs.length === 0) throw new Error('summarize: no samples');
  const sorted = [...durationsMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return {
    n: sorted.length,
    medianMs: at(0.5),
    p95Ms: at(0.95),
    meanMs: sorted.reduce((sum, x) => sum + x, 0) / sorted.length,
  };
}

/** How a full GC can be triggered in this process, if at all. */
export type GcSource = 'expose-gc flag' | 'v8.setFlagsFromString' | 'unavailable';

/**
 * Finds a way to force a full GC. `npm run bench` runs plain `tsx`, which has no `--expose-gc`;
 * turning the flag on at run time and fetching `gc` from a fresh context is the known workaround
 * (Node documents setFlagsFromString as unsupported, hence the fallback to no GC at all).
 */
export function findGc(): { gc: (() => void) | undefined; source: GcSource } {
  if (typeof globalThis.gc === 'function') {
    const gc = globalThis.gc;
    return { gc: () => void gc(), source: 'expose-gc flag' };
  }
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') return { gc: () => void (gc as () => unknown)(), source: 'v8.setFlagsFromString' };
  } catch {
    // Not available on this runtime: memory figures are then reported without a forced GC.
  }
  return { gc: undefined, source: 'unavailable' };
}

/** Process memory in bytes. */
export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
}

/** Memory after a forced GC when one is available (twice: the first pass may only promote). */
export function memorySnapshot(gc: (() => void) | undefined): MemorySnapshot {
  gc?.();
  gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Prints rows as aligned columns; the first row is the header. Numbers are right-aligned. */
export function printTable(title: string, rows: ReadonlyArray<readonly string[]>): void {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const numeric = /^[-+]?[\d.,]+\s*[a-zA-Z/%×]*$/;
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
