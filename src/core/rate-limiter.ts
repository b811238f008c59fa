/**
 * A token bucket per user: `perMinute` messages a minute with bursts up to the same number, so
 * one noisy user cannot spend the plan's monthly quota. Buckets idle long enough to be full are
 * dropped, so memory stays bounded by active users.
 */
/**
 * A per-user message limit: `RateLimiter` in-process (memory, SQLite), `RedisRateLimiter` shared
 * by every instance on one Redis.
 */
export interface UserRateLimit {
  /** Counts one message of `userKey`; false when the user must wait. */
  take(userKey: string): boolean | Promise<boolean>;
  /** Seconds until `userKey` may send again (0 when it may now). */
  retryAfterSeconds(userKey: string): number | Promise<number>;
}

export class RateLimiter implements UserRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  /** `perMinute` 0 turns limiting off. `now` is injectable for tests. */
  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `userKey`; false when the user must wait. */
  take(userKey: string): boolean {
    if (this.perMinute <= 0) return true;
    const now = this.now();
    this.sweep(now);
    const bucket = this.refilled(userKey, now);
    this.buckets.set(userKey, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Seconds until `userKey` may send again (0 when it may now). */
  retryAfterSeconds(userKey: string): number {
    if (this.perMinute <= 0) return 0;
    const { tokens } = this.refilled(userKey, this.now());
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 60) / this.perMinute);
  }

  /** The user's bucket as of `now`: a new one is full; tokens flow back at perMinute a minute. */
  private refilled(userKey: string, now: number): { tokens: number; at: number } {
    const bucket = this.buckets.get(userKey);
    if (!bucket) return { tokens: this.perMinute, at: now };
    return { tokens: Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) * this.perMinute) / 60_000), at: now };
  }

  /** Once a minute, forget buckets that have refilled completely. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, b] of this.buckets) if (now - b.at >= 60_000) this.buckets.delete(key);
  }
}
