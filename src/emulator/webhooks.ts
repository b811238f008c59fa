/**
 * Webhook delivery: each event is POSTed as JSON to every active, subscribed webhook, signed
 * with the webhook's secret, in the background. A failed attempt (network error or non-2xx) is
 * retried after each configured delay; close() cancels pending retries and in-flight attempts.
 */
import { createHmac } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
// The contract's event list; `takeover.started` fires only from the emulator-only takeover route.
import type { WebhookEvent } from '../asyntai/types.js';
import { vetUrl } from './net-guard.js';
import type { WebhookRecord } from './state.js';

/** The delivered JSON body. */
export interface WebhookPayload {
  event: WebhookEvent;
  timestamp: string;
  data: { session_id: string; website_id: number } & Record<string, unknown>;
}

/** Hex HMAC-SHA256 of the raw body, as sent in `X-Webhook-Signature`. */
function signBody(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export interface DeliveryOptions {
  dispatcher: Dispatcher;
  allowPrivate: boolean;
  retryDelaysMs: number[];
  /** Per-attempt time limit. */
  timeoutMs?: number;
}

export class WebhookDelivery {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(private readonly options: DeliveryOptions) {}

  /** Delivers `event` to every matching webhook; returns at once. */
  emit(hooks: Iterable<WebhookRecord>, event: WebhookEvent, data: WebhookPayload['data']): void {
    if (this.closed) return;
    const payload: WebhookPayload = { event, timestamp: new Date().toISOString(), data };
    const body = JSON.stringify(payload);
    for (const hook of hooks) {
      const subscribed = hook.isActive && hook.events.includes(event);
      if (subscribed && (hook.websiteId === null || hook.websiteId === data.website_id)) this.attempt(hook, body, 0);
    }
  }

  /** Stops retries and aborts attempts in progress. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
  }

  private attempt(hook: WebhookRecord, body: string, attemptIndex: number): void {
    const controller = new AbortController();
    this.inFlight.add(controller);
    void this.post(hook, body, controller.signal).then((ok) => {
      this.inFlight.delete(controller);
      const delay = this.options.retryDelaysMs[attemptIndex];
      // A webhook deleted meanwhile is marked inactive by the route and gets no more retries.
      if (ok || this.closed || delay === undefined || !hook.isActive) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.attempt(hook, body, attemptIndex + 1);
      }, delay);
      this.timers.add(timer);
    });
  }

  private async post(hook: WebhookRecord, body: string, signal: AbortSignal): Promise<boolean> {
    try {
      const url = vetUrl(hook.url, this.options.allowPrivate, ['https:'], 'Webhook url');
      const res = await request(url, {
        method: 'POST',
        body,
        dispatcher: this.options.dispatcher,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs ?? 10_000)]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'asyntai-emulator-webhooks/1.0',
          'x-webhook-signature': signBody(hook.secret, body),
        },
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300;
    } catch {
      // Unreachable receiver, refused address or timeout: treated like a non-2xx answer.
      return false;
    }
  }
}
