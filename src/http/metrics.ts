/**
 * Prometheus metrics (`GET /metrics`, off with METRICS=false). Every metric lives in a registry
 * the caller passes in, never prom-client's global one, so tests and several bridges in one
 * process keep their counts apart. Per-message cost is one increment on a label child cached
 * here (prom-client hashes label sets on every `labels()` call otherwise).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ServerResponse } from 'node:http';
import type { HttpServer } from './server.js';

/** What the metrics count; each method is cheap enough for every message. */
export class BridgeMetrics {
  /** Asyntai webhook events relayed into chat, by event name (incremented by the webhook relay). */
  readonly webhookEvents: Counter<'event'>;
  private readonly received: (platform: string) => { inc(): void };
  private readonly answered: (platform: string) => { inc(): void };
  private readonly minted: (platform: string) => { inc(): void };
  private readonly duplicates: (platform: string) => { inc(): void };
  private readonly asyntaiErrors: (kind: string) => { inc(): void };
  private readonly asyntaiDuration: (endpoint: string) => { observe(seconds: number): void };

  /**
   * Registers every metric, and Node's default process metrics, in `registry`. `pending` reports
   * the messages queued or being answered (read at scrape time).
   */
  constructor(
    private readonly registry: Registry,
    pending: () => number,
  ) {
    const counter = <L extends string>(name: string, help: string, label: L) =>
      new Counter<L>({ name, help, labelNames: [label], registers: [registry] });
    this.received = cachedChildren(counter('bridge_messages_received_total', 'Messages and commands the core received, duplicates included.', 'platform'));
    this.answered = cachedChildren(counter('bridge_answers_sent_total', 'Messages answered (once each, duplicates not counted).', 'platform'));
    this.minted = cachedChildren(counter('bridge_sessions_minted_total', 'Asyntai session ids created for new threads.', 'platform'));
    this.duplicates = cachedChildren(counter('bridge_duplicates_dropped_total', 'Deliveries of an already handled message, dropped.', 'platform'));
    this.asyntaiErrors = cachedChildren(counter('bridge_asyntai_errors_total', 'Failed Asyntai request attempts, by error kind (each retry counts).', 'kind'));
    this.webhookEvents = counter('bridge_webhook_events_total', 'Asyntai webhook events received, by event.', 'event');
    const duration = new Histogram({
      name: 'bridge_asyntai_request_duration_seconds',
      help: 'Duration of each Asyntai request attempt, by endpoint.',
      labelNames: ['endpoint'],
      // /chat/ takes seconds (the assistant thinks); the rest tens of milliseconds.
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60],
      registers: [registry],
    });
    this.asyntaiDuration = cachedChildren(duration);
    new Gauge({
      name: 'bridge_queue_pending',
      help: 'Messages queued or being answered in this instance.',
      registers: [registry],
      collect() {
        this.set(pending());
      },
    });
    collectDefaultMetrics({ register: registry });
  }

  /** A message or command reached the core. */
  messageReceived(platform: string): void {
    this.received(platform).inc();
  }

  /** A message was answered. */
  answerSent(platform: string): void {
    this.answered(platform).inc();
  }

  /** A thread got its Asyntai session id. */
  sessionMinted(platform: string): void {
    this.minted(platform).inc();
  }

  /** A delivery of an already handled message was dropped. */
  duplicateDropped(platform: string): void {
    this.duplicates(platform).inc();
  }

  /** One Asyntai request attempt (for AsyntaiClient's `onResponse`). */
  asyntaiResponse(info: { method: string; path: string; durationMs: number; errorKind?: string }): void {
    this.asyntaiDuration(endpointOf(info.method, info.path)).observe(info.durationMs / 1000);
    if (info.errorKind !== undefined) this.asyntaiErrors(info.errorKind).inc();
  }

  /** Mounts `GET /metrics` on `http`: the Prometheus text format. */
  mount(http: HttpServer): void {
    http.mount('GET', '/metrics', async (_req, res: ServerResponse) => {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
    });
  }
}

/** `metric.labels(value)` of a one-label metric, remembered per value. */
function cachedChildren<C>(metric: { labels(...values: string[]): C }): (value: string) => C {
  const children = new Map<string, C>();
  return (value) => {
    let child = children.get(value);
    if (!child) children.set(value, (child = metric.labels(value)));
    return child;
  };
}

/** The path of an API call with its ids replaced, so label values stay few: `DELETE knowledge/{id}/`. */
function endpointOf(method: string, path: string): string {
  const match = /^(knowledge|webhooks)\/([^/]+)\/$/.exec(path);
  const fixed = match && method === 'DELETE' ? `${match[1]}/{id}/` : path;
  return `${method} ${fixed}`;
}
