/**
 * How the bridge connects to Redis: the store's connection (state-store.ts), and a second one for
 * the coordination that several instances share beyond the key-value store — the order of each
 * thread's messages (thread-order.ts) and the per-user rate limit (rate-limiter.ts).
 */
import type { RedisClientType } from '@keyv/redis';

/** A Redis that does not answer within this fails start-up rather than hanging it. */
const CONNECT_TIMEOUT_MS = 3_000;

/** A connected client; commands fail at once while it is reconnecting (no offline queue). */
export type RedisConnection = RedisClientType;

/**
 * Connects to `url` (`redis://` or `rediss://`). The first connection must succeed (a wrong URL
 * stops start-up); later drops are retried in the background. While disconnected, commands are
 * refused at once instead of queued, so callers fail fast and users hear "try again shortly".
 */
export async function connectRedis(url: string): Promise<RedisConnection> {
  // Imported here, not at the top: a SQLite deployment never loads the Redis client (about 40
  // modules and 0.1 s of start-up CPU; README "Performance").
  const { createClient, defaultReconnectStrategy } = await import('@keyv/redis');
  let connected = false;
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries: number) => (connected ? defaultReconnectStrategy(retries) : false),
    },
  }) as RedisConnection;
  // node-redis emits every failed reconnect attempt; commands report their own errors.
  client.on('error', () => undefined);
  await client.connect();
  connected = true;
  return client;
}
