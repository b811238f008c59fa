/**
 * Emulator-only routes under `/_emulator/`, NOT part of the Asyntai API: they play what happens in
 * the Asyntai dashboard, so human handoff can be demonstrated and tested offline. Same API key as
 * the rest. Paths are relative to `/_emulator/`:
 * - `POST sessions/{id}/escalate` `{reason?}`: fires a signed `escalation.requested` (with
 *   `data.reason`, default `agent_escalated`, and the visitor's last message as `data.message`).
 * - `POST sessions/{id}/takeover`: an agent takes the session over and `takeover.started` fires.
 *   While it lasts, `/chat/` stores the visitor's message and answers with an empty response
 *   (no message counted against the plan).
 * - `DELETE sessions/{id}/takeover`: the agent hands back; `/chat/` answers again.
 * - `POST sessions/{id}/messages` `{content}`: the agent writes in the conversation (role
 *   `assistant`, as `/conversations/` shows it).
 * An unknown session is 404: these act on conversations `/chat/` started.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError, readJsonObject, requireString } from './http-io.js';
import { matchRoute, type EmulatorContext, type Handler, type Route } from './routes.js';
import type { SessionRecord } from './state.js';

/** The path prefix of these routes. */
export const AGENT_PREFIX = '/_emulator/';


const now = (): string => new Date().toISOString();

function session(ctx: EmulatorContext, id: string): SessionRecord {
  const found = ctx.store.sessions.get(id);
  if (found === undefined) throw new HttpError(404, `Session ${id} not found`);
  return found;
}

/** The body's fields, or none for an empty body (these routes take optional fields). */
async function optionalBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const length = Number(req.headers['content-length'] ?? 0);
  const chunked = req.headers['transfer-encoding'] !== undefined;
  return length > 0 || chunked ? readJsonObject(req) : {};
}

const escalate: Handler = async (ctx, req, _query, id) => {
  const record = session(ctx, id);
  const body = await optionalBody(req);
  const reason = typeof body['reason'] === 'string' && body['reason'].trim() !== '' ? body['reason'] : 'agent_escalated';
  const message = record.messages.findLast((m) => m.role === 'user')?.content;
  ctx.delivery.emit(ctx.store.webhooks.values(), 'escalation.requested', {
    session_id: record.id,
    website_id: record.websiteId,
    source: record.source,
    ...(message === undefined ? {} : { message }),
    reason,
  });
  return { success: true, message: 'escalation.requested fired' };
};

const startTakeover: Handler = (ctx, _req, _query, id) => {
  const record = session(ctx, id);
  record.takeoverSince = now();
  ctx.store.changed();
  ctx.delivery.emit(ctx.store.webhooks.values(), 'takeover.started', { session_id: record.id, website_id: record.websiteId, source: record.source });
  return { success: true, message: 'takeover.started fired', takeover_since: record.takeoverSince };
};

const endTakeover: Handler = (ctx, _req, _query, id) => {
  const record = session(ctx, id);
  delete record.takeoverSince;
  ctx.store.changed();
  return { success: true, message: 'Takeover ended' };
};

const agentMessage: Handler = async (ctx, req, _query, id) => {
  const record = session(ctx, id);
  const content = requireString(await readJsonObject(req), 'content');
  const message = { role: 'assistant' as const, content, timestamp: now() };
  record.messages.push(message);
  ctx.store.changed();
  return { success: true, message };
};

const ROUTES: readonly Route[] = [
  { pattern: /^sessions\/([^/]+)\/escalate$/, methods: { POST: escalate } },
  { pattern: /^sessions\/([^/]+)\/takeover$/, methods: { POST: startTakeover, DELETE: endTakeover } },
  { pattern: /^sessions\/([^/]+)\/messages$/, methods: { POST: agentMessage } },
];

/** The route for a path relative to `/_emulator/` (no trailing slash), with its session id. */
export function findAgentRoute(path: string): { methods: Readonly<Record<string, Handler>>; id: string } | undefined {
  return matchRoute(ROUTES, path);
}
