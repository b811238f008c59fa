/**
 * The start-up check of the Asyntai API key (one GET /account/), and the `asyntai` part of
 * /healthz. A refused key (401/403) stops start-up with one line naming ASYNTAI_API_KEY: every
 * answer would fail. An API that cannot be reached is only a warning: the bridge starts, /healthz
 * says why it is not ready, and the check is repeated in the background with a capped backoff
 * until it succeeds.
 */
import type { AsyntaiClient } from './asyntai/client.js';
import { AsyntaiError } from './asyntai/errors.js';
import { ConfigError } from './config.js';
import type { HealthCheck, HealthReport } from './http/server.js';
import type { Logger } from './log.js';

export interface AsyntaiHealthOptions {
  /** First delay before a re-check; doubled after each failure. Default 5 s. */
  retryMinMs?: number;
  /** Longest delay between re-checks. Default 5 minutes. */
  retryMaxMs?: number;
}

/** The state of the API as the bridge last saw it. */
export interface AsyntaiHealth {
  /** For /healthz: up once a check has succeeded. */
  readonly check: HealthCheck;
  /** Why the API is not usable yet, in words; undefined when it is. */
  readonly problem: string | undefined;
  /** Stops the background re-checks. */
  stop(): void;
}

/**
 * Checks the key once; throws `ConfigError` when the API refuses it. Otherwise resolves at once
 * with the health, re-checking in the background while the API could not be reached.
 */
export async function checkAsyntai(client: AsyntaiClient, logger: Logger, options: AsyntaiHealthOptions = {}): Promise<AsyntaiHealth> {
  const retryMinMs = options.retryMinMs ?? 5_000;
  const retryMaxMs = options.retryMaxMs ?? 5 * 60_000;
  let report: HealthReport = { ok: false, detail: 'not checked yet' };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** One GET /account/: a report, or a ConfigError for a refused key. */
  const probe = async (): Promise<HealthReport> => {
    try {
      const account = await client.account();
      return { ok: true, detail: `key accepted (plan ${account.plan})` };
    } catch (err) {
      if (!(err instanceof AsyntaiError)) return { ok: false, detail: err instanceof Error ? err.message : String(err) };
      // The monthly limit being spent still means the key is good: /usage will say the rest.
      if (err.kind === 'rate_limited') return { ok: true, detail: 'key accepted; monthly message limit reached' };
      if (err.kind === 'unauthorized') throw new ConfigError('ASYNTAI_API_KEY', `the Asyntai API refused this key (HTTP ${err.status ?? 401})`);
      return { ok: false, detail: `${err.kind}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}` };
    }
  };

  const recheck = (delayMs: number) => {
    timer = setTimeout(() => {
      void probe()
        .catch((err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }))
        .then((next) => {
          if (stopped) return;
          report = next;
          if (next.ok) logger.info({ detail: next.detail }, 'Asyntai API reachable');
          else {
            const nextDelayMs = Math.min(retryMaxMs, delayMs * 2);
            logger.warn({ detail: next.detail, retryInSeconds: nextDelayMs / 1000 }, 'Asyntai API still not reachable');
            recheck(nextDelayMs);
          }
        });
    }, delayMs);
    // Re-checks never keep a finished process (the piped terminal chat) alive.
    timer.unref();
  };

  report = await probe();
  if (!report.ok) {
    logger.warn({ detail: report.detail, retryInSeconds: retryMinMs / 1000 }, 'Asyntai API not reachable at start-up; starting anyway');
    recheck(retryMinMs);
  }
  return {
    check: { name: 'asyntai', healthy: () => report },
    get problem() {
      return report.ok ? undefined : report.detail;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
