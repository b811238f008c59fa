/**
 * Shutting down without losing answers. On SIGTERM (a deploy, `docker stop`) or SIGINT: stop
 * taking new events (webhook routes answer 503 so the platform redelivers elsewhere, polling
 * ends), let answers in progress finish for up to SHUTDOWN_GRACE_SECONDS, then close adapters,
 * clients and the store, and exit 0. A second signal exits at once.
 */
import type { Adapter } from './core/types.js';
import type { HttpServer } from './http/server.js';
import type { Logger } from './log.js';

/** How long each closing step (an adapter, a client, the store) may take after the grace period. */
const CLOSE_STEP_MS = 2_000;

/** What a graceful shutdown closes, in order. */
export interface ShutdownParts {
  logger: Logger;
  http?: HttpServer | undefined;
  adapters: readonly Adapter[];
  /** The core: how many answers are in progress, and when there are none. */
  bridge: { readonly pending: number; idle(): Promise<void> };
  /** How long answers in progress may take. */
  graceMs: number;
  /** Run in order after the adapters have stopped: clients, store, HTTP server. */
  cleanups: ReadonlyArray<() => Promise<void>>;
}

/**
 * Stops taking events, waits for answers in progress (up to `graceMs`), then closes everything.
 * Resolves with whether every answer in progress was finished. Never rejects: a part that fails to
 * close is logged and the rest still close.
 */
export async function shutDownGracefully(parts: ShutdownParts): Promise<boolean> {
  const { logger } = parts;
  parts.http?.drain();
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), parts.graceMs)));
  const finished = async (): Promise<true> => {
    // Polling adapters stop fetching; runners that wait for their handlers wait here too.
    await Promise.allSettled(parts.adapters.map((a) => a.stopReceiving?.() ?? Promise.resolve()));
    await parts.bridge.idle();
    return true;
  };
  const drained = await Promise.race([finished(), graceOver]);
  clearTimeout(timer);
  if (!drained) logger.warn({ pending: parts.bridge.pending, graceMs: parts.graceMs }, 'grace period over: exiting with answers still in progress');
  // After the grace period nothing may hold the exit: a client that waits for its requests in
  // progress, a platform that does not answer. Each step gets a few seconds, then is left behind.
  const close = async (what: string, step: () => Promise<void>) => {
    let stepTimer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      stepTimer = setTimeout(() => {
        logger.warn({ what }, 'shutdown step did not finish in time; going on');
        resolve();
      }, CLOSE_STEP_MS);
    });
    try {
      await Promise.race([step(), late]);
    } catch (err) {
      logger.error({ err, what }, 'error during shutdown');
    } finally {
      clearTimeout(stepTimer);
    }
  };
  for (const adapter of parts.adapters) await close(adapter.platform, () => adapter.stop());
  for (const cleanup of parts.cleanups) await close('cleanup', cleanup);
  return drained;
}

export interface SignalOptions {
  /** The graceful shutdown, run on the first signal. */
  shutdown: () => Promise<unknown>;
  /** `process.exit` in production. */
  exit: (code: number) => void;
  logger: Logger;
  /** What emits the signals; `process` in production. */
  signals?: Pick<NodeJS.EventEmitter, 'on'>;
}

/**
 * First SIGTERM/SIGINT: the graceful shutdown, then exit 0 (1 if it threw). A second signal while
 * it runs: exit 1 at once, for an operator who will not wait.
 */
export function exitOnSignals(options: SignalOptions): void {
  const { logger, exit } = options;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: no new events, finishing answers in progress');
    options.shutdown().then(
      () => exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  const signals = options.signals ?? process;
  signals.on('SIGTERM', onSignal);
  signals.on('SIGINT', onSignal);
}
