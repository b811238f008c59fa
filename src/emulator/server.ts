/**
 * An Asyntai-compatible HTTP server (node:http) for development and tests: the documented
 * endpoints under /api/v1/ (with or without trailing slash), plan limits, retrieval-backed chat,
 * signed webhooks, optional JSON persistence, and a fault injector reachable only from code.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { Faults, MALFORMED_BODY, type FaultInjector } from './faults.js';
import { HttpError, sendError, sendJson } from './http-io.js';
import { KnowledgeIndex, textRecord } from './knowledge.js';
import { outboundAgent } from './net-guard.js';
import { isPlanName, type PlanName } from './plans.js';
import { AGENT_PREFIX, findAgentRoute } from './agent-routes.js';
import { findRoute, type EmulatorContext } from './routes.js';
import { SEED_KNOWLEDGE, seedWebsites } from './seed.js';
import { DEFAULT_SPREADSHEET_LIMITS, type SpreadsheetLimits } from './spreadsheet.js';
import { StateStore } from './state.js';
import { WebhookDelivery } from './webhooks.js';

export type { FaultInjector, PlanName, SpreadsheetLimits };

export interface EmulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Accepted API keys; default ['dev-key']. */
  apiKeys?: string[];
  /** Default 'starter'. */
  plan?: PlanName;
  /** Persist state as JSON here; loaded on start when present. */
  dataPath?: string;
  /** Seed sample knowledge on a fresh state (default true). */
  seed?: boolean;
  /** Let URL ingestion and webhook delivery reach loopback/private addresses and plain http (tests); default false. */
  allowPrivateUrls?: boolean;
  /** Delays between webhook delivery attempts; default [1000, 5000, 30000]. */
  webhookRetryDelaysMs?: number[];
  /** Overrides of the spreadsheet upload limits (columns, cells, unpacked size, parse time). */
  spreadsheetLimits?: Partial<SpreadsheetLimits>;
  /** Logs one info line per request (method, path, status, ms); default: none (quiet in tests). */
  logger?: Logger;
}

export interface EmulatorHandle {
  /** Base URL ending with '/', e.g. 'http://127.0.0.1:41234/api/v1/'. */
  url: string;
  /** The first accepted key. */
  apiKey: string;
  faults: FaultInjector;
  /** Stops the server and pending webhook deliveries, then writes dataPath. */
  close(): Promise<void>;
}

const API_PREFIX = '/api/v1/';
/** The account email /account/ reports. */
const ACCOUNT_EMAIL = 'owner@northwind-outfitters.example';

/** Starts an emulator; resolves once it listens. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<EmulatorHandle> {
  const apiKeys = options.apiKeys ?? ['dev-key'];
  const apiKey = apiKeys[0];
  if (apiKey === undefined || apiKeys.some((k) => k === '')) {
    throw new Error('startEmulator: apiKeys must hold at least one non-empty key');
  }
  const plan = options.plan ?? 'starter';
  if (!isPlanName(plan)) throw new Error(`startEmulator: unknown plan ${String(plan)}`);
  const allowPrivate = options.allowPrivateUrls ?? false;

  const { store, loaded } = await StateStore.open(options.dataPath, seedWebsites());
  if (!loaded && options.seed !== false) {
    const createdAt = new Date().toISOString();
    SEED_KNOWLEDGE.forEach((s, i) => {
      const record = textRecord(`seed-${s.websiteId}-${i + 1}`, s.websiteId, s.title, s.content, createdAt);
      store.knowledge.set(record.id, record);
    });
    store.changed();
  }
  const index = new KnowledgeIndex();
  for (const record of store.knowledge.values()) index.add(record);

  const dispatcher = outboundAgent(allowPrivate);
  const delivery = new WebhookDelivery({
    dispatcher,
    allowPrivate,
    retryDelaysMs: options.webhookRetryDelaysMs ?? [1000, 5000, 30000],
  });
  const ctx: EmulatorContext = {
    store,
    index,
    plan,
    accountEmail: ACCOUNT_EMAIL,
    delivery,
    dispatcher,
    allowPrivate,
    spreadsheetLimits: { ...DEFAULT_SPREADSHEET_LIMITS, ...options.spreadsheetLimits },
  };
  const faults = new Faults();

  // Aborts requests still waiting out injected latency when the emulator closes.
  const closed = new AbortController();
  // Every request waiting out injected latency listens to it: many at once is expected, not a leak.
  setMaxListeners(0, closed.signal);
  const keyDigests = apiKeys.map(digest);
  const logger = options.logger;
  const server = createServer((req, res) => {
    const started = performance.now();
    if (logger !== undefined) {
      res.once('close', () => {
        // The path only: a query string may carry a session id, and nothing here needs it.
        const path = (req.url ?? '/').split('?')[0];
        const ms = Math.round(performance.now() - started);
        logger.info({ method: req.method, path, status: res.headersSent ? res.statusCode : 0, ms }, 'emulator request');
      });
    }
    void handle(ctx, faults, keyDigests, closed.signal, req, res, logger);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}${API_PREFIX}`,
    apiKey,
    faults,
    close() {
      closing ??= (async () => {
        delivery.close();
        closed.abort();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        await dispatcher.close();
        await store.flush();
      })();
      return closing;
    },
  };
}

/** SHA-256 of a key: equal-length values for timingSafeEqual whatever the keys' lengths. */
function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** Whether `key` is one of the accepted keys, compared in constant time. */
function isAcceptedKey(key: string, keyDigests: readonly Buffer[]): boolean {
  const given = digest(key);
  // Every digest is compared (no early exit), so the time says nothing about which key matched.
  return keyDigests.reduce((found, accepted) => timingSafeEqual(given, accepted) || found, false);
}

/** The key of a request: `Authorization: Bearer KEY` or `X-API-Key: KEY`. */
function requestKey(req: IncomingMessage): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
  const header = req.headers['x-api-key'];
  return bearer ?? (typeof header === 'string' ? header.trim() : undefined);
}

/** The path and query of a request target; one WHATWG URL cannot parse (`//%%`, `http://[`) is a 400. */
function requestTarget(target: string): URL {
  try {
    return new URL(target, 'http://emulator.invalid');
  } catch {
    throw new HttpError(400, 'Malformed request target');
  }
}

async function handle(
  ctx: EmulatorContext,
  faults: Faults,
  keyDigests: readonly Buffer[],
  closed: AbortSignal,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger | undefined,
): Promise<void> {
  try {
    if (faults.latencyMs > 0) {
      await sleep(faults.latencyMs, undefined, { signal: closed });
      // The client gave up meanwhile (a timeout): the faults queued for later requests stay theirs.
      if (req.socket.destroyed) return;
    }
    const method = req.method ?? 'GET';
    const { pathname, searchParams } = requestTarget(req.url ?? '/');
    const path = pathname.replace(/\/+$/, '');
    if (path === '' || `${path}/` === API_PREFIX) {
      if (method !== 'GET') throw new HttpError(405, 'Method not allowed', { Allow: 'GET' });
      sendJson(res, 200, { success: true, service: 'asyntai-emulator', api: API_PREFIX, docs: 'README.md, section "The emulator"' });
      return;
    }
    // `/_emulator/…`: emulator-only routes that play the Asyntai dashboard (agent-routes.ts).
    const agent = pathname.startsWith(AGENT_PREFIX);
    if (!pathname.startsWith(API_PREFIX) && !agent) throw new HttpError(404, `Not found: ${pathname}`);

    const key = requestKey(req);
    if (key === undefined || key === '') throw new HttpError(401, 'Missing API key', { 'WWW-Authenticate': 'Bearer' });
    if (!isAcceptedKey(key, keyDigests)) throw new HttpError(401, 'Invalid API key', { 'WWW-Authenticate': 'Bearer' });

    const fault = faults.take();
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'fail') {
      const retryAfter = fault.retryAfterSeconds;
      sendError(res, fault.status, fault.error, retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) });
      return;
    }
    if (fault?.kind === 'malform') {
      sendJson(res, 200, MALFORMED_BODY);
      return;
    }

    const route = agent ? findAgentRoute(path.slice(AGENT_PREFIX.length)) : findRoute(path.slice(API_PREFIX.length));
    if (route === undefined) throw new HttpError(404, `Unknown endpoint: ${method} ${pathname}`);
    const handler = route.methods[method];
    if (handler === undefined) {
      throw new HttpError(405, `Method ${method} not allowed on ${pathname}`, { Allow: Object.keys(route.methods).join(', ') });
    }
    sendJson(res, 200, await handler(ctx, req, searchParams, route.id));
  } catch (err) {
    if (err instanceof HttpError) sendError(res, err.status, err.message, err.headers);
    else {
      logger?.error({ err }, 'emulator request failed');
      sendError(res, 500, `Internal emulator error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
