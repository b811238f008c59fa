import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/core/rate-limiter.js';

describe('RateLimiter', () => {
  it('allows a burst of perMinute, then refills one token per 60/perMinute seconds', () => {
    let now = 0;
    const limiter = new RateLimiter(3, () => now);
    expect([limiter.take('u'), limiter.take('u'), limiter.take('u'), limiter.take('u')]).toEqual([true, true, true, false]);
    expect(limiter.retryAfterSeconds('u')).toBe(20);
    now += 20_000;
    expect(limiter.take('u')).toBe(true);
    expect(limiter.take('u')).toBe(false);
  });

  it('keeps users apart', () => {
    const limiter = new RateLimiter(1, () => 0);
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false);
    expect(limiter.take('b')).toBe(true);
  });

  it('0 turns limiting off', () => {
    const limiter = new RateLimiter(0, () => 0);
    expect(Array.from({ length: 100 }, () => limiter.take('u')).every(Boolean)).toBe(true);
  });
});
