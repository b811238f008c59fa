import { describe, expect, it } from 'vitest';
import { KeyedQueue, QueueFullError } from '../../src/core/keyed-queue.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('KeyedQueue', () => {
  it('runs one key in order and other keys alongside', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const hold = deferred();
    const a1 = queue.run('a', async () => {
      await hold.promise;
      log.push('a1');
    });
    const a2 = queue.run('a', () => Promise.resolve(log.push('a2')));
    await queue.run('b', () => Promise.resolve(log.push('b1')));
    expect(log).toEqual(['b1']);
    hold.resolve();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['b1', 'a1', 'a2']);
  });

  it('goes on after a failed task and forgets idle keys', async () => {
    const queue = new KeyedQueue();
    await expect(queue.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(queue.run('a', () => Promise.resolve(42))).resolves.toBe(42);
    expect(queue.activeKeys).toBe(0);
  });

  it('refuses beyond maxPending waiting tasks', async () => {
    const queue = new KeyedQueue(2);
    const hold = deferred();
    const running = queue.run('a', () => hold.promise);
    const waiting = [queue.run('a', () => Promise.resolve()), queue.run('a', () => Promise.resolve())];
    await expect(queue.run('a', () => Promise.resolve())).rejects.toBeInstanceOf(QueueFullError);
    hold.resolve();
    await Promise.all([running, ...waiting]);
    await expect(queue.run('a', () => Promise.resolve('again'))).resolves.toBe('again');
  });
});
