/**
 * The one HTTP server of the process. Adapters mount their routes on it (Slack events, the
 * Telegram webhook, Asyntai webhooks); it answers `GET /healthz` from the adapters' state.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** What one part says about itself; `detail` is a short reason shown in /healthz (never a secret). */
export interface HealthReport {
  ok: boolean;
  detail?: string;
}

/** Health of one part, as /healthz reports it: a boolean, or a report with a detail, possibly async. */
export interface HealthCheck {
  name: string;
  healthy(): boolean | HealthReport | Promise<boolean | HealthReport>;
}

/** Bodies larger than this are refused with 413 before they are buffered. */
export const MAX_BODY_BYTES = 1024 * 1024;

export class HttpServer {
  private readonly routes = new Map<string, RouteHandler>();
  private readonly checks: HealthCheck[] = [];
  private server: Server | undefined;
  private draining = false;

  constructor(private readonly logger: Logger) {}

  /** Adds a route; `path` is matched exactly (query string ignored). */
  mount(method: 'GET' | 'POST', path: string, handler: RouteHandler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  /** Adds a part whose health /healthz reports; 200 only when every part is healthy. */
  addHealthCheck(check: HealthCheck): void {
    this.checks.push(check);
  }

  /**
   * Shutting down: POST routes (platform webhooks) answer 503 so the platform redelivers to
   * another instance, and /healthz turns 503 so load balancers stop sending here.
   */
  drain(): void {
    this.draining = true;
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = createServer((req, res) => void this.dispatch(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (req.method === 'GET' && path === '/healthz') return await this.health(res);
      if (this.draining && req.method === 'POST') {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5', connection: 'close' }).end('{"ok":false,"error":"shutting down"}');
        return;
      }
      const handler = this.routes.get(`${req.method} ${path}`);
      if (!handler) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"ok":false,"error":"not found"}');
        return;
      }
      await handler(req, res);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        if (!res.headersSent) res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
        res.end('{"ok":false,"error":"request body too large"}');
        return;
      }
      if (req.destroyed && !req.complete) {
        // The client hung up mid-request (readBody rejects with "aborted"): nobody to answer, and
        // nothing wrong on this side.
        this.logger.debug({ path }, 'client went away mid-request');
        return;
      }
      this.logger.error({ err, path }, 'HTTP handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"ok":false,"error":"internal error"}');
    }
  }

  private async health(res: ServerResponse): Promise<void> {
    const reports = await Promise.all(this.checks.map((c) => reportOf(c)));
    const parts = Object.fromEntries(this.checks.map((c, i) => [c.name, reports[i]!]));
    const ok = !this.draining && reports.length > 0 && reports.every((r) => r.ok);
    const body = { ok, ...(this.draining ? { draining: true } : {}), parts };
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  }
}

/** A check's answer as a report; a check that throws is down, with its message as the detail. */
async function reportOf(check: HealthCheck): Promise<HealthReport> {
  try {
    const answer = await check.healthy();
    return typeof answer === 'boolean' ? { ok: answer } : answer;
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Reads a request body up to `limit` bytes; rejects with `BodyTooLargeError` past it, at once
 * when the declared Content-Length is already over (the client then gets its 413 without first
 * sending the body).
 */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  if (Number(req.headers['content-length'] ?? 0) > limit) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`request body over ${limit} bytes`);
  }
}
