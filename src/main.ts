/**
 * Entry point: reads the configuration, opens the store, starts the enabled adapters and, when
 * no API key is configured, an in-process emulator (demo mode), so `npm start` works with no
 * setup at all. Shuts down cleanly on SIGINT/SIGTERM, or at the end of the shell's input.
 */
import { existsSync } from 'node:fs';
import { AsyntaiClient } from './asyntai/client.js';
import { ConfigError, DEFAULT_HTTP_PORT, loadConfig, secretsOf, type Config } from './config.js';
import { Bridge } from './core/bridge.js';
import { Outbox } from './core/outbox.js';
import { SessionMap } from './core/session-map.js';
import { openStore, StoreOpenError, type StateStore } from './core/state-store.js';
import type { Adapter, PlatformName } from './core/types.js';
import { HttpServer } from './http/server.js';
import { createLogger, scrubSecrets, type Logger } from './log.js';

/** What an adapter factory gets from main. */
interface AdapterDeps {
  config: Config;
  logger: Logger;
  http: HttpServer | undefined;
}

/** Platform SDKs are imported only when their adapter is enabled. */
async function createAdapter(name: PlatformName, deps: AdapterDeps): Promise<Adapter> {
  switch (name) {
    case 'shell': {
      const { ShellAdapter } = await import('../adapters/shell/shell-adapter.js');
      return new ShellAdapter();
    }
    case 'telegram': {
      const { TelegramAdapter } = await import('../adapters/telegram/telegram-adapter.js');
      return new TelegramAdapter(deps);
    }
    case 'slack': {
      const { SlackAdapter } = await import('../adapters/slack/slack-adapter.js');
      return new SlackAdapter(deps);
    }
    case 'discord': {
      const { DiscordAdapter } = await import('../adapters/discord/discord-adapter.js');
      return new DiscordAdapter(deps);
    }
    default:
      throw new ConfigError('ADAPTERS', `the ${name} adapter is not available yet`);
  }
}

/** Demo mode: the emulator in-process, with its sample shop, and one line saying so. */
async function startDemoEmulator(cleanups: Array<() => Promise<void>>): Promise<{ apiKey: string; apiUrl: string }> {
  const { startEmulator } = await import('./emulator/server.js');
  const emulator = await startEmulator({ port: 0 });
  cleanups.push(() => emulator.close());
  process.stderr.write(
    `Demo mode: answers come from the built-in Asyntai emulator (${emulator.url}). Set ASYNTAI_API_KEY to use your Asyntai account.\n`,
  );
  return { apiKey: emulator.apiKey, apiUrl: emulator.url };
}

/** Secrets to keep out of the start-up failure line, which bypasses the logger. */
let knownSecrets: string[] = [];

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  knownSecrets = secretsOf(config);
  const shellOnly = config.adapters.every((a) => a === 'shell');
  // The terminal demo keeps stderr quiet unless asked: its stdout is the conversation.
  const logger = createLogger({ level: config.logLevel ?? (shellOnly ? 'warn' : 'info'), secrets: knownSecrets });

  const cleanups: Array<() => Promise<void>> = [];
  const api = config.asyntai.apiKey
    ? { apiKey: config.asyntai.apiKey, apiUrl: config.asyntai.apiUrl }
    : await startDemoEmulator(cleanups);

  let store: StateStore;
  try {
    store = await openStore(config.storeUrl);
  } catch (err) {
    if (err instanceof StoreOpenError) throw new ConfigError('STORE_URL', err.message);
    throw err;
  }
  cleanups.unshift(() => store.close());

  const client = new AsyntaiClient({
    apiKey: api.apiKey,
    baseUrl: api.apiUrl,
    authHeader: config.asyntai.authHeader,
    chatTimeoutMs: config.asyntai.chatTimeoutMs,
    timeoutMs: config.asyntai.timeoutMs,
    onRetry: ({ path, attempt, delayMs, error }) => logger.warn({ path, attempt, delayMs, kind: error.kind }, 'retrying Asyntai request'),
  });
  cleanups.unshift(() => client.close());

  const outbox = new Outbox({ store, logger });
  const bridge = new Bridge({
    outbox,
    client,
    store,
    sessions: new SessionMap(store),
    logger,
    websiteId: config.asyntai.websiteId,
    maxMessageChars: config.maxMessageChars,
    userRateLimit: config.userRateLimit,
  });

  const needsHttp = !shellOnly || config.httpPort !== undefined;
  const http = needsHttp ? new HttpServer(logger) : undefined;
  const adapters: Adapter[] = [];
  for (const name of config.adapters) adapters.push(await createAdapter(name, { config, logger, http }));

  const started = new Set<Adapter>();
  for (const adapter of adapters) {
    http?.addHealthCheck({ name: adapter.platform, healthy: () => started.has(adapter) && (adapter.isHealthy?.() ?? true) });
  }
  if (http) {
    const port = await http.listen(config.httpPort ?? DEFAULT_HTTP_PORT);
    cleanups.unshift(() => http.close());
    logger.info({ port }, 'HTTP server listening');
  }
  for (const adapter of adapters) {
    outbox.attach(adapter);
    await adapter.start(bridge);
    started.add(adapter);
    cleanups.unshift(() => adapter.stop());
    logger.info({ adapter: adapter.platform }, 'adapter started');
  }
  // Answers kept while a platform was down (before a restart too) go out once it takes them.
  outbox.start();
  cleanups.unshift(() => outbox.stop());

  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const cleanup of cleanups) {
      await cleanup().catch((err: unknown) => logger.error({ err }, 'error during shutdown'));
    }
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));

  if (shellOnly) {
    const shell = adapters.find((a) => a.platform === 'shell') as { finished?: Promise<void> } | undefined;
    await shell?.finished;
    await shutdown(0);
  }
}

main().catch((err: unknown) => {
  // Configuration problems are one line naming the variable; anything else keeps its stack.
  const text = err instanceof ConfigError ? err.message : `failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  process.stderr.write(`asyntai-bridge: ${scrubSecrets(text, knownSecrets)}\n`);
  process.exit(1);
});
