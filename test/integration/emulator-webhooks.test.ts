/**
 * Webhook delivery over real HTTP to a loopback receiver: the events a chat fires, the signed
 * JSON body, retries after a failed attempt, website scoping and stopping on delete.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatResponse, CreateWebhookResponse, WebhooksResponse } from '../../src/asyntai/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { call, startReceiver, waitFor, type Received } from './emulator-helpers.js';

let emu: EmulatorHandle;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
/** Per request index: the status the receiver answers (200 unless set). */
let statusFor: (index: number) => number = () => 200;
const api = (method: string, path: string, body?: unknown) => call(emu.url, emu.apiKey, method, path, { body });

interface Delivered {
  event: string;
  timestamp: string;
  data: { session_id: string; website_id: number; message?: string; response?: string };
}

const parse = (r: Received): Delivered => JSON.parse(r.body) as Delivered;

function verify(secret: string, r: Received): boolean {
  const expected = Buffer.from(createHmac('sha256', secret).update(r.body).digest('hex'));
  const given = Buffer.from(String(r.headers['x-webhook-signature']));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function subscribe(path: string, events: string[], websiteId?: number): Promise<{ id: string; secret: string }> {
  const res = await api('POST', 'webhooks/', { url: `${receiver.url}${path}`, events, website_id: websiteId });
  return CreateWebhookResponse.parse(res.body).webhook;
}

beforeAll(async () => {
  emu = await startEmulator({ allowPrivateUrls: true, webhookRetryDelaysMs: [20, 20] });
  receiver = await startReceiver((req, res, index) => {
    res.writeHead(statusFor(index));
    res.end();
  });
});
afterEach(async () => {
  statusFor = () => 200;
  for (const hook of WebhooksResponse.parse((await api('GET', 'webhooks/')).body).webhooks) {
    await api('DELETE', `webhooks/${hook.id}/`);
  }
  receiver.received.length = 0;
});
afterAll(async () => {
  await emu.close();
  await receiver.close();
});

describe('webhook delivery', () => {
  it('posts signed JSON for conversation.started and message.received', async () => {
    const hook = await subscribe('/all', ['conversation.started', 'message.received']);
    const chat = ChatResponse.parse((await api('POST', 'chat/', { message: 'What are your business hours?', session_id: 'wh-1' })).body);
    await api('POST', 'chat/', { message: 'Thanks!', session_id: 'wh-1' });
    await waitFor(() => receiver.received.length >= 3, 'three deliveries');

    const events = receiver.received.map(parse);
    expect(events.map((e) => e.event).sort()).toEqual(['conversation.started', 'message.received', 'message.received']);
    const first = events.find((e) => e.event === 'message.received' && e.data.message === 'What are your business hours?');
    expect(first?.data).toMatchObject({ session_id: 'wh-1', website_id: 1, response: chat.response });
    expect(Number.isNaN(Date.parse(first?.timestamp ?? ''))).toBe(false);
    for (const r of receiver.received) {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/all');
      expect(r.headers['content-type']).toBe('application/json');
      expect(verify(hook.secret, r)).toBe(true);
      expect(verify('whsec_wrong', r)).toBe(false);
    }
  });

  it('fires escalation.requested when a visitor asks for a human', async () => {
    const hook = await subscribe('/escalations', ['escalation.requested']);
    await api('POST', 'chat/', { message: 'What are your business hours?', session_id: 'wh-esc' });
    const reply = ChatResponse.parse((await api('POST', 'chat/', { message: 'I need to talk to a person', session_id: 'wh-esc' })).body);
    await waitFor(() => receiver.received.length >= 1, 'the escalation');
    const [delivered] = receiver.received;
    if (delivered === undefined) throw new Error('no delivery');
    expect(parse(delivered)).toMatchObject({
      event: 'escalation.requested',
      data: { session_id: 'wh-esc', website_id: 1, message: 'I need to talk to a person', response: reply.response },
    });
    expect(verify(hook.secret, delivered)).toBe(true);
  });

  it('retries after the receiver fails, with the same signed body', async () => {
    statusFor = (index) => (index === 0 ? 500 : 200);
    const hook = await subscribe('/flaky', ['message.received']);
    await api('POST', 'chat/', { message: 'Do you ship to Canada?', session_id: 'wh-retry' });
    await waitFor(() => receiver.received.length >= 2, 'the retry');
    const [failed, retried] = receiver.received;
    expect(retried?.body).toBe(failed?.body);
    if (retried !== undefined) expect(verify(hook.secret, retried)).toBe(true);
    // Delivered on the second attempt: no third one follows even after the remaining delays.
    await new Promise((r) => setTimeout(r, 150));
    expect(receiver.received).toHaveLength(2);
  });

  it('gives up after the configured attempts when the receiver keeps failing', async () => {
    statusFor = () => 503;
    await subscribe('/down', ['message.received']);
    await api('POST', 'chat/', { message: 'Hello there', session_id: 'wh-down' });
    await waitFor(() => receiver.received.length >= 3, 'three attempts');
    await new Promise((r) => setTimeout(r, 150));
    expect(receiver.received).toHaveLength(3);
  });

  it('delivers only subscribed events, only for the webhook website, and nothing after delete', async () => {
    await subscribe('/site2', ['message.received'], 2);
    const onlyStarted = await subscribe('/started', ['conversation.started']);
    await api('POST', 'chat/', { message: 'hours?', session_id: 'wh-scope', website_id: 1 });
    await api('POST', 'chat/', { message: 'hours?', session_id: 'wh-scope-2', website_id: 2 });
    await waitFor(() => receiver.received.length >= 3, 'scoped deliveries');
    const seen = receiver.received.map((r) => `${r.url} ${parse(r).event} ${parse(r).data.website_id}`).sort();
    expect(seen).toEqual(['/site2 message.received 2', '/started conversation.started 1', '/started conversation.started 2']);

    await api('DELETE', `webhooks/${onlyStarted.id}/`);
    receiver.received.length = 0;
    await api('POST', 'chat/', { message: 'hours?', session_id: 'wh-scope-3', website_id: 2 });
    await waitFor(() => receiver.received.length >= 1, 'the site 2 delivery');
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.received.map((r) => r.url)).toEqual(['/site2']);
  });

  it('stops pending retries on close', async () => {
    const handle = await startEmulator({ allowPrivateUrls: true, webhookRetryDelaysMs: [200] });
    statusFor = () => 500;
    await call(handle.url, handle.apiKey, 'POST', 'webhooks/', { body: { url: `${receiver.url}/closing`, events: ['message.received'] } });
    await call(handle.url, handle.apiKey, 'POST', 'chat/', { body: { message: 'hello' } });
    await waitFor(() => receiver.received.length >= 1, 'the first attempt');
    await handle.close();
    await new Promise((r) => setTimeout(r, 400));
    expect(receiver.received).toHaveLength(1);
  });
});
