/**
 * The Asyntai webhook receiver over real HTTP: signatures (right, prefixed, wrong, missing, no
 * secret configured), oversized and malformed bodies, lenient body shapes, and one action per
 * event even when it is delivered twice, to one instance or to two sharing a SQLite store. And
 * `npm run webhooks` as a real process against the emulator: the secret it prints verifies the
 * emulator's deliveries.
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AsyntaiEvent } from '../../src/core/handoff.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator } from '../../src/emulator/server.js';
import { ASYNTAI_WEBHOOK_PATH, mountAsyntaiWebhooks, type AsyntaiWebhookReceiver } from '../../src/http/asyntai-webhooks.js';
import { HttpServer, MAX_BODY_BYTES } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';

const SECRET = 'whsec_test_secret_for_the_receiver';
const logger = createLogger({ level: 'silent' });

/** One bridge instance's receiver: its server, what it acted on, and its store. */
interface Instance {
  url: string;
  events: AsyntaiEvent[];
  receiver: AsyntaiWebhookReceiver;
  close(): Promise<void>;
}

async function startInstance(store: StateStore, secret: string | undefined): Promise<Instance> {
  const http = new HttpServer(logger);
  const events: AsyntaiEvent[] = [];
  const receiver = mountAsyntaiWebhooks(http, {
    secret,
    store,
    logger,
    onEvent: (event) => {
      events.push(event);
      return Promise.resolve();
    },
  });
  const port = await http.listen(0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}${ASYNTAI_WEBHOOK_PATH}`,
    events,
    receiver,
    close: async () => {
      await receiver.stop();
      await http.close();
    },
  };
}

const sign = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');

async function post(url: string, body: string, signature?: string): Promise<number> {
  const res = await request(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'x-webhook-signature': signature }) },
  });
  await res.body.dump();
  return res.statusCode;
}

/** A body as the emulator sends it, unique per call (timestamps differ between deliveries of different events). */
let counter = 0;
function eventBody(event = 'escalation.requested', data: Record<string, unknown> = {}): string {
  counter += 1;
  return JSON.stringify({ event, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString(), data: { session_id: `tg-${counter}`, website_id: 1, ...data } });
}

describe('one instance with a secret', () => {
  let store: StateStore;
  let bridge: Instance;

  beforeAll(async () => {
    store = await openStore('memory://');
    bridge = await startInstance(store, SECRET);
  });
  afterEach(async () => {
    await bridge.receiver.stop();
    bridge.events.length = 0;
  });
  afterAll(async () => {
    await bridge.close();
    await store.close();
  });

  it('acts on a correctly signed event, after answering 200', async () => {
    const body = eventBody('escalation.requested', { reason: 'visitor_requested_human', message: 'I want a person' });
    expect(await post(bridge.url, body, sign(body))).toBe(200);
    await bridge.receiver.stop();
    const sent = JSON.parse(body) as { timestamp: string; data: { session_id: string } };
    expect(bridge.events).toEqual([
      { event: 'escalation.requested', sessionId: sent.data.session_id, reason: 'visitor_requested_human', message: 'I want a person', timestamp: sent.timestamp },
    ]);
  });

  it('accepts the signature with a sha256= prefix and in upper case', async () => {
    const body = eventBody();
    expect(await post(bridge.url, body, `sha256=${sign(body).toUpperCase()}`)).toBe(200);
    await bridge.receiver.stop();
    expect(bridge.events).toHaveLength(1);
  });

  it('refuses a wrong or missing signature with 401 and does nothing', async () => {
    const body = eventBody();
    expect(await post(bridge.url, body, sign(body, 'whsec_someone_else'))).toBe(401);
    expect(await post(bridge.url, body, sign(`${body} `))).toBe(401);
    expect(await post(bridge.url, body, '')).toBe(401);
    expect(await post(bridge.url, body)).toBe(401);
    await bridge.receiver.stop();
    expect(bridge.events).toEqual([]);
    // Nothing was remembered either: the same body, correctly signed, is still acted on.
    expect(await post(bridge.url, body, sign(body))).toBe(200);
    await bridge.receiver.stop();
    expect(bridge.events).toHaveLength(1);
  });

  it('answers 413 to a body over 1 MB and 400 to one that is not JSON', async () => {
    const big = JSON.stringify({ event: 'escalation.requested', data: { session_id: 'x', message: 'a'.repeat(MAX_BODY_BYTES) } });
    expect(await post(bridge.url, big, sign(big))).toBe(413);
    const notJson = 'event=escalation.requested&session_id=x';
    expect(await post(bridge.url, notJson, sign(notJson))).toBe(400);
    await bridge.receiver.stop();
    expect(bridge.events).toEqual([]);
  });

  it('acts on the same delivery once', async () => {
    const body = eventBody('takeover.started');
    const statuses = await Promise.all([post(bridge.url, body, sign(body)), post(bridge.url, body, sign(body))]);
    expect(await post(bridge.url, body, sign(body))).toBe(200);
    expect(statuses).toEqual([200, 200]);
    await bridge.receiver.stop();
    expect(bridge.events.map((e) => e.event)).toEqual(['takeover.started']);
  });

  it('reads session_id at the top level too, and drops shapes it cannot read', async () => {
    const topLevel = JSON.stringify({ event: 'escalation.requested', session_id: 42, reason: 'angry' });
    const noSession = JSON.stringify({ event: 'escalation.requested', data: { website_id: 1 } });
    const array = JSON.stringify([{ event: 'escalation.requested' }]);
    for (const body of [topLevel, noSession, array]) expect(await post(bridge.url, body, sign(body))).toBe(200);
    await bridge.receiver.stop();
    expect(bridge.events).toEqual([{ event: 'escalation.requested', sessionId: '42', reason: 'angry', message: undefined, timestamp: undefined }]);
  });
});

describe('without ASYNTAI_WEBHOOK_SECRET', () => {
  it('keeps the route but refuses every request with 401', async () => {
    const store = await openStore('memory://');
    const bridge = await startInstance(store, undefined);
    try {
      const body = eventBody();
      expect(await post(bridge.url, body, sign(body))).toBe(401);
      expect(await post(bridge.url, body)).toBe(401);
      await bridge.receiver.stop();
      expect(bridge.events).toEqual([]);
    } finally {
      await bridge.close();
      await store.close();
    }
  });
});

describe('two instances sharing one SQLite store', () => {
  it('act on an event delivered to both once in all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webhooks-'));
    const url = `sqlite://${join(dir, 'bridge.sqlite')}`;
    const [storeA, storeB] = [await openStore(url), await openStore(url)];
    const [a, b] = [await startInstance(storeA, SECRET), await startInstance(storeB, SECRET)];
    try {
      const body = eventBody();
      expect(await Promise.all([post(a.url, body, sign(body)), post(b.url, body, sign(body))])).toEqual([200, 200]);
      await Promise.all([a.receiver.stop(), b.receiver.stop()]);
      expect(a.events.length + b.events.length).toBe(1);
    } finally {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run webhooks', () => {
  const run = promisify(execFile);
  /** Runs the CLI as a process with the emulator as the configured API; stdout, or the failure. */
  const webhooks = (env: Record<string, string>, ...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/webhooks-cli.ts', ...args], { env: { ...process.env, ...env } }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );

  // Starting node with tsx takes seconds on a busy machine; no time is asserted.
  it('registers, lists and deletes; the printed secret verifies real deliveries', { timeout: 180_000 }, async () => {
    const emulator = await startEmulator({ allowPrivateUrls: true, webhookRetryDelaysMs: [50] });
    const store = await openStore('memory://');
    const http = new HttpServer(logger);
    const port = await http.listen(0, '127.0.0.1');
    const env = { ASYNTAI_API_KEY: emulator.apiKey, ASYNTAI_API_URL: emulator.url, ADAPTERS: 'shell', STORE_URL: 'memory://' };
    try {
      const registered = await webhooks(env, 'register', `http://127.0.0.1:${port}/`);
      expect(registered.code, registered.stderr).toBe(0);
      const secret = /^ASYNTAI_WEBHOOK_SECRET=(\S+)$/m.exec(registered.stdout)?.[1];
      const id = /^Registered webhook (\S+): (\S+)$/m.exec(registered.stdout);
      expect(id?.[2]).toBe(`http://127.0.0.1:${port}${ASYNTAI_WEBHOOK_PATH}`);
      expect(registered.stdout).toContain('Events: escalation.requested, takeover.started');

      const events: AsyntaiEvent[] = [];
      const receiver = mountAsyntaiWebhooks(http, { secret, store, logger, onEvent: (e) => Promise.resolve(void events.push(e)) });
      const chat = await request(new URL('chat/', emulator.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${emulator.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'I want to speak to a human', session_id: 'cli-session' }),
      });
      await chat.body.dump();
      await expect.poll(() => events.length).toBe(1);
      await receiver.stop();
      expect(events[0]).toMatchObject({ event: 'escalation.requested', sessionId: 'cli-session', reason: 'visitor_requested_human' });

      const listed = await webhooks(env, 'list');
      expect(listed.stdout).toContain(`${id?.[1]}  http://127.0.0.1:${port}${ASYNTAI_WEBHOOK_PATH}  escalation.requested,takeover.started  active`);
      expect((await webhooks(env, 'delete', id![1]!)).stdout).toContain('Webhook deleted');
      const [after, again, usage, noKey] = await Promise.all([
        webhooks(env, 'list'),
        webhooks(env, 'delete', id![1]!),
        webhooks(env, 'register'),
        webhooks({ ...env, ASYNTAI_API_KEY: '' }, 'list'),
      ]);
      expect(after.stdout).toContain('No webhooks.');
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('webhooks: Asyntai refused (not_found');
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('usage: npm run webhooks');
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toContain('webhooks: ASYNTAI_API_KEY: required to manage webhooks');
    } finally {
      await http.close();
      await store.close();
      await emulator.close();
    }
  });
});
