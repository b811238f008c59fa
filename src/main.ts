#!/usr/bin/env node
/**
 * Entry point (`npm start`, `npx asyntai-bridge`; `--help` lists the variables): reads the
 * configuration, opens the store, checks the API key, starts the enabled adapters. With no API key
 * the terminal chat runs against an in-process emulator (demo mode), so `npm start` works with no
 * setup at all; platform bots do so only with DEMO=1, and then say so in every thread. Shuts down
 * cleanly on SIGINT/SIGTERM, or at the end of the shell's input.
 */
import { existsSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyntaiClient } from './asyntai/client.js';
import { checkAsyntai } from './asyntai-health.js';
import { ConfigError, DEFAULT_HTTP_PORT, helpText, loadConfig, secretsOf, type Config } from './config.js';
import { Bridge } from './core/bridge.js';
import { Handoff } from './core/handoff.js';
import { Outbox } from './core/outbox.js';
import { SessionMap } from './core/session-map.js';
import { makeFolders, openStore, StoreOpenError, type StateStore } from './core/state-store.js';
import type { Adapter, PlatformName } from './core/types.js';
import { withDemoNotice } from './demo-notice.js';
import { mountAsyntaiWebhooks } from './http/asyntai-webhooks.js';
import { HttpServer } from './http/server.js';
import { exitOnSignals, shutDownGracefully } from './lifecycle.js';
import { Operations } from './operations.js';
import { createLogger, scrubSecrets, type Logger } from './log.js';

/** What an adapter factory gets from main. */
interface AdapterDeps {
  config: Config;
  logger: Logger;
  http: HttpServer | undefined;
  /** Lines for the person at the terminal; the shell shows them under its greeting. */
  notices: string[];
}

/** Platform SDKs are imported only when their adapter is enabled. */
async function createAdapter(name: PlatformName, deps: AdapterDeps): Promise<Adapter> {
  switch (name) {
    case 'shell': {
      const { ShellAdapter } = await import('../adapters/shell/shell-adapter.js');
      const { dataDir } = deps.config;
      return new ShellAdapter({ notices: deps.notices, ...(dataDir ? { historyFile: join(dataDir, 'shell-history') } : {}) });
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
  }
}

/**
 * Demo mode: the emulator in-process, with its sample shop, and one line saying so. Its knowledge
 * is kept in the data folder, next to the sessions, so what `/kb-add` taught it survives a restart.
 */
async function startDemoEmulator(config: Config, cleanups: Array<() => Promise<void>>): Promise<{ apiKey: string; apiUrl: string }> {
  const { startEmulator } = await import('./emulator/server.js');
  const emulator = await startEmulator({ port: 0, ...(config.dataDir ? { dataPath: join(config.dataDir, 'demo-emulator.json') } : {}) });
  cleanups.push(() => emulator.close());
  const who = config.demo ? 'every bot answers from' : 'answers come from';
  process.stderr.write(`Demo mode: ${who} the built-in Asyntai emulator's sample shop. Set ASYNTAI_API_KEY to use your Asyntai account.\n`);
  return { apiKey: emulator.apiKey, apiUrl: emulator.url };
}

/**
 * Where log lines go. Through a pipe and for platform bots: stderr. In the terminal chat on a
 * terminal, stderr shows inside the conversation, so lines go to a file and the chat says where.
 */
function logDestination(config: Config, shellOnly: boolean, notices: string[]): { write(line: string): unknown } {
  if (!shellOnly || !process.stdin.isTTY || !process.stdout.isTTY) return process.stderr;
  const dir = config.dataDir ?? tmpdir();
  const path = join(dir, config.dataDir ? 'bridge.log' : 'asyntai-bridge.log');
  const fd = openSync(path, 'a');
  notices.push(`(Warnings and errors go to ${path}.)`);
  // Synchronous: the process may exit right after a line is written.
  return { write: (line: string) => writeSync(fd, line) };
}

/** Secrets to keep out of the start-up failure line, which bypasses the logger. */
let knownSecrets: string[] = [];

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(helpText(Math.min(process.stdout.columns || 100, 100)));
    return;
  }
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  knownSecrets = secretsOf(config);
  const shellOnly = config.adapters.every((a) => a === 'shell');
  if (config.dataDir) {
    try {
      await makeFolders(config.dataDir);
    } catch (err) {
      throw new ConfigError('DATA_DIR', `cannot create the data folder ${config.dataDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const notices: string[] = [];
  // The terminal demo keeps stderr quiet unless asked: its stdout is the conversation.
  const logger = createLogger({
    level: config.logLevel ?? (shellOnly ? 'warn' : 'info'),
    secrets: knownSecrets,
    destination: logDestination(config, shellOnly, notices),
  });

  const needsHttp = !shellOnly || config.httpPort !== undefined;
  const http = needsHttp ? new HttpServer(logger) : undefined;
  // Platform SDKs load while the store opens and the API is checked (each is a chunk of its own;
  // README "Performance"). A failure here is reported when awaited, below.
  const creatingAdapters = Promise.all(config.adapters.map((name) => createAdapter(name, { config, logger, http, notices })));
  creatingAdapters.catch(() => undefined);

  const cleanups: Array<() => Promise<void>> = [];
  const api = config.asyntai.apiKey
    ? { apiKey: config.asyntai.apiKey, apiUrl: config.asyntai.apiUrl }
    : await startDemoEmulator(config, cleanups);

  let store: StateStore;
  try {
    store = await openStore(config.storeUrl, { timeoutMs: config.storeTimeoutMs });
  } catch (err) {
    if (err instanceof StoreOpenError) throw new ConfigError('STORE_URL', err.message);
    throw err;
  }
  cleanups.unshift(() => store.close());
  // Metrics, health parts, and on Redis the thread order and limit shared by every instance.
  const ops = await Operations.start(config, store, logger);
  cleanups.unshift(() => ops.close());

  const client = new AsyntaiClient({
    ...ops.clientHooks,
    apiKey: api.apiKey,
    baseUrl: api.apiUrl,
    authHeader: config.asyntai.authHeader,
    chatTimeoutMs: config.asyntai.chatTimeoutMs,
    timeoutMs: config.asyntai.timeoutMs,
    onRetry: ({ path, attempt, delayMs, error }) => logger.warn({ path, attempt, delayMs, kind: error.kind }, 'retrying Asyntai request'),
  });
  cleanups.unshift(() => client.close());
  // A refused key stops here, in one line; an API out of reach is a warning and a /healthz reason.
  const asyntai = await checkAsyntai(client, logger);
  cleanups.unshift(() => Promise.resolve(asyntai.stop()));
  if (asyntai.problem) notices.push(`(The assistant cannot be reached yet: ${asyntai.problem}. Answers will fail until it can.)`);

  const outbox = new Outbox({ store, logger });
  const sessions = new SessionMap(store, ops.onSessionMinted);
  // Human handoff: Asyntai webhooks and /human start it; TEAM_CHANNEL gets the alerts.
  const handoff = new Handoff({ store, sessions, client, logger, outbox, teamChannel: config.teamChannel, ...config.handoff });
  const bridge = new Bridge({
    outbox,
    handoff,
    client,
    store,
    sessions,
    logger,
    websiteId: config.asyntai.websiteId,
    maxMessageChars: config.maxMessageChars,
    userRateLimit: config.userRateLimit,
    ...ops.bridgeOptions,
  });

  const adapters: Adapter[] = await creatingAdapters;
  http?.addHealthCheck(asyntai.check);
  // Mounted whenever the server runs: without ASYNTAI_WEBHOOK_SECRET it answers 401, which shows.
  const onEvent = (event: Parameters<typeof handoff.onEvent>[0]) => {
    // Only signed deliveries get here, so the event names (label values) are Asyntai's few.
    ops.metrics?.webhookEvents.inc({ event: event.event });
    return handoff.onEvent(event);
  };
  const webhooks = http && mountAsyntaiWebhooks(http, { secret: config.asyntai.webhookSecret, store, logger, onEvent });
  if (webhooks) cleanups.unshift(() => webhooks.stop());

  const started = new Set<Adapter>();
  ops.attach({ http, bridge, adapters, started: (adapter) => started.has(adapter), client });
  if (http) {
    const port = await http.listen(config.httpPort ?? DEFAULT_HTTP_PORT);
    cleanups.unshift(() => http.close());
    logger.info({ port }, 'HTTP server listening');
  }
  // Started side by side: each waits on its own platform (a login, a gateway, a first poll), and
  // start-up took the sum of those waits when they ran one after another.
  await Promise.all(
    adapters.map(async (adapter) => {
      outbox.attach(adapter);
      handoff.attach(adapter);
      // Platform bots on the demo say so in every thread; the terminal said it at start.
      await adapter.start(!config.asyntai.apiKey && adapter.platform !== 'shell' ? withDemoNotice(bridge, store) : bridge);
      started.add(adapter);
      logger.info({ adapter: adapter.platform }, 'adapter started');
    }),
  );
  // Answers kept while a platform was down (before a restart too) go out once it takes them.
  outbox.start();
  cleanups.unshift(() => outbox.stop());
  // Handoffs from before a restart (or other instances') get their idle timers and polls again.
  handoff.start();
  cleanups.unshift(() => handoff.stop());

  // No new events, answers in progress finished (SHUTDOWN_GRACE_SECONDS), adapters stopped, then the rest.
  const shutdown = () => shutDownGracefully({ logger, http, adapters, bridge, graceMs: config.shutdownGraceMs, cleanups });
  exitOnSignals({ shutdown, exit: (code) => process.exit(code), logger });

  if (shellOnly) {
    const shell = adapters.find((a) => a.platform === 'shell') as { finished?: Promise<void> } | undefined;
    await shell?.finished;
    await shutdown();
    process.exit(0);
  }
}

main().catch((err: unknown) => {
  // Configuration problems are one line per bad variable; anything else keeps its stack.
  const text = err instanceof ConfigError ? err.message : `failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  const lines = scrubSecrets(text, knownSecrets).split('\n');
  process.stderr.write(err instanceof ConfigError ? lines.map((l) => `asyntai-bridge: ${l}\n`).join('') : `asyntai-bridge: ${lines.join('\n')}\n`);
  process.exit(1);
});
