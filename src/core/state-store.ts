/**
 * The bridge's key-value state (sessions, bindings, dedup marks) on Keyv, behind STORE_URL:
 * SQLite for one host, Redis for several instances, memory for tests and the shell.
 *
 * Keyv has no atomic set-if-absent, so each backend supplies one that writes exactly what
 * `keyv.set` would (same key, same serialized `{value, expires}` envelope): whatever one path
 * writes, the other reads.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Keyv } from 'keyv';
import { connectRedis } from './redis-connection.js';

/** The narrow state store the core needs (after Vercel Chat SDK's StateAdapter). Values are JSON-serialisable. */
export interface StateStore {
  /** The live value under `key`, or undefined when absent or expired. */
  get<T>(key: string): Promise<T | undefined>;
  /** Stores `value`, replacing any; `ttlMs` (positive) makes it expire, none keeps it forever. */
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /** Removes `key`; true when there was an entry. */
  delete(key: string): Promise<boolean>;
  /**
   * Atomically stores `value` unless the key holds a live value; true when this call stored it.
   * Atomic across processes on SQLite (same file) and Redis. An expired entry counts as absent.
   */
  setIfNotExists(key: string, value: unknown, ttlMs?: number): Promise<boolean>;
  /**
   * The keys (without namespace) that start with `prefix`, expired ones possibly included. A scan:
   * for rare background work (the outbox after a restart), never the per-message path.
   */
  keys(prefix: string): Promise<string[]>;
  /**
   * Deletes expired entries now; returns how many. Backends without native expiry (SQLite,
   * memory) also do it every few minutes, so one-day de-duplication marks do not pile up.
   */
  purgeExpired(): Promise<number>;
  /** Releases the connection; further calls fail. Safe to call twice. */
  close(): Promise<void>;
}

/** STORE_URL could not be opened or reached; the message is one line naming the (masked) URL and the reason. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
}

/**
 * A store call failed after start-up (Redis down or refusing writes, SQLite locked or full): the
 * message says which operation and why; `cause` is the backend's error.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

/** STORE_TIMEOUT_MS's default: a store call slower than this fails (the user is told to try again). */
const DEFAULT_TIMEOUT_MS = 2_000;
/** Keys of different deployments sharing one Redis or file stay apart under their namespace. */
const DEFAULT_NAMESPACE = 'bridge';
/**
 * How long a SQLite write waits for another process's lock before failing with SQLITE_BUSY. The
 * driver is synchronous, so this process waits with it: short, though far above the
 * microseconds our own writes hold the lock.
 */
const SQLITE_BUSY_TIMEOUT_MS = 500;
const SQLITE_TABLE = 'keyv';
/** How often SQLite and memory stores delete expired entries (Redis expires them itself). */
const PURGE_INTERVAL_MS = 10 * 60_000;

/**
 * Stores `serialized` under the backend-level `key` unless a live entry is there; true when it
 * did. Called with what Keyv would pass to its adapter's `set`.
 */
type InsertIfAbsent = (key: string, serialized: string, ttlMs: number | undefined) => Promise<boolean>;

/** What each backend supplies: Keyv on it, its atomic insert, and (without native expiry) a purge. */
interface Backend {
  keyv: Keyv;
  insertIfAbsent: InsertIfAbsent;
  /** Keys starting with `prefix`, both as Keyv passes keys to its adapter. */
  keysWithPrefix: (prefix: string) => Promise<string[]>;
  purgeExpired?: () => Promise<number>;
  /**
   * Calls complete on the calling thread (memory, better-sqlite3): nothing to time out, so the store
   * skips the timer per call and only turns failures into StoreUnavailableError.
   */
  synchronous?: boolean;
}

/**
 * Opens the store named by STORE_URL: `sqlite://relative/or/absolute/path.sqlite` (parent folder
 * created), `memory://`, `redis://host:port[/db]` / `rediss://`. Throws `StoreOpenError` when it
 * cannot be opened or reached — checked eagerly with a first read, so start-up fails fast rather
 * than at the first message. Every later Redis call fails within `timeoutMs` (STORE_TIMEOUT_MS,
 * default 2 s) with a StoreUnavailableError rather than waiting for a store that stopped answering;
 * SQLite and memory answer on the calling thread (SQLite waits at most 0.5 s for another
 * process's write lock), and their failures are StoreUnavailableErrors too.
 */
export async function openStore(url: string, options: { namespace?: string; timeoutMs?: number } = {}): Promise<StateStore> {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  const fail = (reason: string) => new StoreOpenError(`Cannot open store ${maskUrl(url)}: ${reason}`);

  let opened: Backend;
  try {
    switch (scheme) {
      case 'memory':
        opened = openMemory(namespace);
        break;
      case 'sqlite':
        opened = await openSqlite(url.slice('sqlite://'.length), namespace);
        break;
      case 'redis':
      case 'rediss':
        opened = await openRedis(url, namespace);
        break;
      default:
        throw fail(`unknown scheme${scheme ? ` "${scheme}:"` : ''} (use sqlite://path, redis://host:port, rediss://… or memory://)`);
    }
  } catch (error) {
    throw error instanceof StoreOpenError ? error : fail(reasonOf(error));
  }

  const store = new KeyvStateStore(opened, opened.synchronous ? undefined : (options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
  try {
    // SQLite opens its file and creates its table lazily: a first read surfaces any failure now.
    await store.get('store:open-check');
  } catch (error) {
    await store.close().catch(() => undefined); // the open failure is the one worth reporting
    throw fail(reasonOf(error));
  }
  return store;
}

class KeyvStateStore implements StateStore {
  #closing: Promise<void> | undefined;
  readonly #purgeTimer: NodeJS.Timeout | undefined;
  private readonly keyv: Keyv;

  constructor(
    private readonly backend: Backend,
    /** Undefined for a synchronous backend: its calls cannot be late. */
    private readonly timeoutMs: number | undefined,
  ) {
    this.keyv = backend.keyv;
    if (backend.purgeExpired) {
      const purge = backend.purgeExpired;
      // A failed purge is retried next time; it must never take the process down.
      this.#purgeTimer = setInterval(() => void purge().catch(() => undefined), PURGE_INTERVAL_MS).unref();
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await unavailable('read', this.keyv.get<T>(key), this.timeoutMs)) ?? undefined;
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<void> {
    const ttl = checkTtl(ttlMs);
    await unavailable('write', this.keyv.set(key, value, ttl), this.timeoutMs);
  }

  delete(key: string): Promise<boolean> {
    return unavailable('delete', this.keyv.delete(key), this.timeoutMs);
  }

  async setIfNotExists(key: string, value: unknown, ttlMs?: number): Promise<boolean> {
    const ttl = checkTtl(ttlMs);
    // The same envelope and key Keyv.set builds, so Keyv.get reads it back (and honours `expires`).
    const serialized = await this.keyv.serializeData({ value, expires: ttl === undefined ? undefined : Date.now() + ttl });
    if (typeof serialized !== 'string') throw new Error('Keyv serializer must produce a string');
    const insert = this.backend.insertIfAbsent(this.keyv._getKeyPrefix(key), serialized, ttl);
    try {
      return await unavailable('write', insert, this.timeoutMs);
    } catch (error) {
      // The caller was told it did not store. If the write lands late anyway (a frozen Redis waking
      // up), undo it: a claim nobody knows about would hold the key for its whole TTL.
      void insert.then((stored) => (stored ? this.keyv.delete(key) : false)).catch(() => undefined);
      throw error;
    }
  }

  async keys(prefix: string): Promise<string[]> {
    const backendPrefix = this.keyv._getKeyPrefix(prefix);
    const strip = backendPrefix.length - prefix.length;
    const found = await unavailable('scan', this.backend.keysWithPrefix(backendPrefix), this.timeoutMs);
    return found.map((key) => key.slice(strip));
  }

  purgeExpired(): Promise<number> {
    return this.backend.purgeExpired?.() ?? Promise.resolve(0);
  }

  close(): Promise<void> {
    clearInterval(this.#purgeTimer);
    this.#closing ??= this.keyv.disconnect();
    return this.#closing;
  }
}

function openMemory(namespace: string): Backend {
  const map = new Map<string, unknown>();
  return {
    keyv: new Keyv(map, { namespace, throwOnErrors: true }),
    // No await between the check and the set: nothing else runs in between.
    insertIfAbsent: (key, serialized) => {
      const current = map.get(key);
      if (typeof current === 'string' && !isExpired(envelopeExpiry(current))) return Promise.resolve(false);
      map.set(key, serialized);
      return Promise.resolve(true);
    },
    keysWithPrefix: (prefix) => Promise.resolve([...map.keys()].filter((key) => key.startsWith(prefix))),
    synchronous: true,
    purgeExpired: () => {
      let purged = 0;
      for (const [key, value] of map) {
        if (typeof value === 'string' && isExpired(envelopeExpiry(value)) && map.delete(key)) purged++;
      }
      return Promise.resolve(purged);
    },
  };
}

/**
 * Creates `dir` and its missing parents one level at a time. Not `mkdir({ recursive: true })`: on
 * Node 20 that never settles under a folder that refuses new entries with ENOENT (`/proc/x`),
 * which hung start-up instead of failing it.
 */
export async function makeFolders(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    await mkdir(d).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error; // another process made it meanwhile
    });
  }
}

async function openSqlite(path: string, namespace: string): Promise<Backend> {
  if (path === '') throw new Error('no file path after sqlite://');
  await makeFolders(dirname(path));
  // Each backend is imported only when its scheme is used: @keyv/redis alone cost about 0.1 s of
  // CPU at every start-up on SQLite (measured by `npm run bench`, README "Performance").
  const { SqliteKeyvStore } = await import('./sqlite-keyv-store.js');
  const adapter = new SqliteKeyvStore(path, { table: SQLITE_TABLE, busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS });
  return {
    keyv: new Keyv(adapter, { namespace, throwOnErrors: true }),
    insertIfAbsent: (key, serialized) => adapter.insertIfAbsent(key, serialized),
    keysWithPrefix: (prefix) => adapter.keysWithPrefix(prefix),
    purgeExpired: () => adapter.purgeExpired(),
    synchronous: true,
  };
}

async function openRedis(url: string, namespace: string): Promise<Backend> {
  const { default: KeyvRedis } = await import('@keyv/redis');
  const client = await connectRedis(url);
  // Wired as @keyv/redis's createKeyv does: the adapter prefixes `namespace::`, Keyv adds nothing.
  const adapter = new KeyvRedis(client, { namespace, throwOnErrors: true });
  return {
    keyv: new Keyv(adapter, { namespace, useKeyPrefix: false, throwOnErrors: true }),
    insertIfAbsent: async (key, serialized, ttlMs) => {
      const reply = await client.set(adapter.createKeyPrefix(key, adapter.namespace), serialized, {
        condition: 'NX',
        ...(ttlMs === undefined ? {} : { expiration: { type: 'PX' as const, value: ttlMs } }),
      });
      return reply !== null;
    },
    keysWithPrefix: async (prefix) => {
      const own = adapter.createKeyPrefix(prefix, adapter.namespace);
      const strip = own.length - prefix.length;
      const keys: string[] = [];
      const pattern = `${own.replace(/[*?[\]\\]/g, '\\$&')}*`;
      for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) keys.push(...batch.map((key) => key.slice(strip)));
      return keys;
    },
  };
}

/**
 * Runs a store call with a time limit: a Redis that stopped answering, or a SQLite lock held
 * elsewhere, would otherwise hold the message (and the user) until TCP or the busy timeout gives
 * up. Any failure becomes a StoreUnavailableError saying `what` failed and why.
 */
export async function withinTime<T>(what: string, timeoutMs: number, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([call, late]);
  } catch (error) {
    throw failed(what, error);
  } finally {
    clearTimeout(timer);
  }
}

function failed(what: string, error: unknown): StoreUnavailableError {
  return new StoreUnavailableError(`${what} failed: ${reasonOf(error)}`, { cause: error });
}

function unavailable<T>(operation: string, call: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  const what = `store ${operation}`;
  if (timeoutMs !== undefined) return withinTime(what, timeoutMs, call);
  return call.catch((error: unknown) => {
    throw failed(what, error);
  });
}

/** Keyv takes 0 as "no expiry" and Redis rejects fractions: accept only positive, rounded up. */
function checkTtl(ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

function envelopeExpiry(serialized: string): number | undefined {
  const { expires } = JSON.parse(serialized) as { expires?: unknown };
  return typeof expires === 'number' ? expires : undefined;
}

/** Keyv's own rule: expired once now is past `expires`. */
function isExpired(expires: number | undefined): boolean {
  return expires !== undefined && Date.now() > expires;
}

/** Hides the password of `scheme://user:password@host`. */
function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/]*@/i, '$1***@');
}

/** One line saying why; Node's dual-stack connect failures are AggregateErrors with no message. */
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') {
    return error.errors.map(reasonOf).join('; ');
  }
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.replace(/\s*\n\s*/g, ' ');
}
