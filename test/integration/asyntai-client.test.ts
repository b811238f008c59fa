/**
 * The client against the emulator over real HTTP: every endpoint, every error kind, and the
 * retry rules (5xx and connection failures retried, 4xx and timeouts not).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { AsyntaiError } from '../../src/asyntai/errors.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let page: Server;
let pageUrl: string;
let dir: string;
const retries: number[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ allowPrivateUrls: true, plan: 'pro' });
  client = new AsyntaiClient({
    apiKey: emulator.apiKey,
    baseUrl: emulator.url,
    retryBaseMs: 5,
    onRetry: ({ delayMs }) => retries.push(delayMs),
  });
  page = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><head><title>Gift cards</title></head><body><p>Gift cards never expire and work in every store.</p></body></html>');
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/gift-cards`;
  dir = await mkdtemp(join(tmpdir(), 'client-test-'));
});

afterAll(async () => {
  await client.close();
  await emulator.close();
  page.close();
  await rm(dir, { recursive: true, force: true });
});

const expectKind = async (promise: Promise<unknown>, kind: AsyntaiError['kind']) => {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AsyntaiError);
  expect((err as AsyntaiError).kind).toBe(kind);
  return err as AsyntaiError;
};

describe('endpoints', () => {
  it('chats, keeps the session, and lists the conversation and session', async () => {
    const first = await client.chat({ message: 'What are your business hours?', sessionId: 'client-test-1' });
    expect(first.sessionId).toBe('client-test-1');
    expect(first.response.length).toBeGreaterThan(0);
    await client.chat({ message: 'And on weekends?', sessionId: 'client-test-1' });
    const messages = await client.conversation('client-test-1');
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(messages[0]!.content).toBe('What are your business hours?');
    const sessions = await client.sessions({ limit: 100 });
    expect(sessions.find((s) => s.session_id === 'client-test-1')?.message_count).toBe(4);
  });

  it('mints a session id when none is given', async () => {
    const answer = await client.chat({ message: 'Hello' });
    expect(answer.sessionId).toMatch(/\S+/);
  });

  it('lists websites with one primary, and the account', async () => {
    const websites = await client.websites();
    expect(websites.filter((w) => w.is_primary)).toHaveLength(1);
    const account = await client.account();
    expect(account.plan).toBe('pro');
    expect(account.messages_limit).toBe(50_000);
    expect(account.messages_used).toBeGreaterThan(0);
  });

  it('turns an email in a message into a lead', async () => {
    await client.chat({ message: 'Please email me at jane.doe@example.org', sessionId: 'client-lead' });
    const leads = await client.leads({ limit: 100 });
    expect(leads.find((l) => l.session_id === 'client-lead')?.email).toBe('jane.doe@example.org');
  });

  it('adds, lists, answers from and deletes a text entry', async () => {
    const added = await client.addKnowledgeText({ title: 'Parking', content: 'Free parking behind the store for all customers.' });
    expect(added.chunks_created).toBeGreaterThanOrEqual(1);
    expect((await client.listKnowledge({ limit: 100 })).map((e) => e.id)).toContain(added.id);
    expect((await client.chat({ message: 'Where can I park?' })).response.toLowerCase()).toContain('parking');
    expect(await client.deleteKnowledge(added.id)).toMatch(/deleted/i);
    expect((await client.listKnowledge({ limit: 100 })).map((e) => e.id)).not.toContain(added.id);
  });

  it('adds a web page', async () => {
    const added = await client.addKnowledgeUrl({ url: pageUrl });
    expect(added.title).toBe('Gift cards');
    expect(added.url).toBe(pageUrl);
  });

  it('uploads a spreadsheet from bytes and from a path', async () => {
    const csv = 'product,price\nTent,199\nStove,49\n';
    const fromBytes = await client.uploadSpreadsheet({ data: Buffer.from(csv), filename: 'products.csv' });
    expect(fromBytes).toMatchObject({ title: 'products.csv', rows_processed: 2 });
    const path = join(dir, 'more.csv');
    await writeFile(path, 'q,a\nDo you ship abroad?,Yes to the EU\n');
    expect(await client.uploadSpreadsheet({ path })).toMatchObject({ title: 'more.csv', rows_processed: 1 });
  });

  it('creates, lists and deletes a webhook; the secret is shown only once', async () => {
    const created = await client.createWebhook({ url: 'https://hooks.example.com/asyntai', events: ['escalation.requested'] });
    expect(created.secret).toMatch(/^whsec_/);
    const listed = (await client.listWebhooks()).find((w) => w.id === created.id);
    expect(listed).toBeDefined();
    expect(listed).not.toHaveProperty('secret');
    expect(await client.deleteWebhook(created.id)).toMatch(/deleted/i);
  });

  it('clamps limit into 1..100', async () => {
    expect((await client.sessions({ limit: 0 })).length).toBeLessThanOrEqual(1);
    await expect(client.sessions({ limit: 10_000 })).resolves.toBeInstanceOf(Array);
  });

  it('authenticates with X-API-Key as well', async () => {
    const alt = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, authHeader: 'x-api-key' });
    expect((await alt.websites()).length).toBeGreaterThan(0);
    await alt.close();
  });
});

describe('errors', () => {
  it('401 is unauthorized', async () => {
    const bad = new AsyntaiClient({ apiKey: 'wrong-key', baseUrl: emulator.url });
    const err = await expectKind(bad.account(), 'unauthorized');
    expect(err.status).toBe(401);
    await bad.close();
  });

  it('400 is bad_request with the API text', async () => {
    const err = await expectKind(client.addKnowledgeText({ title: 'x', content: 'short' }), 'bad_request');
    expect(err.apiError).toBeTruthy();
  });

  it('404 is not_found', async () => {
    await expectKind(client.deleteKnowledge('no-such-entry'), 'not_found');
    await expectKind(client.deleteWebhook('no-such-hook'), 'not_found');
  });

  it('429 is rate_limited and not retried', async () => {
    retries.length = 0;
    emulator.faults.failNext(1, 429, { error: 'Monthly message limit reached' });
    const err = await expectKind(client.chat({ message: 'hi' }), 'rate_limited');
    expect(err.apiError).toBe('Monthly message limit reached');
    expect(retries).toEqual([]);
  });

  it('503 is retried, then succeeds', async () => {
    retries.length = 0;
    emulator.faults.failNext(2, 503);
    await expect(client.chat({ message: 'What are your business hours?' })).resolves.toHaveProperty('response');
    expect(retries).toHaveLength(2);
  });

  it('503 after every retry is unavailable', async () => {
    retries.length = 0;
    emulator.faults.failNext(3, 503);
    await expectKind(client.websites(), 'unavailable');
    expect(retries).toHaveLength(2);
  });

  it("honours the server's Retry-After", async () => {
    retries.length = 0;
    emulator.faults.failNext(1, 503, { retryAfterSeconds: 1 });
    await client.websites();
    expect(retries).toEqual([1000]);
  });

  it('a slow answer is a timeout, not retried', async () => {
    const impatient = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, chatTimeoutMs: 100 });
    // Well past the limit: undici's timers fire up to about a second late.
    emulator.faults.setLatency(2_500);
    try {
      await expectKind(impatient.chat({ message: 'hi' }), 'timeout');
    } finally {
      emulator.faults.setLatency(0);
      await impatient.close();
    }
  });

  it('a malformed 200 body is protocol', async () => {
    emulator.faults.malformNext(1);
    await expectKind(client.account(), 'protocol');
  });

  it('a dropped connection is retried for a GET', async () => {
    retries.length = 0;
    emulator.faults.dropNext(1);
    await expect(client.websites()).resolves.toBeInstanceOf(Array);
    expect(retries).toHaveLength(1);
  });

  it('a dropped connection is not retried for a POST /chat/ (the message may have been processed)', async () => {
    retries.length = 0;
    emulator.faults.dropNext(1);
    await expectKind(client.chat({ message: 'hi' }), 'network');
    expect(retries).toEqual([]);
  });

  it('a refused connection is network, after retries', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const seen: number[] = [];
    const nowhere = new AsyntaiClient({ apiKey: 'k', baseUrl: `http://127.0.0.1:${port}/api/v1/`, retryBaseMs: 1, onRetry: ({ attempt }) => seen.push(attempt) });
    await expectKind(nowhere.chat({ message: 'hi' }), 'network');
    expect(seen).toEqual([1, 2]);
    await nowhere.close();
  });
});
