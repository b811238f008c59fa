/**
 * A Keyv storage adapter on better-sqlite3: the same table and rows as @keyv/sqlite
 * (`key VARCHAR(255) PRIMARY KEY, value TEXT`, the value being Keyv's serialized
 * `{value, expires}` envelope), so a state file written by either is read by the other.
 *
 * Why not @keyv/sqlite: it runs on node-sqlite3, which sends every query through libuv's thread
 * pool and prepares it again each time; a message makes two to four store calls, and SQLite then
 * cost 5–7× the API call itself (README "Performance"). better-sqlite3 runs prepared statements
 * synchronously on the calling thread: a key lookup in a WAL file is a few microseconds.
 *
 * Being synchronous, a call cannot be timed out: a write waiting for another process's lock blocks
 * this process for at most the busy timeout, then fails with SQLITE_BUSY.
 */
import Database from 'better-sqlite3';

interface Row {
  key: string;
  value: string;
}

/** Keyv's storage-adapter shape, for one SQLite file; also the atomic calls the state store needs. */
export class SqliteKeyvStore {
  /** Read by Keyv (dialect, url) for diagnostics only. */
  readonly opts: { dialect: 'sqlite'; url: string };
  /** Set by Keyv; `clear()` deletes only this namespace's keys. */
  namespace?: string;
  readonly #db: Database.Database;
  readonly #select: Database.Statement<[string], Row>;
  readonly #upsert: Database.Statement<[string, string]>;
  readonly #delete: Database.Statement<[string]>;
  readonly #insertIfAbsent: Database.Statement<[string, string, number], { key: string }>;
  readonly #keysWithPrefix: Database.Statement<[number, string], { key: string }>;
  readonly #purge: Database.Statement<[number]>;
  /** Writes waiting for the next group commit, in the order they were issued. */
  #batch: Array<{ run: () => unknown; resolve: (value: unknown) => void; reject: (error: Error) => void }> = [];
  #flushTimer: NodeJS.Immediate | undefined;

  /**
   * Opens (creating it if need be) the file at `path` and its table. Throws on a file that is not
   * a database or cannot be opened. WAL with synchronous=NORMAL: a write does not wait for a disk
   * sync (about 1 ms each); a power cut may lose the last writes, never the file.
   */
  constructor(path: string, options: { table: string; busyTimeoutMs: number }) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.table)) throw new Error(`invalid table name ${JSON.stringify(options.table)}`);
    this.opts = { dialect: 'sqlite', url: `sqlite://${path}` };
    this.#db = new Database(path, { timeout: options.busyTimeoutMs });
    try {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      const table = options.table;
      this.#db.exec(`CREATE TABLE IF NOT EXISTS ${table}(key VARCHAR(255) PRIMARY KEY, value TEXT )`);
      this.#select = this.#db.prepare(`SELECT key, value FROM ${table} WHERE key = ?`);
      this.#upsert = this.#db.prepare(`INSERT INTO ${table} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
      this.#delete = this.#db.prepare(`DELETE FROM ${table} WHERE key = ?`);
      // Inserts, or replaces an expired entry (Keyv treats `now > expires` as expired); RETURNING
      // yields a row only when a row was written, in one statement, so one writer wins even
      // across processes sharing the file.
      this.#insertIfAbsent = this.#db.prepare(`INSERT INTO ${table} (key, value) VALUES (?, ?)
        ON CONFLICT(key) DO UPDATE SET value = excluded.value
        WHERE json_extract(${table}.value, '$.expires') < ?
        RETURNING key`);
      // substr rather than LIKE: keys may hold `%` and `_`.
      this.#keysWithPrefix = this.#db.prepare(`SELECT key FROM ${table} WHERE substr(key, 1, ?) = ?`);
      this.#purge = this.#db.prepare(`DELETE FROM ${table} WHERE json_extract(value, '$.expires') < ?`);
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  get(key: string): Promise<string | undefined> {
    return this.#read(() => this.#select.get(key)?.value);
  }

  set(key: string, value: string): Promise<void> {
    return this.#write(() => void this.#upsert.run(key, value));
  }

  delete(key: string): Promise<boolean> {
    return this.#write(() => this.#delete.run(key).changes > 0);
  }

  clear(): Promise<void> {
    const prefix = this.namespace ? `${this.namespace}:` : '';
    return this.#write(() => {
      for (const key of this.#keysWithPrefix.all(prefix.length, prefix)) this.#delete.run(key.key);
    });
  }

  disconnect(): Promise<void> {
    this.#flush();
    return settle(() => {
      if (this.#db.open) this.#db.close();
    });
  }

  /** Stores `serialized` under `key` unless a live entry is there (expiry per Keyv's envelope); true when it did. */
  insertIfAbsent(key: string, serialized: string): Promise<boolean> {
    return this.#write(() => this.#insertIfAbsent.get(key, serialized, Date.now()) !== undefined);
  }

  /** The stored keys starting with `prefix`, expired ones included. */
  keysWithPrefix(prefix: string): Promise<string[]> {
    return this.#read(() => this.#keysWithPrefix.all(prefix.length, prefix).map((row) => row.key));
  }

  /** Deletes the entries whose envelope has expired; returns how many. */
  purgeExpired(): Promise<number> {
    return this.#write(() => this.#purge.run(Date.now()).changes);
  }

  /**
   * Group commit: writes issued in one turn of the event loop run in one transaction at
   * `setImmediate`. A commit (a WAL append) costs about 20 µs whatever it holds, and under load
   * many messages' claims and marks arrive in the same turn (README "Performance"). Alone, a
   * write waits only for the current turn to end.
   */
  #write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#batch.push({ run, resolve: resolve as (value: unknown) => void, reject });
      this.#flushTimer ??= setImmediate(() => this.#flush());
    });
  }

  /** Reads see every write issued before them: the pending batch is committed first. */
  #read<T>(run: () => T): Promise<T> {
    this.#flush();
    return settle(run);
  }

  #flush(): void {
    if (this.#flushTimer) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    let results: unknown[];
    try {
      // IMMEDIATE: the write lock is taken (or waited for) at the start, not midway.
      results = this.#db.transaction(() => batch.map((op) => op.run())).immediate();
    } catch (error) {
      // Lock, disk or closed file: every write of the batch failed alike.
      for (const op of batch) op.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    batch.forEach((op, i) => op.resolve(results[i]));
  }
}

/** The promise-returning shape Keyv and the store expect, around a call that runs synchronously: a throw becomes a rejection. */
function settle<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
