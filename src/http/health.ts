/**
 * The parts /healthz reports: the store (a real round trip, cached for a few seconds so probes
 * from several load balancers cost Redis nothing) and each enabled adapter's connection.
 */
import type { StateStore } from '../core/state-store.js';
import type { Adapter } from '../core/types.js';
import type { HealthCheck, HealthReport } from './server.js';

export interface StoreHealthOptions {
  /** A result younger than this is reused. Default 5 s. */
  maxAgeMs?: number;
  /** A round trip slower than this counts as down (STORE_TIMEOUT_MS). Default 2 s. */
  timeoutMs?: number;
}

/** The store is up when a read answers in time. */
export function storeHealthCheck(store: StateStore, options: StoreHealthOptions = {}): HealthCheck {
  const maxAgeMs = options.maxAgeMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  let last: { at: number; report: HealthReport } | undefined;
  let probing: Promise<HealthReport> | undefined;
  const probe = async (): Promise<HealthReport> => {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.get('health:probe'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
      ]);
      return { ok: true, detail: `answered in ${Date.now() - started} ms` };
    } catch (err) {
      return { ok: false, detail: err instanceof Error ? err.message : String(err) };
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    name: 'store',
    healthy: () => {
      if (last && Date.now() - last.at < maxAgeMs) return last.report;
      // Concurrent probes share one round trip.
      probing ??= probe().then((report) => {
        last = { at: Date.now(), report };
        probing = undefined;
        return report;
      });
      return probing;
    },
  };
}

/** An adapter is up once started and while its platform connection is (its `isHealthy`). */
export function adapterHealthCheck(adapter: Adapter, started: () => boolean): HealthCheck {
  return {
    name: adapter.platform,
    healthy: () => {
      if (!started()) return { ok: false, detail: 'not started' };
      const ok = adapter.isHealthy?.() ?? true;
      return { ok, detail: ok ? 'connected' : 'disconnected' };
    },
  };
}
