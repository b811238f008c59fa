/**
 * A typed client for the Asyntai REST API (https://asyntai.com/api/v1/): one method per
 * endpoint, on an undici keep-alive pool (the global fetch costs several times the CPU per call
 * on Node 20). Every failure is an `AsyntaiError` with a stable `kind`; a 200 whose body does not
 * match the documented shape is `protocol`.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FormData, Pool } from 'undici';
import type { z } from 'zod';
import { AsyntaiError, kindForStatus } from './errors.js';
import {
  AccountResponse,
  ChatResponse,
  ConversationResponse,
  CreateWebhookResponse,
  ErrorBody,
  KnowledgeListResponse,
  KnowledgeSpreadsheetResponse,
  KnowledgeTextResponse,
  KnowledgeUrlResponse,
  LeadsResponse,
  LIMIT_MAX,
  MessageResponse,
  SessionsResponse,
  WebhooksResponse,
  WebsitesResponse,
  type Account,
  type ConversationMessage,
  type CreatedWebhook,
  type KnowledgeEntry,
  type Lead,
  type SessionSource,
  type SessionSummary,
  type Webhook,
  type WebhookEvent,
  type Website,
} from './types.js';

export interface AsyntaiClientOptions {
  apiKey: string;
  /** Default `https://asyntai.com/api/v1/`. */
  baseUrl?: string;
  /** How the key is sent: `Authorization: Bearer` (recommended by the reference) or `X-API-Key`. */
  authHeader?: 'bearer' | 'x-api-key';
  /** Time limit of one /chat/ attempt; default 30 s (the assistant may think for a while). */
  chatTimeoutMs?: number;
  /** Time limit of one attempt at any other endpoint; default 10 s. */
  timeoutMs?: number;
  /** Retries after a 5xx or a connection failure; default 2. */
  retries?: number;
  /** First backoff delay; doubles each retry, with jitter. Default 300 ms. */
  retryBaseMs?: number;
  /** Cap on any one wait, including a server's Retry-After. Default 10 s. */
  maxRetryDelayMs?: number;
  /** Keep-alive connections to the API; default 16. */
  connections?: number;
  /** Told of each retry (for logs); never given the key. */
  onRetry?: (info: { path: string; attempt: number; delayMs: number; error: AsyntaiError }) => void;
  /** Told of each attempt's outcome and duration (for metrics); `error` when it failed. */
  onResponse?: (info: { method: string; path: string; durationMs: number; error?: AsyntaiError }) => void;
}

/** A spreadsheet for `/knowledge/spreadsheet/`: bytes with a name, or a path on disk. */
export type SpreadsheetSource =
  | { data: Buffer | Uint8Array; filename: string; contentType?: string }
  | { path: string; filename?: string; contentType?: string };

/** Per-request options every method takes. */
export interface CallOptions {
  signal?: AbortSignal;
}

type Method = 'GET' | 'POST' | 'DELETE';

interface RequestSpec<S extends z.ZodType> {
  method: Method;
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  form?: () => Promise<FormData>;
  schema: S;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

const CONTENT_TYPES: Record<string, string> = {
  '.csv': 'text/csv',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** Errors undici raises before a request reached the server: always safe to retry. */
const CONNECT_ERROR_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export class AsyntaiClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly authHeaders: Record<string, string>;
  private readonly chatTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly onRetry: AsyntaiClientOptions['onRetry'];
  private readonly onResponse: AsyntaiClientOptions['onResponse'];

  constructor(options: AsyntaiClientOptions) {
    const base = new URL(options.baseUrl ?? 'https://asyntai.com/api/v1/');
    this.basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
    this.pool = new Pool(base.origin, { connections: options.connections ?? 16, keepAliveTimeout: 4_000 });
    this.authHeaders =
      options.authHeader === 'x-api-key' ? { 'x-api-key': options.apiKey } : { authorization: `Bearer ${options.apiKey}` };
    this.chatTimeoutMs = options.chatTimeoutMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.retryBaseMs = options.retryBaseMs ?? 300;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
    this.onRetry = options.onRetry;
    this.onResponse = options.onResponse;
  }

  /** POST /chat/: the assistant's answer; the same `sessionId` continues a conversation. */
  async chat(
    input: { message: string; sessionId?: string; websiteId?: number },
    options: CallOptions = {},
  ): Promise<{ response: string; sessionId: string }> {
    const body = await this.call({
      method: 'POST',
      path: 'chat/',
      json: { message: input.message, session_id: input.sessionId, website_id: input.websiteId },
      schema: ChatResponse,
      timeoutMs: this.chatTimeoutMs,
      signal: options.signal,
    });
    return { response: body.response, sessionId: body.session_id };
  }

  /** GET /websites/. */
  async websites(options: CallOptions = {}): Promise<Website[]> {
    return (await this.get('websites/', {}, WebsitesResponse, options)).websites;
  }

  /** GET /conversations/: the messages of one session, oldest first. */
  async conversation(sessionId: string, query: { limit?: number } = {}, options: CallOptions = {}): Promise<ConversationMessage[]> {
    const q = { session_id: sessionId, limit: clampLimit(query.limit) };
    return (await this.get('conversations/', q, ConversationResponse, options)).messages;
  }

  /** GET /sessions/: recent sessions, optionally of one website or source. */
  async sessions(
    query: { limit?: number; websiteId?: number | string; source?: SessionSource } = {},
    options: CallOptions = {},
  ): Promise<SessionSummary[]> {
    const q = { limit: clampLimit(query.limit), website_id: query.websiteId, source: query.source };
    return (await this.get('sessions/', q, SessionsResponse, options)).sessions;
  }

  /** GET /leads/: emails and phone numbers visitors gave. Personal data: show to admins only. */
  async leads(query: { limit?: number; websiteId?: number | string } = {}, options: CallOptions = {}): Promise<Lead[]> {
    const q = { limit: clampLimit(query.limit), website_id: query.websiteId };
    return (await this.get('leads/', q, LeadsResponse, options)).leads;
  }

  /** GET /account/: plan and message usage. */
  async account(options: CallOptions = {}): Promise<Account> {
    return (await this.get('account/', {}, AccountResponse, options)).account;
  }

  /** GET /knowledge/: knowledge base entries. */
  async listKnowledge(query: { limit?: number; websiteId?: number | string } = {}, options: CallOptions = {}): Promise<KnowledgeEntry[]> {
    const q = { limit: clampLimit(query.limit), website_id: query.websiteId };
    return (await this.get('knowledge/', q, KnowledgeListResponse, options)).entries;
  }

  /** POST /knowledge/text/: `content` must have at least 10 characters. */
  async addKnowledgeText(
    input: { title: string; content: string; websiteId?: number | string },
    options: CallOptions = {},
  ): Promise<z.infer<typeof KnowledgeTextResponse>> {
    const json = { title: input.title, content: input.content, website_id: optionalString(input.websiteId) };
    return this.post('knowledge/text/', json, KnowledgeTextResponse, options);
  }

  /** POST /knowledge/url/: the service fetches and extracts the page. */
  async addKnowledgeUrl(
    input: { url: string; websiteId?: number | string },
    options: CallOptions = {},
  ): Promise<z.infer<typeof KnowledgeUrlResponse>> {
    const json = { url: input.url, website_id: optionalString(input.websiteId) };
    return this.post('knowledge/url/', json, KnowledgeUrlResponse, options);
  }

  /** POST /knowledge/spreadsheet/ (multipart): a .csv or .xlsx whose first row holds the headers. */
  async uploadSpreadsheet(
    source: SpreadsheetSource,
    input: { websiteId?: number | string } = {},
    options: CallOptions = {},
  ): Promise<z.infer<typeof KnowledgeSpreadsheetResponse>> {
    const filename = source.filename ?? ('path' in source ? basename(source.path) : 'upload.csv');
    const contentType = source.contentType ?? CONTENT_TYPES[extname(filename).toLowerCase()] ?? 'application/octet-stream';
    // Read the file once, outside the retry loop; each attempt gets a fresh FormData.
    const bytes = 'path' in source ? await readFile(source.path) : source.data;
    const form = () => {
      const fd = new FormData();
      fd.set('file', new Blob([bytes], { type: contentType }), filename);
      const websiteId = optionalString(input.websiteId);
      if (websiteId !== undefined) fd.set('website_id', websiteId);
      return Promise.resolve(fd);
    };
    return this.call({
      method: 'POST',
      path: 'knowledge/spreadsheet/',
      form,
      schema: KnowledgeSpreadsheetResponse,
      timeoutMs: this.timeoutMs,
      signal: options.signal,
    });
  }

  /** DELETE /knowledge/{id}/. An unknown id is `not_found`. */
  async deleteKnowledge(id: string, options: CallOptions = {}): Promise<string> {
    return (await this.delete(`knowledge/${encodeURIComponent(id)}/`, options)).message;
  }

  /** GET /webhooks/. */
  async listWebhooks(options: CallOptions = {}): Promise<Webhook[]> {
    return (await this.get('webhooks/', {}, WebhooksResponse, options)).webhooks;
  }

  /** POST /webhooks/: the answer carries the signing secret, shown only this once. */
  async createWebhook(
    input: { url: string; events: WebhookEvent[]; websiteId?: number | string },
    options: CallOptions = {},
  ): Promise<CreatedWebhook> {
    const json = { url: input.url, events: input.events, website_id: optionalString(input.websiteId) };
    return (await this.post('webhooks/', json, CreateWebhookResponse, options)).webhook;
  }

  /** DELETE /webhooks/{id}/. */
  async deleteWebhook(id: string, options: CallOptions = {}): Promise<string> {
    return (await this.delete(`webhooks/${encodeURIComponent(id)}/`, options)).message;
  }

  /** Closes the keep-alive connections. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private get<S extends z.ZodType>(path: string, query: RequestSpec<S>['query'], schema: S, options: CallOptions) {
    return this.call({ method: 'GET', path, query, schema, timeoutMs: this.timeoutMs, signal: options.signal });
  }

  private post<S extends z.ZodType>(path: string, json: unknown, schema: S, options: CallOptions) {
    return this.call({ method: 'POST', path, json, schema, timeoutMs: this.timeoutMs, signal: options.signal });
  }

  private delete(path: string, options: CallOptions) {
    return this.call({ method: 'DELETE', path, schema: MessageResponse, timeoutMs: this.timeoutMs, signal: options.signal });
  }

  /**
   * One request with retries. Retried: 5xx (no answer was produced) and connection failures; a
   * POST only when the connection never reached the server, since a reset mid-request may have
   * been processed. Never retried: 4xx (including 429, which a retry cannot fix) and timeouts.
   */
  private async call<S extends z.ZodType>(spec: RequestSpec<S>): Promise<z.infer<S>> {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        const result = await this.attempt(spec);
        this.onResponse?.({ method: spec.method, path: spec.path, durationMs: performance.now() - started });
        return result;
      } catch (err) {
        const error = toAsyntaiError(err, spec.path);
        this.onResponse?.({ method: spec.method, path: spec.path, durationMs: performance.now() - started, error });
        const retryable =
          error.kind === 'unavailable' ||
          (error.kind === 'network' && (spec.method !== 'POST' || isConnectFailure(error)));
        if (!retryable || attempt >= this.retries || spec.signal?.aborted) throw error;
        const delayMs = this.backoff(attempt, error.retryAfterMs);
        this.onRetry?.({ path: spec.path, attempt: attempt + 1, delayMs, error });
        await sleep(delayMs, undefined, spec.signal ? { signal: spec.signal } : undefined).catch(() => {
          throw error;
        });
      }
    }
  }

  private backoff(attempt: number, retryAfter: number | undefined): number {
    if (retryAfter !== undefined) return Math.min(retryAfter, this.maxRetryDelayMs);
    const exp = this.retryBaseMs * 2 ** attempt;
    // Full jitter: spreads retries of many bridges that saw the same outage.
    return Math.min(this.maxRetryDelayMs, Math.round(exp / 2 + Math.random() * (exp / 2)));
  }

  /**
   * One request. The time limit is undici's own: `headersTimeout` from when the request is sent to
   * its response headers, `bodyTimeout` between body chunks, both `spec.timeoutMs` (undici's
   * timers have a resolution of about a second, fine for limits of 10 and 30 s). Not an
   * AbortController and a timer per attempt: those were about 5% of the CPU per message (README
   * "Performance"). A request waiting for a free connection (more than `connections` at once) is
   * not yet timed; every request ahead of it ends within its own limit, so the wait is bounded.
   */
  private async attempt<S extends z.ZodType>(spec: RequestSpec<S>): Promise<z.infer<S>> {
    try {
      const headers: Record<string, string> = { ...this.authHeaders, accept: 'application/json' };
      let body: string | FormData | undefined;
      if (spec.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(spec.json);
      } else if (spec.form) {
        body = await spec.form();
      }
      const res = await this.pool.request({
        method: spec.method,
        path: this.basePath + spec.path + queryString(spec.query),
        headers,
        body,
        signal: spec.signal,
        headersTimeout: spec.timeoutMs,
        bodyTimeout: spec.timeoutMs,
      });
      const text = await res.body.text();
      const retryAfter = res.headers['retry-after'];
      return parseResponse(spec, res.statusCode, text, typeof retryAfter === 'string' ? retryAfter : undefined);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new AsyntaiError('timeout', `${spec.method} ${spec.path} timed out after ${spec.timeoutMs} ms`, { cause: err });
      }
      throw err;
    }
  }
}

function parseResponse<S extends z.ZodType>(spec: RequestSpec<S>, status: number, text: string, retryAfter: string | undefined): z.infer<S> {
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch (cause) {
    if (status === 200) throw new AsyntaiError('protocol', `${spec.method} ${spec.path}: response is not JSON`, { status, cause });
  }
  if (status === 200) {
    const parsed = spec.schema.safeParse(json);
    if (!parsed.success) {
      throw new AsyntaiError('protocol', `${spec.method} ${spec.path}: response does not match the documented shape`, {
        status,
        cause: parsed.error,
      });
    }
    return parsed.data;
  }
  const apiError = ErrorBody.safeParse(json).data?.error;
  const seconds = retryAfter === undefined ? NaN : Number(retryAfter);
  throw new AsyntaiError(kindForStatus(status), `${spec.method} ${spec.path}: ${status}${apiError ? ` ${apiError}` : ''}`, {
    status,
    ...(apiError === undefined ? {} : { apiError }),
    ...(Number.isFinite(seconds) && seconds >= 0 ? { retryAfterMs: seconds * 1000 } : {}),
  });
}

function toAsyntaiError(err: unknown, path: string): AsyntaiError {
  if (err instanceof AsyntaiError) return err;
  const code = (err as { code?: unknown }).code;
  return new AsyntaiError('network', `${path}: ${err instanceof Error ? err.message : String(err)}${typeof code === 'string' ? ` (${code})` : ''}`, {
    cause: err,
  });
}

function isConnectFailure(error: AsyntaiError): boolean {
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && CONNECT_ERROR_CODES.has(code);
}

function queryString(query: Record<string, string | number | undefined> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

/** `limit` within the documented 1..100; undefined keeps the server's default. */
function clampLimit(limit: number | undefined): number | undefined {
  if (limit === undefined || !Number.isFinite(limit)) return undefined;
  return Math.max(1, Math.min(LIMIT_MAX, Math.trunc(limit)));
}

/** The knowledge and webhook endpoints document `website_id` as a string. */
function optionalString(value: number | string | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}
