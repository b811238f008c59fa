/**
 * Bolt's `Receiver` for the bridge's own HTTP server: Slack posts events, slash commands and
 * interactivity to one route (`POST /slack/events`) of the process-wide HttpServer, instead of a
 * second server that Bolt's HTTPReceiver/ExpressReceiver would open. Keeping the transport apart
 * from the app logic is the seam bolt-js documents for custom receivers.
 *
 * Every request is checked before anything is parsed or processed: the v0 signature (HMAC-SHA256
 * of `v0:<timestamp>:<raw body>` with the signing secret, compared in constant time) and a
 * timestamp at most five minutes away; otherwise 401 and nothing happens. `url_verification` and
 * `ssl_check` are answered here; everything else goes to `app.processEvent` with an `ack` that
 * writes the HTTP response, so Slack gets its answer as soon as a listener acknowledges.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import { readBody } from '../../src/http/server.js';
import type { Logger } from '../../src/log.js';

/** Slack refuses to replay requests older than this; so do we. */
const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

export interface SlackHttpReceiverOptions {
  signingSecret: string;
  logger: Logger;
}

/** Why a request was refused, for the log (never the secret or the signature). */
type Refusal = 'missing signature' | 'stale timestamp' | 'bad signature';

export class SlackHttpReceiver implements Receiver {
  private app: App | undefined;
  private running = false;

  constructor(private readonly options: SlackHttpReceiverOptions) {}

  init(app: App): void {
    this.app = app;
  }

  start(): Promise<void> {
    this.running = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.running = false;
    return Promise.resolve();
  }

  /** The route handler to mount on the HttpServer. */
  readonly handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!this.running || !this.app) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"ok":false,"error":"not running"}');
      return;
    }
    const raw = await readBody(req); // an oversized body is the server's 413
    const refusal = verifySignature(this.options.signingSecret, req.headers, raw.toString('utf8'), Date.now());
    if (refusal) {
      this.options.logger.warn({ reason: refusal }, 'Slack request refused');
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"ok":false,"error":"invalid signature"}');
      return;
    }
    const body = parseBody(raw.toString('utf8'), String(req.headers['content-type'] ?? ''));
    if (!body) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"ok":false,"error":"unreadable body"}');
      return;
    }
    if (body.ssl_check !== undefined) {
      res.writeHead(200).end();
      return;
    }
    if (body.type === 'url_verification') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ challenge: body.challenge }));
      return;
    }

    let acked = false;
    const ack = (response?: unknown): Promise<void> => {
      if (acked) return Promise.resolve();
      acked = true;
      if (response === undefined || response === '') res.writeHead(200).end();
      else if (typeof response === 'string') res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(response);
      else res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(response));
      return Promise.resolve();
    };
    const retryHeader = req.headers['x-slack-retry-num'];
    const event: ReceiverEvent = {
      body,
      ack,
      ...(typeof retryHeader === 'string' && /^\d+$/.test(retryHeader) ? { retryNum: Number(retryHeader) } : {}),
      ...(typeof req.headers['x-slack-retry-reason'] === 'string' ? { retryReason: req.headers['x-slack-retry-reason'] } : {}),
    };
    try {
      await this.app.processEvent(event);
    } catch (err) {
      // Bolt's own routing throws on bodies Slack never sends (`event: false`, `actions: null`):
      // the request is at fault, so 400, not a server error.
      this.options.logger.warn({ err }, 'Slack request could not be processed');
      if (!acked) {
        acked = true;
        res.writeHead(400).end();
      }
      return;
    }
    // A request no listener acknowledged (an event type nobody listens to): Slack only needs a 200.
    if (!acked) await ack();
  };
}

/**
 * Checks Slack's v0 request signature. Returns why the request must be refused, or undefined.
 * Exported for tests.
 */
export function verifySignature(secret: string, headers: IncomingMessage['headers'], rawBody: string, nowMs: number): Refusal | undefined {
  const signature = headers['x-slack-signature'];
  const timestamp = headers['x-slack-request-timestamp'];
  if (typeof signature !== 'string' || typeof timestamp !== 'string' || !/^\d+$/.test(timestamp)) return 'missing signature';
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) return 'stale timestamp';
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : 'bad signature';
}

/**
 * Events come as JSON; slash commands as a form; interactivity as a form whose `payload` field
 * is JSON. Returns undefined when the body is neither.
 */
function parseBody(raw: string, contentType: string): Record<string, unknown> | undefined {
  try {
    if (contentType.startsWith('application/json')) {
      const parsed: unknown = JSON.parse(raw);
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    }
    const form = Object.fromEntries(new URLSearchParams(raw));
    if (typeof form.payload === 'string') return JSON.parse(form.payload) as Record<string, unknown>;
    return form;
  } catch {
    return undefined;
  }
}
