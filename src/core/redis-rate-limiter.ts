/**
 * USER_RATE_LIMIT shared by every instance on one Redis: a counter per user and minute (INCR,
 * expiring with its minute). A fixed window rather than the in-process token bucket, so each
 * message costs one round trip; a user may send up to twice the limit across a minute boundary.
 */
import type { UserRateLimit } from './rate-limiter.js';
import type { RedisConnection } from './redis-connection.js';
import { withinTime } from './state-store.js';

const WINDOW_MS = 60_000;

export class RedisRateLimiter implements UserRateLimit {
  private readonly prefix: string;

  /** `perMinute` 0 turns limiting off. `now` is injectable for tests. */
  constructor(
    private readonly redis: RedisConnection,
    private readonly perMinute: number,
    private readonly options: { namespace?: string; timeoutMs?: number; now?: () => number } = {},
  ) {
    this.prefix = `${options.namespace ?? 'bridge'}::rate:`;
  }

  async take(userKey: string): Promise<boolean> {
    if (this.perMinute <= 0) return true;
    const key = this.keyFor(userKey);
    // The window's own expiry, plus a margin so a clock slightly behind Redis still finds it.
    const replies = await withinTime('count a message for the rate limit', this.options.timeoutMs ?? 2_000, this.redis.multi().incr(key).pExpire(key, WINDOW_MS + 5_000).exec());
    return Number(replies[0]) <= this.perMinute;
  }

  /** Seconds until the current minute's window ends; asked after `take` refused. */
  retryAfterSeconds(): number {
    if (this.perMinute <= 0) return 0;
    const now = this.now();
    return Math.ceil((WINDOW_MS - (now % WINDOW_MS)) / 1000);
  }

  private keyFor(userKey: string): string {
    return `${this.prefix}${userKey}:${Math.floor(this.now() / WINDOW_MS)}`;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
