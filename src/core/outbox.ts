/**
 * Answers the assistant already gave (and the plan already paid for) that the platform would not
 * take — a long 429, a burst of 5xx, a dead connection — are kept in the store and delivered
 * through `Adapter.send` once the platform takes them again: in order per thread, for at most
 * `maxAgeMs` (then dropped with a warning), by whichever instance gets there first.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { StateStore } from './state-store.js';
import type { Adapter, PlatformName } from './types.js';

/** One kept answer, as stored. */
interface KeptAnswer {
  platform: PlatformName;
  threadKey: string;
  markdown: string;
  keptAt: number;
}

export interface OutboxOptions {
  store: StateStore;
  logger: Logger;
  /** How long an answer is kept before it is given up; default one hour. */
  maxAgeMs?: number;
  /** How often answers kept by this process are retried; default 10 s. */
  retryMs?: number;
  /** How often the whole store is scanned for answers kept before a restart or by a dead instance; default 2 min. */
  scanMs?: number;
}

const PREFIX = 'outbox:';
/** Separates the thread key from the sort part of an entry's key; thread keys never contain it. */
const SEPARATOR = '|';
/** While one instance delivers a thread's kept answers, others leave that thread alone. */
const LEASE_MS = 30_000;

export class Outbox {
  private readonly senders = new Map<PlatformName, Adapter['send']>();
  /** Threads with answers this process kept and has not delivered yet. */
  private readonly waiting = new Set<string>();
  private readonly maxAgeMs: number;
  private readonly retryMs: number;
  private readonly scanMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly options: OutboxOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 60 * 60_000;
    this.retryMs = options.retryMs ?? 10_000;
    this.scanMs = options.scanMs ?? 2 * 60_000;
  }

  /** Lets the outbox deliver through `adapter`. */
  attach(adapter: Adapter): void {
    this.senders.set(adapter.platform, adapter.send.bind(adapter));
  }

  /** Starts retrying: a scan now (answers kept before a restart), then on timers. */
  start(): void {
    this.scanTimer ??= setInterval(() => void this.flush(true), this.scanMs).unref();
    this.retryTimer ??= setInterval(() => {
      if (this.waiting.size > 0) void this.flush(false);
    }, this.retryMs).unref();
    void this.flush(true);
  }

  /** Stops the timers and waits for a delivery under way. */
  async stop(): Promise<void> {
    clearInterval(this.scanTimer);
    clearInterval(this.retryTimer);
    this.scanTimer = this.retryTimer = undefined;
    await this.flushing;
  }

  /**
   * Whether this thread has answers waiting here: a newer answer must then wait behind them, or
   * it would overtake them. In-process only, so it costs nothing on the per-message path.
   */
  holds(threadKey: string): boolean {
    return this.waiting.has(threadKey);
  }

  /** Keeps an answer for later delivery. Rejects only when the store fails too. */
  async keep(platform: PlatformName, threadKey: string, markdown: string): Promise<void> {
    const keptAt = Date.now();
    const sortable = `${keptAt.toString().padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
    const entry: KeptAnswer = { platform, threadKey, markdown, keptAt };
    await this.options.store.set(`${PREFIX}${threadKey}${SEPARATOR}${sortable}`, entry, this.maxAgeMs);
    this.waiting.add(threadKey);
  }

  /**
   * Tries to deliver kept answers now: this process's (or, with `everything`, every instance's in
   * the store), oldest first per thread; a thread stops at its first failure to keep its order.
   */
  flush(everything = false): Promise<void> {
    this.flushing ??= this.deliver(everything)
      .catch((err: unknown) => this.options.logger.warn({ err }, 'outbox delivery failed; will retry'))
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async deliver(everything: boolean): Promise<void> {
    const { store } = this.options;
    const keys = (await store.keys(PREFIX)).sort();
    const byThread = new Map<string, string[]>();
    for (const key of keys) {
      const threadKey = key.slice(PREFIX.length, key.lastIndexOf(SEPARATOR));
      if (!everything && !this.waiting.has(threadKey)) continue;
      byThread.set(threadKey, [...(byThread.get(threadKey) ?? []), key]);
    }
    for (const threadKey of this.waiting) if (!byThread.has(threadKey)) this.waiting.delete(threadKey);
    for (const [threadKey, entries] of byThread) {
      const lease = `outbox-lease:${threadKey}`;
      if (!(await store.setIfNotExists(lease, 'delivering', LEASE_MS))) continue;
      try {
        if (await this.deliverThread(entries)) this.waiting.delete(threadKey);
      } finally {
        await store.delete(lease);
      }
    }
  }

  /** Delivers one thread's entries in order; true when none is left. */
  private async deliverThread(keys: readonly string[]): Promise<boolean> {
    const { store, logger } = this.options;
    for (const key of keys) {
      const entry = await store.get<KeptAnswer>(key);
      if (!entry) continue; // delivered by another instance, or expired
      if (Date.now() - entry.keptAt > this.maxAgeMs) {
        logger.warn({ thread: entry.threadKey, keptAt: new Date(entry.keptAt).toISOString() }, 'outbox: gave up an answer the platform would not take for an hour');
        await store.delete(key);
        continue;
      }
      const send = this.senders.get(entry.platform);
      if (!send) return false; // that adapter is not running here: another instance may deliver it
      try {
        await send(entry.threadKey, entry.markdown);
      } catch (err) {
        logger.debug({ err, thread: entry.threadKey }, 'outbox: the platform still refuses');
        return false;
      }
      await store.delete(key);
      logger.info({ thread: entry.threadKey }, 'outbox: delivered a kept answer');
    }
    return true;
  }
}
