/**
 * `POST /webhooks/asyntai`: Asyntai's webhooks (registered with `npm run webhooks -- register`).
 *
 * A request is acted on only when `X-Webhook-Signature` is the hex HMAC-SHA256 of the raw body
 * with ASYNTAI_WEBHOOK_SECRET (a `sha256=` prefix is accepted), compared in constant time. Wrong,
 * missing, or no secret configured: 401 and nothing happens — the route exists without a secret
 * so that a misconfiguration shows as 401s rather than 404s. Over 1 MB: 413 (the server's limit).
 * Not JSON: 400. Otherwise 200 at once and the work runs after, so Asyntai never times out.
 *
 * The body format is loosely documented: `{event, timestamp, data: {session_id, …}}` is expected,
 * with `session_id` also accepted at the top level; other shapes are logged at debug and dropped.
 * The same delivery twice (same body) is acted on once, across instances too: a set-if-absent
 * on the body's SHA-256 in the store, kept a day.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AsyntaiEvent } from '../core/handoff.js';
import type { StateStore } from '../core/state-store.js';
import type { Logger } from '../log.js';
import { readBody, type HttpServer } from './server.js';

/** The route Asyntai posts to; `npm run webhooks -- register <public url>` appends it. */
export const ASYNTAI_WEBHOOK_PATH = '/webhooks/asyntai';
/** A delivery is remembered this long, longer than Asyntai's retries. */
const SEEN_TTL_MS = 24 * 60 * 60_000;

export interface AsyntaiWebhookOptions {
  /** ASYNTAI_WEBHOOK_SECRET; without it every request is refused (401). */
  secret: string | undefined;
  store: StateStore;
  logger: Logger;
  /** Acts on one verified, first-seen event; runs after the 200. */
  onEvent(event: AsyntaiEvent): Promise<void>;
}

/** The mounted receiver; `stop` waits for events still being acted on. */
export interface AsyntaiWebhookReceiver {
  stop(): Promise<void>;
}

/** Mounts `POST /webhooks/asyntai` on `http`. */
export function mountAsyntaiWebhooks(http: HttpServer, options: AsyntaiWebhookOptions): AsyntaiWebhookReceiver {
  const inFlight = new Set<Promise<void>>();
  const log = options.logger.child({ webhook: 'asyntai' });
  http.mount('POST', ASYNTAI_WEBHOOK_PATH, async (req, res) => {
    const body = await readBody(req); // over the limit: the server answers 413
    if (!options.secret || !signedBy(options.secret, body, req)) {
      log.warn({ signed: typeof req.headers['x-webhook-signature'] === 'string', configured: Boolean(options.secret) }, 'refused an Asyntai webhook: bad signature');
      answer(res, 401, 'bad signature');
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      answer(res, 400, 'not JSON');
      return;
    }
    answer(res, 200);
    const work = act(payload, body, options, log).catch((err: unknown) => log.error({ err }, 'acting on an Asyntai webhook failed'));
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });
  return {
    async stop() {
      await Promise.allSettled([...inFlight]);
    },
  };
}

async function act(payload: unknown, body: Buffer, options: AsyntaiWebhookOptions, log: Logger): Promise<void> {
  const event = readEvent(payload);
  if (!event) {
    log.debug({ keys: isObject(payload) ? Object.keys(payload) : typeof payload }, 'Asyntai webhook of an unknown shape dropped');
    return;
  }
  const seen = `webhook-seen:${createHash('sha256').update(body).digest('hex')}`;
  if (!(await options.store.setIfNotExists(seen, 1, SEEN_TTL_MS))) {
    log.debug({ event: event.event }, 'Asyntai webhook delivered again; ignored');
    return;
  }
  log.info({ event: event.event, session: event.sessionId }, 'Asyntai webhook');
  await options.onEvent(event);
}

/** The event in a body, leniently: `session_id` in `data` or at the top level, as a string or number. */
function readEvent(payload: unknown): AsyntaiEvent | undefined {
  if (!isObject(payload) || typeof payload.event !== 'string') return undefined;
  const data = isObject(payload.data) ? payload.data : {};
  const sessionId = text(data.session_id) ?? text(payload.session_id);
  if (sessionId === undefined) return undefined;
  return {
    event: payload.event,
    sessionId,
    reason: text(data.reason) ?? text(payload.reason),
    message: text(data.message) ?? text(payload.message),
    timestamp: text(payload.timestamp),
  };
}

/** Whether the request's signature is the body's HMAC with `secret`, compared in constant time. */
function signedBy(secret: string, body: Buffer, req: IncomingMessage): boolean {
  const header = req.headers['x-webhook-signature'];
  if (typeof header !== 'string') return false;
  const given = Buffer.from(header.trim().replace(/^sha256=/i, '').toLowerCase());
  const expected = Buffer.from(createHmac('sha256', secret).update(body).digest('hex'));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function answer(res: ServerResponse, status: number, error?: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(error ? { ok: false, error } : { ok: true }));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}
