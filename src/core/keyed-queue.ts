/**
 * Runs tasks one at a time per key and concurrently across keys, so the messages of one thread
 * are answered in order while other threads proceed. Each key's queue is bounded: beyond
 * `maxPending` waiting tasks `run` refuses at once, so one flooded thread cannot grow memory.
 */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

interface Lane {
  tail: Promise<void>;
  /** Tasks queued or running on this key. */
  size: number;
}

export class KeyedQueue {
  private readonly lanes = new Map<string, Lane>();
  private size = 0;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly maxPending = 20) {}

  /** Queues `task` behind the key's earlier tasks; rejects with `QueueFullError` when full. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(key);
    // `size` counts the running task too: maxPending waiting plus the one in progress.
    if (lane && lane.size > this.maxPending) return Promise.reject(new QueueFullError(`queue for ${key} is full`));
    if (!lane) {
      lane = { tail: Promise.resolve(), size: 0 };
      this.lanes.set(key, lane);
    }
    const current = lane;
    current.size++;
    this.size++;
    const result = current.tail.then(task);
    current.tail = result.then(
      () => this.release(key, current),
      () => this.release(key, current),
    );
    return result;
  }

  /** Tasks queued or running, over all keys (for metrics). */
  get pending(): number {
    return this.size;
  }

  /** Resolves once no task is queued or running (for a graceful shutdown). */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Keys with work queued or running (for health and tests). */
  get activeKeys(): number {
    return this.lanes.size;
  }

  private release(key: string, lane: Lane): void {
    lane.size--;
    this.size--;
    if (lane.size === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
    if (this.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
