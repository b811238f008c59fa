import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, StoreOpenError, StoreUnavailableError } from '../../src/core/state-store.js';
import { BACKENDS, createBackend, redisUrl, warnIfRedisSkipped } from './store-backends.js';

warnIfRedisSkipped();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Short enough to wait out; the waits below are several times longer so slow CI still passes. */
const TTL_MS = 60;
const PAST_TTL_MS = 250;

for (const name of BACKENDS) {
  describe.skipIf(name === 'redis' && !redisUrl)(`${name} state store`, () => {
    const backend = createBackend(name);
    afterEach(() => backend.closeAll());
    afterAll(() => backend.cleanup());

    it('gets, sets, overwrites and deletes JSON values', async () => {
      const store = await backend.open();
      expect(await store.get('missing')).toBeUndefined();
      const value = { text: ':starts with a colon', n: 3, list: [1, 'two', null], nested: { ok: true } };
      await store.set('basic', value);
      expect(await store.get('basic')).toEqual(value);
      await store.set('basic', 'replaced');
      expect(await store.get('basic')).toBe('replaced');
      expect(await store.delete('basic')).toBe(true);
      expect(await store.get('basic')).toBeUndefined();
      expect(await store.delete('basic')).toBe(false);
    });

    it('forgets a value once its TTL has passed', async () => {
      const store = await backend.open();
      await store.set('ttl', 'soon gone', TTL_MS);
      await store.set('forever', 'stays');
      await sleep(PAST_TTL_MS);
      expect(await store.get('ttl')).toBeUndefined();
      expect(await store.get('forever')).toBe('stays');
    });

    it('rejects a TTL that is not positive', async () => {
      const store = await backend.open();
      await expect(store.set('bad-ttl', 1, 0)).rejects.toThrow(RangeError);
      await expect(store.setIfNotExists('bad-ttl', 1, -5)).rejects.toThrow(RangeError);
    });

    it('setIfNotExists stores once, then refuses while the value lives', async () => {
      const store = await backend.open();
      expect(await store.setIfNotExists('once', 'first')).toBe(true);
      expect(await store.setIfNotExists('once', 'second')).toBe(false);
      expect(await store.get('once')).toBe('first');
    });

    it('setIfNotExists writes what get reads (Keyv envelope and key)', async () => {
      const store = await backend.open();
      const value = { text: ':colon-escaped by Keyv', n: 1.5, list: [true, null] };
      expect(await store.setIfNotExists('envelope', value)).toBe(true);
      expect(await store.get('envelope')).toEqual(value);
      expect(await store.delete('envelope')).toBe(true);
      expect(await store.setIfNotExists('envelope', 'again')).toBe(true);
    });

    it('setIfNotExists treats an expired entry as absent', async () => {
      const store = await backend.open();
      expect(await store.setIfNotExists('lease', 'old', TTL_MS)).toBe(true);
      expect(await store.get('lease')).toBe('old');
      await sleep(PAST_TTL_MS);
      // No get in between: the expired entry is still stored and must be replaced, not respected.
      expect(await store.setIfNotExists('lease', 'new')).toBe(true);
      expect(await store.get('lease')).toBe('new');
      // The expiry came with the value: the replacement (no TTL) does not expire.
      await sleep(PAST_TTL_MS);
      expect(await store.get('lease')).toBe('new');
    });

    it('purges expired entries and keeps live ones', async () => {
      const store = await backend.open();
      await store.set('purge:old', 'x', TTL_MS);
      await store.setIfNotExists('purge:claim', 'x', TTL_MS);
      await store.set('purge:live', 'y');
      await sleep(PAST_TTL_MS);
      // Redis expires entries itself: nothing is left for a purge to find.
      expect(await store.purgeExpired()).toBe(name === 'redis' ? 0 : 2);
      expect(await store.purgeExpired()).toBe(0);
      expect(await store.get('purge:live')).toBe('y');
    });

    it('the expiry set by setIfNotExists is honoured by get', async () => {
      const store = await backend.open();
      expect(await store.setIfNotExists('lease-get', 'short', TTL_MS)).toBe(true);
      await sleep(PAST_TTL_MS);
      expect(await store.get('lease-get')).toBeUndefined();
    });

    it('lists keys by prefix, without the namespace, prefix characters taken literally', async () => {
      const store = await backend.open();
      await store.set('outbox:a|1', 1);
      await store.set('outbox:a|2', 2, 60_000);
      await store.setIfNotExists('outbox:b%_|1', 3);
      await store.set('outboxed', 4);
      await store.set('session:x', 5);
      expect((await store.keys('outbox:')).sort()).toEqual(['outbox:a|1', 'outbox:a|2', 'outbox:b%_|1']);
      expect(await store.keys('outbox:b%_')).toEqual(['outbox:b%_|1']);
      expect(await store.keys('outbox:b%%')).toEqual([]);
      expect(await store.keys('nothing:')).toEqual([]);
    });

    it('50 parallel setIfNotExists on one key: exactly one wins', async () => {
      const store = await backend.open();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.setIfNotExists('race', i)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.get('race')).toBe(results.indexOf(true));
    });

    // Only stores that two instances can share (not memory://) have these cases.
    if (backend.shared) {
      it('two instances racing on one key: exactly one winner, seen by both', async () => {
        const [a, b] = await Promise.all([backend.open(), backend.open()]);
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).setIfNotExists('race-2', i)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await a.get('race-2')).toBe(winner);
        expect(await b.get('race-2')).toBe(winner);
      });

      it('keeps data across close and reopen', async () => {
        const first = await backend.open();
        await first.set('durable', { kept: true });
        await first.close();
        const second = await backend.open();
        expect(await second.get('durable')).toEqual({ kept: true });
      });
    }
  });
}

describe('openStore errors', () => {
  it('rejects an unknown scheme, naming it', async () => {
    const error = await openStore('ftp://example.com/state').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreOpenError);
    expect((error as Error).message).toMatch(/^Cannot open store ftp:\/\/example\.com\/state: unknown scheme "ftp:"/);
  });

  it('fails fast on an unreachable Redis, with the reason and the password masked', async () => {
    const error = await openStore('redis://user:hunter2@127.0.0.1:1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreOpenError);
    const { message } = error as Error;
    expect(message).toContain('redis://user:***@127.0.0.1:1');
    expect(message).not.toContain('hunter2');
    expect(message).toContain('ECONNREFUSED');
    expect(message).not.toContain('\n');
  });

  describe('SQLite', () => {
    let dir: string | undefined;
    afterAll(async () => {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it('reports a path whose folder cannot be created', async () => {
      dir = await mkdtemp(join(tmpdir(), 'asyntai-store-err-'));
      const file = join(dir, 'a-file');
      await writeFile(file, 'not a folder');
      const url = `sqlite://${join(file, 'sub', 'state.sqlite')}`;
      const error = await openStore(url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreOpenError);
      expect((error as Error).message).toMatch(/^Cannot open store sqlite:\/\/.*state\.sqlite: .*(ENOTDIR|EEXIST)/);
    });

    it('reports a file that is not a database', async () => {
      dir ??= await mkdtemp(join(tmpdir(), 'asyntai-store-err-'));
      const file = join(dir, 'junk.sqlite');
      await writeFile(file, 'definitely not SQLite '.repeat(100));
      const error = await openStore(`sqlite://${file}`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreOpenError);
      expect((error as Error).message).toContain('not a database');
    });

    it('reads a file in the layout @keyv/sqlite wrote (same table, key and envelope)', async () => {
      dir ??= await mkdtemp(join(tmpdir(), 'asyntai-store-err-'));
      const file = join(dir, 'older.sqlite');
      const db = new Database(file);
      db.exec('CREATE TABLE IF NOT EXISTS keyv(key VARCHAR(255) PRIMARY KEY, value TEXT )');
      db.prepare('INSERT INTO keyv (key, value) VALUES (?, ?)').run('bridge:session:telegram:1', JSON.stringify({ value: 'sess-1', expires: null }));
      db.close();
      const store = await openStore(`sqlite://${file}`);
      try {
        expect(await store.get('session:telegram:1')).toBe('sess-1');
      } finally {
        await store.close();
      }
    });

    it("fails a write held up by another process's lock with StoreUnavailableError, and recovers", async () => {
      dir ??= await mkdtemp(join(tmpdir(), 'asyntai-store-err-'));
      const file = join(dir, 'locked.sqlite');
      const store = await openStore(`sqlite://${file}`);
      const other = new Database(file);
      try {
        other.exec('BEGIN IMMEDIATE'); // holds the write lock, as a long transaction elsewhere would
        const error = await store.set('k', 1).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toMatch(/^store write failed: .*locked/);
        await expect(store.setIfNotExists('claim', 1)).rejects.toThrow(StoreUnavailableError);
        expect(await store.get('k')).toBeUndefined(); // reads go on: WAL readers do not wait for writers
      } finally {
        if (other.inTransaction) other.exec('ROLLBACK');
        other.close();
      }
      await store.set('k', 2);
      expect(await store.get('k')).toBe(2);
      await store.close();
    });
  });
});
