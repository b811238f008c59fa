/**
 * The backends the store suites run against: memory, a temp SQLite file, and Redis when
 * REDIS_URL is set (under a namespace unique to the run, cleared afterwards).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyv } from '@keyv/redis';
import { openStore, type StateStore } from '../../src/core/state-store.js';

export const redisUrl = process.env.REDIS_URL;

export type BackendName = 'memory' | 'sqlite' | 'redis';

export const BACKENDS: readonly BackendName[] = ['memory', 'sqlite', 'redis'];

export interface Backend {
  /** Whether two stores opened on it see the same data (memory:// stores are private). */
  readonly shared: boolean;
  /** Opens a store on the backend's URL and namespace; `closeAll` closes it. */
  open(): Promise<StateStore>;
  /** Closes every store opened so far (call after each test). */
  closeAll(): Promise<void>;
  /** Removes everything the run wrote (call after all tests). */
  cleanup(): Promise<void>;
}

/** Prints once per file why the Redis suite is missing, so a skip is never silent. */
export function warnIfRedisSkipped(): void {
  if (!redisUrl) console.warn('REDIS_URL unset: Redis store tests skipped');
}

export function createBackend(name: BackendName): Backend {
  const namespace = `test-${randomUUID()}`;
  const opened: StateStore[] = [];
  let dir: string | undefined;

  const url = async (): Promise<string> => {
    switch (name) {
      case 'memory':
        return 'memory://';
      case 'sqlite':
        dir ??= await mkdtemp(join(tmpdir(), 'asyntai-store-'));
        return `sqlite://${join(dir, 'state.sqlite')}`;
      case 'redis':
        if (!redisUrl) throw new Error('REDIS_URL unset');
        return redisUrl;
    }
  };

  return {
    shared: name !== 'memory',
    async open() {
      const store = await openStore(await url(), { namespace });
      opened.push(store);
      return store;
    },
    async closeAll() {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    },
    async cleanup() {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      if (name === 'redis' && redisUrl) {
        // Keyv's own clear removes exactly the keys under this run's namespace.
        const keyv = createKeyv(redisUrl, { namespace });
        await keyv.clear();
        await keyv.disconnect();
      }
    },
  };
}
