/**
 * The documented endpoints under /api/v1/. Each handler validates its input, throws HttpError
 * for the documented error statuses and returns the 200 body.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import { SessionSource, WebhookEvent } from '../asyntai/types.js';
import { composeAnswer, extractContacts } from './answer.js';
import { HttpError, parseLimit, parseWebsiteId, readJsonObject, requireString } from './http-io.js';
import { fetchPage } from './ingest-url.js';
import { chunkText, textRecord, type KnowledgeIndex } from './knowledge.js';
import { readMultipart } from './multipart.js';
import { vetUrl } from './net-guard.js';
import { PLANS, type PlanName } from './plans.js';
import { spreadsheetRows, type SpreadsheetLimits } from './spreadsheet.js';
import type { KnowledgeRecord, StateStore, WebsiteRecord } from './state.js';
import type { WebhookDelivery } from './webhooks.js';

/** Everything a handler works with. */
export interface EmulatorContext {
  store: StateStore;
  index: KnowledgeIndex;
  plan: PlanName;
  accountEmail: string;
  delivery: WebhookDelivery;
  /** Dispatcher for URL ingestion (guarded against private addresses unless allowed). */
  dispatcher: Dispatcher;
  allowPrivate: boolean;
  spreadsheetLimits: Readonly<SpreadsheetLimits>;
}

/** One route's work: resolves with the JSON body of a 200. */
export type Handler = (ctx: EmulatorContext, req: IncomingMessage, query: URLSearchParams, id: string) => Promise<object> | object;

/** A path pattern (its first group is the `{id}`) and a handler per method. */
export type Route = { pattern: RegExp; methods: Readonly<Record<string, Handler>> };

/** Longest accepted chat message and session id. */
const MAX_MESSAGE_CHARS = 10_000;
const MAX_SESSION_ID_CHARS = 255;
const MIN_CONTENT_CHARS = 10;

const now = (): string => new Date().toISOString();
const wordCount = (text: string): number => text.split(/\s+/).filter((w) => w !== '').length;

/** The website named by `value`, or `fallback` (the primary website unless given) when absent; unknown → 404. */
function website(ctx: EmulatorContext, value: unknown, fallback?: WebsiteRecord): WebsiteRecord {
  const id = parseWebsiteId(value);
  if (id === undefined) return fallback ?? ctx.store.primaryWebsite;
  const found = ctx.store.websites.find((w) => w.id === id);
  if (found === undefined) throw new HttpError(404, `Website ${id} not found`);
  return found;
}

/** Like `website` but for optional list filters: absent → undefined (all websites). */
function websiteFilter(ctx: EmulatorContext, query: URLSearchParams): number | undefined {
  return query.has('website_id') && query.get('website_id') !== '' ? website(ctx, query.get('website_id')).id : undefined;
}

/** Throws 429 unless `chars` more upload characters fit in today's allowance. */
function checkUploadAllowance(ctx: EmulatorContext, chars: number): void {
  const limit = PLANS[ctx.plan].uploadCharsPerDay;
  const used = ctx.store.uploadCharsToday();
  if (used + chars > limit) {
    throw new HttpError(
      429,
      `Daily upload limit reached: the ${ctx.plan} plan allows ${limit} characters a day, ${used} used today, this upload needs ${chars}`,
    );
  }
}

/** Stores and indexes a new knowledge entry, counting its characters against the daily allowance. */
function addKnowledge(ctx: EmulatorContext, record: KnowledgeRecord, chars: number): void {
  checkUploadAllowance(ctx, chars);
  ctx.store.countUpload(chars);
  ctx.store.knowledge.set(record.id, record);
  ctx.index.add(record);
  ctx.store.changed();
}

const chat: Handler = async (ctx, req) => {
  const body = await readJsonObject(req);
  const message = requireString(body, 'message');
  if (message.length > MAX_MESSAGE_CHARS) throw new HttpError(400, `message must be at most ${MAX_MESSAGE_CHARS} characters`);
  const rawSession = body['session_id'];
  if (rawSession !== undefined && rawSession !== null && typeof rawSession !== 'string' && typeof rawSession !== 'number') {
    throw new HttpError(400, 'session_id must be a string');
  }
  const given = rawSession === undefined || rawSession === null ? '' : String(rawSession).trim();
  const sessionId = given === '' ? `session_${randomBytes(8).toString('hex')}` : given;
  if (sessionId.length > MAX_SESSION_ID_CHARS) {
    throw new HttpError(400, `session_id must be at most ${MAX_SESSION_ID_CHARS} characters`);
  }

  const { store } = ctx;
  const existing = store.sessions.get(sessionId);
  const site = website(ctx, body['website_id'], store.websites.find((w) => w.id === existing?.websiteId));
  if (existing?.takeoverSince !== undefined) {
    // An agent has the session (emulator-only takeover route): the visitor's message is kept for
    // them, the assistant stays silent and nothing is counted.
    existing.messages.push({ role: 'user', content: message, timestamp: now() });
    store.changed();
    return { success: true, response: '', session_id: sessionId };
  }
  const limit = PLANS[ctx.plan].messagesPerMonth;
  if (store.messagesUsed() >= limit) {
    throw new HttpError(429, `Monthly message limit reached: the ${ctx.plan} plan includes ${limit} messages`);
  }

  const session = existing ?? { id: sessionId, websiteId: site.id, source: 'api' as const, messages: [], lead: null };
  if (existing === undefined) store.sessions.set(sessionId, session);
  const earlier = session.messages.filter((m) => m.role === 'user').map((m) => m.content);
  const answer = composeAnswer(ctx.index, site.id, message, earlier);
  session.messages.push({ role: 'user', content: message, timestamp: now() });
  session.messages.push({ role: 'assistant', content: answer.response, timestamp: now() });

  const contacts = extractContacts(message);
  if (contacts.email !== null || contacts.phone !== null) {
    session.lead = {
      email: contacts.email ?? session.lead?.email ?? null,
      phone: contacts.phone ?? session.lead?.phone ?? null,
      pageUrl: null,
      startedAt: session.messages[0]?.timestamp ?? now(),
    };
  }
  store.countMessage();

  const base = { session_id: sessionId, website_id: site.id, source: 'api' };
  if (existing === undefined) ctx.delivery.emit(store.webhooks.values(), 'conversation.started', { ...base, message });
  ctx.delivery.emit(store.webhooks.values(), 'message.received', { ...base, message, response: answer.response });
  if (answer.escalated) {
    ctx.delivery.emit(store.webhooks.values(), 'escalation.requested', {
      ...base,
      message,
      response: answer.response,
      reason: 'visitor_requested_human',
    });
  }
  return { success: true, response: answer.response, session_id: sessionId };
};

const websites: Handler = (ctx) => ({ success: true, websites: ctx.store.websites });

const conversations: Handler = (ctx, _req, query) => {
  const sessionId = query.get('session_id');
  if (sessionId === null || sessionId === '') throw new HttpError(400, 'Missing required parameter: session_id');
  const limit = parseLimit(query, 50);
  // Any id is a valid (client-chosen) session; one without history simply has no messages yet.
  const messages = ctx.store.sessions.get(sessionId)?.messages ?? [];
  return { success: true, session_id: sessionId, messages: messages.slice(-limit) };
};

const sessions: Handler = (ctx, _req, query) => {
  const limit = parseLimit(query, 20);
  const websiteId = websiteFilter(ctx, query);
  const source = query.get('source');
  if (source !== null && source !== '' && !(SessionSource.options as readonly string[]).includes(source)) {
    throw new HttpError(400, `source must be one of: ${SessionSource.options.join(', ')}`);
  }
  const list = [...ctx.store.sessions.values()]
    .filter((s) => s.messages.length > 0 && (websiteId === undefined || s.websiteId === websiteId))
    .filter((s) => source === null || source === '' || s.source === source)
    .map((s) => ({
      session_id: s.id,
      source: s.source,
      message_count: s.messages.length,
      first_message: s.messages[0]?.content ?? null,
      first_message_at: s.messages[0]?.timestamp ?? null,
      last_message_at: s.messages.at(-1)?.timestamp ?? null,
      website_domain: ctx.store.websites.find((w) => w.id === s.websiteId)?.domain ?? null,
    }))
    .sort((a, b) => (b.last_message_at ?? '').localeCompare(a.last_message_at ?? ''));
  return { success: true, sessions: list.slice(0, limit) };
};

const leads: Handler = (ctx, _req, query) => {
  const limit = parseLimit(query, 50);
  const websiteId = websiteFilter(ctx, query);
  const list = [...ctx.store.sessions.values()]
    .filter((s) => s.lead !== null && (websiteId === undefined || s.websiteId === websiteId))
    .map((s) => ({
      session_id: s.id,
      email: s.lead?.email ?? null,
      phone: s.lead?.phone ?? null,
      page_url: s.lead?.pageUrl ?? null,
      started_at: s.lead?.startedAt ?? null,
    }))
    .sort((a, b) => (b.started_at ?? '').localeCompare(a.started_at ?? ''));
  return { success: true, leads: list.slice(0, limit) };
};

const account: Handler = (ctx) => ({
  success: true,
  account: {
    email: ctx.accountEmail,
    plan: ctx.plan,
    messages_used: ctx.store.messagesUsed(),
    messages_limit: PLANS[ctx.plan].messagesPerMonth,
  },
});

const listKnowledge: Handler = (ctx, _req, query) => {
  const limit = parseLimit(query, 50);
  const websiteId = website(ctx, query.get('website_id')).id;
  const entries = [...ctx.store.knowledge.values()]
    .filter((k) => k.websiteId === websiteId)
    .reverse() // newest first among entries created in the same millisecond (the sort is stable)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .slice(0, limit)
    .map((k) => ({ id: k.id, type: k.type, title: k.title, description: k.description, created_at: k.createdAt }));
  return { success: true, entries };
};

const addText: Handler = async (ctx, req) => {
  const body = await readJsonObject(req);
  const title = requireString(body, 'title').trim();
  const content = requireString(body, 'content').trim();
  if (content.length < MIN_CONTENT_CHARS) throw new HttpError(400, `content must be at least ${MIN_CONTENT_CHARS} characters`);
  const site = website(ctx, body['website_id']);
  const record = textRecord(randomUUID(), site.id, title, content, now());
  addKnowledge(ctx, record, content.length);
  return { success: true, id: record.id, title: record.title, chunks_created: record.chunks.length };
};

const addUrl: Handler = async (ctx, req) => {
  const body = await readJsonObject(req);
  const url = vetUrl(requireString(body, 'url').trim(), ctx.allowPrivate, ['https:', 'http:'], 'url');
  const site = website(ctx, body['website_id']);
  checkUploadAllowance(ctx, 1); // nothing left today: refuse before fetching
  const page = await fetchPage(url, { dispatcher: ctx.dispatcher, allowPrivate: ctx.allowPrivate });
  if (page.text.length < MIN_CONTENT_CHARS) throw new HttpError(400, `No readable text found at ${url.href}`);
  const record: KnowledgeRecord = {
    id: randomUUID(),
    websiteId: site.id,
    type: 'url',
    title: page.title,
    description: `Web page ${url.href} (${wordCount(page.text)} words)`,
    url: url.href,
    createdAt: now(),
    chunks: chunkText(page.text),
  };
  addKnowledge(ctx, record, page.text.length);
  return { success: true, id: record.id, title: record.title, url: url.href, chunks_created: record.chunks.length };
};

const addSpreadsheet: Handler = async (ctx, req) => {
  const { fields, files } = await readMultipart(req);
  const file = files.get('file');
  if (file === undefined) throw new HttpError(400, 'Missing required file field: file');
  const site = website(ctx, fields.get('website_id'));
  const rows = await spreadsheetRows(file.filename, file.mimeType, file.data, ctx.spreadsheetLimits);
  if (rows.length === 0) throw new HttpError(400, 'The spreadsheet has no data rows');
  const max = PLANS[ctx.plan].spreadsheetRows;
  const kept = rows.slice(0, max);
  const title = file.filename || 'spreadsheet';
  const truncated = rows.length - kept.length;
  const record: KnowledgeRecord = {
    id: randomUUID(),
    websiteId: site.id,
    type: 'spreadsheet',
    title,
    description: `Spreadsheet ${title} (${kept.length} rows${truncated > 0 ? `, ${truncated} more truncated at the plan limit` : ''})`,
    url: null,
    createdAt: now(),
    // Each row is its own retrievable piece so an answer quotes one product/record, not a mix.
    chunks: kept,
  };
  addKnowledge(ctx, record, kept.reduce((n, row) => n + row.length, 0));
  return { success: true, id: record.id, title, rows_processed: kept.length, chunks_created: kept.length };
};

const deleteKnowledge: Handler = (ctx, _req, _query, id) => {
  const record = ctx.store.knowledge.get(id);
  if (record === undefined) throw new HttpError(404, 'Knowledge base entry not found');
  ctx.index.remove(record);
  ctx.store.knowledge.delete(id);
  ctx.store.changed();
  return { success: true, message: 'Knowledge base entry deleted' };
};

const listWebhooks: Handler = (ctx) => ({
  success: true,
  webhooks: [...ctx.store.webhooks.values()].map((w) => ({
    id: w.id,
    url: w.url,
    events: w.events,
    is_active: w.isActive,
    created_at: w.createdAt,
  })),
});

const createWebhook: Handler = async (ctx, req) => {
  const body = await readJsonObject(req);
  const url = vetUrl(requireString(body, 'url').trim(), ctx.allowPrivate, ['https:'], 'url');
  // A urlencoded form can only carry a comma-separated list.
  const rawEvents = typeof body['events'] === 'string' ? body['events'].split(',').map((e) => e.trim()) : body['events'];
  if (rawEvents === undefined || rawEvents === null) throw new HttpError(400, 'Missing required field: events');
  if (!Array.isArray(rawEvents) || rawEvents.length === 0) throw new HttpError(400, 'events must be a non-empty array');
  const unknown = rawEvents.filter((e) => !(WebhookEvent.options as readonly unknown[]).includes(e));
  if (unknown.length > 0) {
    throw new HttpError(400, `Unknown event(s): ${unknown.map(String).join(', ')}; known: ${WebhookEvent.options.join(', ')}`);
  }
  const events = [...new Set(rawEvents as WebhookEvent[])];
  // Without website_id the webhook receives the events of every website.
  const websiteId = parseWebsiteId(body['website_id']) === undefined ? null : website(ctx, body['website_id']).id;
  const hook = {
    id: randomUUID(),
    url: url.href,
    events,
    secret: `whsec_${randomBytes(24).toString('hex')}`,
    websiteId,
    isActive: true,
    createdAt: now(),
  };
  ctx.store.webhooks.set(hook.id, hook);
  ctx.store.changed();
  return {
    success: true,
    webhook: { id: hook.id, url: hook.url, events, secret: hook.secret, created_at: hook.createdAt },
  };
};

const deleteWebhook: Handler = (ctx, _req, _query, id) => {
  const hook = ctx.store.webhooks.get(id);
  if (hook === undefined) throw new HttpError(404, 'Webhook not found');
  hook.isActive = false; // stops retries already scheduled for it
  ctx.store.webhooks.delete(id);
  ctx.store.changed();
  return { success: true, message: 'Webhook deleted' };
};

/** Routes in match order (fixed paths before `{id}` paths); paths are relative to /api/v1/ without slashes. */
const ROUTES: readonly Route[] = [
  { pattern: /^chat$/, methods: { POST: chat } },
  { pattern: /^websites$/, methods: { GET: websites } },
  { pattern: /^conversations$/, methods: { GET: conversations } },
  { pattern: /^sessions$/, methods: { GET: sessions } },
  { pattern: /^leads$/, methods: { GET: leads } },
  { pattern: /^account$/, methods: { GET: account } },
  { pattern: /^knowledge$/, methods: { GET: listKnowledge } },
  { pattern: /^knowledge\/text$/, methods: { POST: addText } },
  { pattern: /^knowledge\/url$/, methods: { POST: addUrl } },
  { pattern: /^knowledge\/spreadsheet$/, methods: { POST: addSpreadsheet } },
  { pattern: /^knowledge\/([^/]+)$/, methods: { DELETE: deleteKnowledge } },
  { pattern: /^webhooks$/, methods: { GET: listWebhooks, POST: createWebhook } },
  { pattern: /^webhooks\/([^/]+)$/, methods: { DELETE: deleteWebhook } },
];

/** The route for a path relative to /api/v1/ (no leading or trailing slash), with its `{id}`. */
export function findRoute(path: string): { methods: Readonly<Record<string, Handler>>; id: string } | undefined {
  return matchRoute(ROUTES, path);
}

/** The first of `routes` whose pattern matches `path`, with its decoded `{id}`. */
export function matchRoute(routes: readonly Route[], path: string): { methods: Readonly<Record<string, Handler>>; id: string } | undefined {
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (m === null) continue;
    try {
      return { methods: route.methods, id: decodeURIComponent(m[1] ?? '') };
    } catch {
      return undefined; // malformed %-escape: no such resource
    }
  }
  return undefined;
}
