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
    return settle(() => this.#select.get(key)?.value);
  }

  set(key: string, value: string): Promise<void> {
    return settle(() => void this.#upsert.run(key, value));
  }

  delete(key: string): Promise<boolean> {
    return settle(() => this.#delete.run(key).changes > 0);
  }

  clear(): Promise<void> {
    const prefix = this.namespace ? `${this.namespace}:` : '';
    return settle(() => {
      for (const key of this.#keysWithPrefix.all(prefix.length, prefix)) this.#delete.run(key.key);
    });
  }

  disconnect(): Promise<void> {
    return settle(() => {
      if (this.#db.open) this.#db.close();
    });
  }

  /** Stores `serialized` under `key` unless a live entry is there (expiry per Keyv's envelope); true when it did. */
  insertIfAbsent(key: string, serialized: string): Promise<boolean> {
    return settle(() => this.#insertIfAbsent.get(key, serialized, Date.now()) !== undefined);
  }

  /** The stored keys starting with `prefix`, expired ones included. */
  keysWithPrefix(prefix: string): Promise<string[]> {
    return settle(() => this.#keysWithPrefix.all(prefix.length, prefix).map((row) => row.key));
  }

  /** Deletes the entries whose envelope has expired; returns how many. */
  purgeExpired(): Promise<number> {
    return settle(() => this.#purge.run(Date.now()).changes);
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
