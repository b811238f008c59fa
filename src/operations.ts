/**
 * What running the bridge in production adds around the core, wired in one place for main:
 * metrics, /healthz parts (store and adapters), coordination of several instances on one Redis
 * (thread order, shared rate limit) and the quota watch. Created after the store opens and before
 * the client and the core, which take its hooks; attached once the adapters exist.
 */
import { Registry } from 'prom-client';
import type { AsyntaiClient, AsyntaiClientOptions } from './asyntai/client.js';
import type { Config } from './config.js';
import type { BridgeOptions } from './core/bridge.js';
import type { RedisConnection } from './core/redis-connection.js';
import { RedisRateLimiter } from './core/redis-rate-limiter.js';
import type { StateStore } from './core/state-store.js';
import { RedisThreadOrder } from './core/thread-order.js';
import type { Adapter, PlatformName } from './core/types.js';
import { adapterHealthCheck, storeHealthCheck } from './http/health.js';
import { BridgeMetrics } from './http/metrics.js';
import type { HttpServer } from './http/server.js';
import type { Logger } from './log.js';
import { QuotaWatch } from './quota-watch.js';

type OperationsConfig = Pick<Config, 'storeUrl' | 'storeTimeoutMs' | 'userRateLimit' | 'metrics' | 'usageCheckMs' | 'teamChannel'>;

export class Operations {
  /** Undefined when METRICS=false. */
  readonly metrics: BridgeMetrics | undefined;
  private pendingSource: () => number = () => 0;
  private quotaWatch: QuotaWatch | undefined;
  private readonly threadOrder: RedisThreadOrder | undefined;

  private constructor(
    private readonly config: OperationsConfig,
    private readonly store: StateStore,
    private readonly logger: Logger,
    private readonly redis: RedisConnection | undefined,
    registry: Registry | undefined,
  ) {
    this.metrics = registry ? new BridgeMetrics(registry, () => this.pendingSource()) : undefined;
    this.threadOrder = redis ? new RedisThreadOrder(redis, { timeoutMs: config.storeTimeoutMs }) : undefined;
  }

  /** Connects what several instances share (with a redis:// store) and creates the metrics. */
  static async start(config: OperationsConfig, store: StateStore, logger: Logger, registry = config.metrics ? new Registry() : undefined): Promise<Operations> {
    // Imported only with a Redis store: node-redis costs start-up time that SQLite users need not pay.
    const redis = /^rediss?:\/\//.test(config.storeUrl) ? await (await import('./core/redis-connection.js')).connectRedis(config.storeUrl) : undefined;
    return new Operations(config, store, logger, redis, registry);
  }

  /** For the Asyntai client: times each request and counts failures. */
  get clientHooks(): Pick<AsyntaiClientOptions, 'onResponse'> {
    const metrics = this.metrics;
    if (!metrics) return {};
    return { onResponse: ({ method, path, durationMs, error }) => metrics.asyntaiResponse({ method, path, durationMs, ...(error ? { errorKind: error.kind } : {}) }) };
  }

  /** For SessionMap: counts minted session ids. */
  get onSessionMinted(): ((platform: PlatformName) => void) | undefined {
    const metrics = this.metrics;
    return metrics ? (platform) => metrics.sessionMinted(platform) : undefined;
  }

  /** For the Bridge: metrics events, and on Redis the shared order and rate limit. */
  get bridgeOptions(): Pick<BridgeOptions, 'events' | 'threadOrder' | 'limiter'> {
    return {
      ...(this.metrics ? { events: this.metrics } : {}),
      ...(this.threadOrder ? { threadOrder: this.threadOrder } : {}),
      ...(this.redis ? { limiter: new RedisRateLimiter(this.redis, this.config.userRateLimit, { timeoutMs: this.config.storeTimeoutMs }) } : {}),
    };
  }

  /**
   * Once the core and adapters exist: /healthz parts and /metrics on `http`, and the quota watch.
   * `started` says whether an adapter has finished starting.
   */
  attach(parts: {
    http: HttpServer | undefined;
    bridge: { readonly pending: number };
    adapters: readonly Adapter[];
    started: (adapter: Adapter) => boolean;
    client: Pick<AsyntaiClient, 'account'>;
  }): void {
    const { http } = parts;
    this.pendingSource = () => parts.bridge.pending;
    if (http) {
      http.addHealthCheck(storeHealthCheck(this.store, { timeoutMs: this.config.storeTimeoutMs }));
      for (const adapter of parts.adapters) http.addHealthCheck(adapterHealthCheck(adapter, () => parts.started(adapter)));
      this.metrics?.mount(http);
    }
    if (this.config.usageCheckMs > 0) {
      this.quotaWatch = new QuotaWatch({
        client: parts.client,
        store: this.store,
        logger: this.logger,
        adapters: parts.adapters,
        teamChannel: this.config.teamChannel,
        intervalMs: this.config.usageCheckMs,
      });
      this.quotaWatch.start();
    }
  }

  /** Stops the quota watch and the lease renewals, and closes the coordination connection. */
  async close(): Promise<void> {
    this.quotaWatch?.stop();
    this.threadOrder?.close();
    if (this.redis?.isOpen) await this.redis.close();
  }
}
