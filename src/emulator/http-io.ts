/**
 * Small HTTP helpers of the emulator: the documented error body, JSON bodies with a size cap,
 * and validation of the common query and body fields.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error that becomes `{success:false,error}` with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Largest JSON or form body accepted. */
const MAX_JSON_BYTES = 1024 * 1024;

/** A urlencoded form: `name=value` pairs joined by `&`, not starting like JSON. */
const FORM_BODY = /^[^{["\s][^=&]*=[^&]*(&[^=&]*=[^&]*)*&?$/;

/** Sends a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Sends the documented error body. */
export function sendError(res: ServerResponse, status: number, error: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { success: false, error }, headers);
}

/** Reads a request body, failing with 413 past `maxBytes` (the rest is drained so the client still reads the answer). */
async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
    req.resume();
    throw tooLarge(maxBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      throw tooLarge(maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `Request body too large (limit ${Math.round(maxBytes / 1024 / 1024)} MB)`);
}

/** Reads a JSON object body; also accepts a urlencoded form (`curl -d message=hi`). */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBody(req, MAX_JSON_BYTES)).toString('utf8');
  // `curl -d '{...}'` labels JSON as a form, so the body decides, not the header: a form is
  // `name=value` pairs; anything else (`curl -d hello`) is read as JSON and refused as such,
  // rather than becoming a form without the required field.
  if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') && FORM_BODY.test(raw)) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  if (raw.trim() === '') throw new HttpError(400, 'Request body must be a JSON object');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new HttpError(400, 'Request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** A required non-blank string field. */
export function requireString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null) throw new HttpError(400, `Missing required field: ${name}`);
  if (typeof value !== 'string') throw new HttpError(400, `Field ${name} must be a string`);
  if (value.trim() === '') throw new HttpError(400, `Field ${name} must not be empty`);
  return value;
}

/**
 * `limit` of a listing: default when absent, clamped to `max`; not a positive integer → 400.
 */
export function parseLimit(query: URLSearchParams, fallback: number, max = 100): number {
  const raw = query.get('limit');
  if (raw === null || raw.trim() === '') return fallback;
  if (!/^\s*\d+\s*$/.test(raw) || Number(raw) < 1) throw new HttpError(400, 'limit must be a positive integer');
  return Math.min(Number(raw), max);
}

/**
 * A `website_id` given as integer or numeric string (the reference uses both); absent → undefined.
 */
export function parseWebsiteId(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new HttpError(400, 'website_id must be a positive integer');
  return n;
}
