/**
 * The emulator's contract over real HTTP: every documented endpoint's shape (parsed with the
 * client's zod schemas), auth by both headers, errors, trailing slashes, limits and website scope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountResponse,
  ChatResponse,
  ConversationResponse,
  CreateWebhookResponse,
  ErrorBody,
  KnowledgeListResponse,
  KnowledgeTextResponse,
  LeadsResponse,
  MessageResponse,
  SessionsResponse,
  WebhooksResponse,
  WebsitesResponse,
} from '../../src/asyntai/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { call } from './emulator-helpers.js';

let emu: EmulatorHandle;
const api = (method: string, path: string, body?: unknown) => call(emu.url, emu.apiKey, method, path, { body });

beforeAll(async () => {
  emu = await startEmulator({ apiKeys: ['key-one', 'key-two'] });
});
afterAll(async () => {
  await emu.close();
});

describe('auth', () => {
  it('accepts a Bearer key and an X-API-Key header, any configured key', async () => {
    expect(emu.apiKey).toBe('key-one');
    expect((await call(emu.url, 'key-two', 'GET', 'account/')).status).toBe(200);
    const viaHeader = await call(emu.url, null, 'GET', 'websites/', { headers: { 'x-api-key': 'key-one' } });
    expect(viaHeader.status).toBe(200);
    WebsitesResponse.parse(viaHeader.body);
  });

  it('answers 401 with the error body for a missing or wrong key', async () => {
    for (const key of [null, 'nope']) {
      const res = await call(emu.url, key, 'GET', 'account/');
      expect(res.status).toBe(401);
      ErrorBody.parse(res.body);
    }
    const wrongHeader = await call(emu.url, null, 'GET', 'account/', { headers: { 'x-api-key': 'dev-key' } });
    expect(wrongHeader.status).toBe(401);
  });

  it('says hello at the API root without a key', async () => {
    const res = await call(emu.url, null, 'GET', '/api/v1/');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true });
  });
});

describe('routing', () => {
  it('serves every path with and without the trailing slash', async () => {
    for (const path of ['websites', 'websites/', 'account', 'knowledge', 'webhooks/', 'sessions', 'leads/']) {
      expect((await api('GET', path)).status, path).toBe(200);
    }
    expect((await api('POST', 'chat', { message: 'hello' })).status).toBe(200);
  });

  it('answers 404 for unknown routes and ids, 405 for a wrong method', async () => {
    for (const [method, path] of [
      ['GET', 'nope/'],
      ['GET', '/elsewhere'],
      ['DELETE', 'knowledge/does-not-exist/'],
      ['DELETE', 'webhooks/does-not-exist'],
    ] as const) {
      const res = await api(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      ErrorBody.parse(res.body);
    }
    const wrong = await api('GET', 'chat/');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    ErrorBody.parse(wrong.body);
  });

  it('refuses bad JSON and oversized bodies', async () => {
    const bad = await call(emu.url, emu.apiKey, 'POST', 'chat/', { body: '{"message": ' });
    expect(bad.status).toBe(400);
    expect(ErrorBody.parse(bad.body).error).toMatch(/JSON/);
    const notObject = await api('POST', 'chat/', [1, 2]);
    expect(notObject.status).toBe(400);
    const huge = await api('POST', 'knowledge/text/', { title: 'Huge', content: 'x'.repeat(1_100_000) });
    expect(huge.status).toBe(413);
    ErrorBody.parse(huge.body);
  });
});

describe('documented shapes', () => {
  it('chat answers and mints a session id when none is given', async () => {
    const res = await api('POST', 'chat/', { message: 'What are your business hours?' });
    expect(res.status).toBe(200);
    const body = ChatResponse.parse(res.body);
    expect(body.session_id).toMatch(/^session_[0-9a-f]+$/);
    expect(body.response).toMatch(/9 AM to 6 PM/);

    const again = ChatResponse.parse((await api('POST', 'chat/', { message: 'Hi', session_id: 'user_123', website_id: 1 })).body);
    expect(again.session_id).toBe('user_123');
  });

  it('chat refuses a missing, empty or non-string message with 400', async () => {
    for (const body of [{}, { message: '' }, { message: '   ' }, { message: 42 }, { message: 'hi', session_id: { a: 1 } }]) {
      const res = await api('POST', 'chat/', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      ErrorBody.parse(res.body);
    }
  });

  it('lists websites with one primary', async () => {
    const { websites } = WebsitesResponse.parse((await api('GET', 'websites/')).body);
    expect(websites.length).toBeGreaterThanOrEqual(2);
    expect(websites.filter((w) => w.is_primary)).toHaveLength(1);
  });

  it('returns conversation history, sessions, account and leads in the documented shapes', async () => {
    await api('POST', 'chat/', { message: 'Do you ship to Canada?', session_id: 'shape-1' });
    await api('POST', 'chat/', { message: 'How long does it take?', session_id: 'shape-1' });
    const conv = ConversationResponse.parse((await api('GET', 'conversations/?session_id=shape-1')).body);
    expect(conv.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(conv.messages[0]?.content).toBe('Do you ship to Canada?');
    expect(Number.isNaN(Date.parse(conv.messages[0]?.timestamp ?? ''))).toBe(false);
    const lastTwo = ConversationResponse.parse((await api('GET', 'conversations/?session_id=shape-1&limit=2')).body);
    expect(lastTwo.messages.map((m) => m.content)[0]).toBe('How long does it take?');

    const { sessions } = SessionsResponse.parse((await api('GET', 'sessions/')).body);
    expect(sessions[0]).toMatchObject({ session_id: 'shape-1', source: 'api', message_count: 4, first_message: 'Do you ship to Canada?' });
    expect(sessions[0]?.website_domain).toBe('northwind-outfitters.example');

    const { account } = AccountResponse.parse((await api('GET', 'account/')).body);
    expect(account).toMatchObject({ plan: 'starter', messages_limit: 2500 });
    expect(account.messages_used).toBeGreaterThanOrEqual(2);
    expect(account.email).toContain('@');

    LeadsResponse.parse((await api('GET', 'leads/')).body);
    expect((await api('GET', 'conversations/')).status).toBe(400);
    const unknown = ConversationResponse.parse((await api('GET', 'conversations/?session_id=never-used')).body);
    expect(unknown.messages).toEqual([]);
  });

  it('adds, lists and deletes knowledge; webhooks create, list without secret, delete', async () => {
    const added = KnowledgeTextResponse.parse(
      (await api('POST', 'knowledge/text/', { title: 'Return Policy', content: 'Returns are accepted within 30 days.' })).body,
    );
    expect(added.chunks_created).toBe(1);
    const { entries } = KnowledgeListResponse.parse((await api('GET', 'knowledge/')).body);
    expect(entries[0]).toMatchObject({ id: added.id, type: 'text', title: 'Return Policy', description: 'Manual text content (6 words)' });
    MessageResponse.parse((await api('DELETE', `knowledge/${added.id}/`)).body);
    expect((await api('DELETE', `knowledge/${added.id}/`)).status).toBe(404);

    const created = CreateWebhookResponse.parse(
      (await api('POST', 'webhooks/', { url: 'https://example.com/hook', events: ['message.received'] })).body,
    );
    expect(created.webhook.secret).toMatch(/^whsec_[0-9a-f]{16,}$/);
    const listed = WebhooksResponse.parse((await api('GET', 'webhooks/')).body);
    expect(listed.webhooks).toEqual([
      { id: created.webhook.id, url: 'https://example.com/hook', events: ['message.received'], is_active: true, created_at: created.webhook.created_at },
    ]);
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    expect(MessageResponse.parse((await api('DELETE', `webhooks/${created.webhook.id}`)).body).message).toBe('Webhook deleted');
    expect(WebhooksResponse.parse((await api('GET', 'webhooks/')).body).webhooks).toEqual([]);
  });
});

describe('validation and limits', () => {
  it('refuses content under 10 characters and missing title', async () => {
    const short = await api('POST', 'knowledge/text/', { title: 'Short', content: '123456789' });
    expect(short.status).toBe(400);
    expect(ErrorBody.parse(short.body).error).toMatch(/10 characters/);
    expect((await api('POST', 'knowledge/text/', { content: 'long enough content' })).status).toBe(400);
  });

  it('defaults, clamps and validates limit', async () => {
    for (let i = 0; i < 25; i++) await api('POST', 'chat/', { message: `hello number ${i}`, session_id: `limit-${i}` });
    expect(SessionsResponse.parse((await api('GET', 'sessions/')).body).sessions).toHaveLength(20);
    expect(SessionsResponse.parse((await api('GET', 'sessions/?limit=3')).body).sessions).toHaveLength(3);
    expect(SessionsResponse.parse((await api('GET', 'sessions/?limit=100000')).body).sessions.length).toBeGreaterThan(25);
    for (const bad of ['abc', '-1', '0', '2.5']) {
      const res = await api('GET', `sessions/?limit=${bad}`);
      expect(res.status, bad).toBe(400);
    }
    for (let i = 0; i < 110; i++) await api('POST', 'knowledge/text/', { title: `Fact ${i}`, content: `This is fact number ${i}.` });
    expect(KnowledgeListResponse.parse((await api('GET', 'knowledge/')).body).entries).toHaveLength(50);
    expect(KnowledgeListResponse.parse((await api('GET', 'knowledge/?limit=500')).body).entries).toHaveLength(100);
  });

  it('refuses webhooks without https url or with unknown or empty events', async () => {
    for (const body of [
      { events: ['message.received'] },
      { url: 'http://example.com/hook', events: ['message.received'] },
      { url: 'https://127.0.0.1/hook', events: ['message.received'] },
      { url: 'https://example.com/hook', events: [] },
      { url: 'https://example.com/hook', events: ['message.sent'] },
      { url: 'https://example.com/hook' },
    ]) {
      const res = await api('POST', 'webhooks/', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      ErrorBody.parse(res.body);
    }
  });
});

describe('website scoping', () => {
  it('answers from the chosen website and filters sessions, leads and knowledge by it', async () => {
    const coffee = ChatResponse.parse((await api('POST', 'chat/', { message: 'What are your opening hours?', website_id: 2 })).body);
    expect(coffee.response).toMatch(/7 AM to 7 PM/);
    await api('POST', 'chat/', { message: 'Reach me at cafe.fan@example.org', session_id: coffee.session_id });

    const site2 = SessionsResponse.parse((await api('GET', 'sessions/?website_id=2')).body).sessions;
    expect(site2.map((s) => s.session_id)).toEqual([coffee.session_id]);
    expect(site2[0]?.website_domain).toBe('harborlane-coffee.example');
    const leads2 = LeadsResponse.parse((await api('GET', 'leads/?website_id=2')).body).leads;
    expect(leads2.map((l) => l.email)).toEqual(['cafe.fan@example.org']);

    const added = KnowledgeTextResponse.parse(
      (await api('POST', 'knowledge/text/', { title: 'Wifi', content: 'Free wifi for all guests, password on the receipt.', website_id: '2' })).body,
    );
    const list2 = KnowledgeListResponse.parse((await api('GET', 'knowledge/?website_id=2')).body).entries;
    expect(list2.map((e) => e.id)).toContain(added.id);
    const list1 = KnowledgeListResponse.parse((await api('GET', 'knowledge/?limit=100')).body).entries;
    expect(list1.map((e) => e.id)).not.toContain(added.id);
    const wifiOnSite1 = ChatResponse.parse((await api('POST', 'chat/', { message: 'Is there wifi?', website_id: 1 })).body);
    expect(wifiOnSite1.response).not.toMatch(/receipt/);
  });

  it('answers 404 for an unknown website and 400 for a malformed one', async () => {
    expect((await api('POST', 'chat/', { message: 'hi', website_id: 99 })).status).toBe(404);
    expect((await api('GET', 'sessions/?website_id=99')).status).toBe(404);
    expect((await api('GET', 'knowledge/?website_id=abc')).status).toBe(400);
  });
});
