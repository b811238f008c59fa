/**
 * An Asyntai API that answers at once, run as its own process by the benchmarks (`node --import
 * tsx bench/instant-api.ts`), so what it costs is never counted against the bridge: fixed JSON for
 * /chat/, /account/ and /websites/, any key accepted. Prints `{"port":N}` on stdout when listening.
 *
 * `POST /__delay` with `{"ms":N}` makes every later answer wait N ms (the ack benchmarks need an
 * API that takes seconds); `GET /__stats` counts /chat/ calls per session, so a run can check
 * that every message reached the API exactly once.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A typical answer length (~400 characters), so every path parses and renders a realistic body. */
const ANSWER =
  'Our support team is available Monday to Friday from 9:00 to 17:00 (CET). Orders placed before 14:00 ship the same day; ' +
  'standard delivery takes 2–4 business days and express delivery 1 business day. You can return any unused item within ' +
  '30 days of delivery: open **Orders**, pick the order and press *Return items*. Refunds reach the original payment method within 5–10 days.';

const ACCOUNT = JSON.stringify({ success: true, account: { email: 'bench@example.com', plan: 'pro', messages_used: 0, messages_limit: 1_000_000 } });
const WEBSITES = JSON.stringify({ success: true, websites: [{ id: 1, name: 'Bench shop', domain: 'bench.example', is_primary: true }] });
const NOT_FOUND = JSON.stringify({ success: false, error: 'Not found' });

let delayMs = 0;
let chats = 0;

function answer(res: ServerResponse, status: number, body: string): void {
  const send = () => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (delayMs > 0) setTimeout(send, delayMs);
  else send();
}

function readBody(req: IncomingMessage, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]!;
  readBody(req, (body) => {
    if (path.endsWith('/chat/')) {
      chats++;
      let sessionId = 'bench-session';
      let message = '';
      try {
        const parsed = JSON.parse(body) as { session_id?: unknown; message?: unknown };
        if (typeof parsed.session_id === 'string') sessionId = parsed.session_id;
        if (typeof parsed.message === 'string') message = parsed.message;
      } catch {
        // An unparsable body still gets the fixed answer: this server measures cost, not validity.
      }
      // The question is echoed at the end, so order and duplicates can be checked by the caller.
      answer(res, 200, JSON.stringify({ success: true, response: `${ANSWER}\n\n> ${message}`, session_id: sessionId }));
    } else if (path.endsWith('/account/')) answer(res, 200, ACCOUNT);
    else if (path.endsWith('/websites/')) answer(res, 200, WEBSITES);
    else if (path === '/__delay') {
      delayMs = Math.max(0, Number((JSON.parse(body || '{}') as { ms?: unknown }).ms) || 0);
      res.end('{}');
    } else if (path === '/__stats') res.end(JSON.stringify({ chats }));
    else answer(res, 404, NOT_FOUND);
  });
});
// Above the bridge's pool (16) and the benchmark's raw pool together, with room to spare.
server.maxConnections = 1_000;
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
