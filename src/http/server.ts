/**
 * The one HTTP server of the process. Adapters mount their routes on it (Slack events, the
 * Telegram webhook, Asyntai webhooks); it answers `GET /healthz` from the adapters' state.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Health of one part, as /healthz reports it. */
export interface HealthCheck {
  name: string;
  healthy(): boolean;
}

/** Bodies larger than this are refused with 413 before they are buffered. */
export const MAX_BODY_BYTES = 1024 * 1024;

export class HttpServer {
  private readonly routes = new Map<string, RouteHandler>();
  private readonly checks: HealthCheck[] = [];
  private server: Server | undefined;

  constructor(private readonly logger: Logger) {}

  /** Adds a route; `path` is matched exactly (query string ignored). */
  mount(method: 'GET' | 'POST', path: string, handler: RouteHandler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  /** Adds a part whose health /healthz reports; 200 only when every part is healthy. */
  addHealthCheck(check: HealthCheck): void {
    this.checks.push(check);
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
      if (req.method === 'GET' && path === '/healthz') return this.health(res);
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
      this.logger.error({ err, path }, 'HTTP handler failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"ok":false,"error":"internal error"}');
    }
  }

  private health(res: ServerResponse): void {
    const parts = Object.fromEntries(this.checks.map((c) => [c.name, c.healthy() ? 'up' : 'down']));
    const ok = this.checks.length > 0 && this.checks.every((c) => c.healthy());
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok, parts }));
  }
}

/** Reads a request body up to `limit` bytes; rejects with `BodyTooLargeError` past it. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
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
