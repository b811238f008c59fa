/**
 * Fetches a web page for POST /knowledge/url/ and reduces it to readable text. Redirects are
 * followed by hand so every hop is vetted again; the body is capped and the whole fetch timed out.
 */
import { convert } from 'html-to-text';
import { errors, request, type Dispatcher } from 'undici';
import { HttpError } from './http-io.js';
import { vetUrl } from './net-guard.js';

/** A page reduced to text. */
export interface FetchedPage {
  /** The page's <title>, else its URL. */
  title: string;
  text: string;
}

export interface FetchOptions {
  dispatcher: Dispatcher;
  allowPrivate: boolean;
  timeoutMs?: number;
  maxBytes?: number;
}

const MAX_REDIRECTS = 5;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 2 * 1024 * 1024;

/** Fetches `url` and extracts its text; failures become HttpError 400 with a readable reason. */
export async function fetchPage(url: URL, options: FetchOptions): Promise<FetchedPage> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const signal = AbortSignal.timeout(timeoutMs);
  let current = url;
  try {
    for (let hop = 0; ; hop++) {
      const res = await request(current, {
        method: 'GET',
        dispatcher: options.dispatcher,
        signal,
        headers: { 'user-agent': 'asyntai-emulator/1.0', accept: 'text/html, text/plain;q=0.9, */*;q=0.1' },
      });
      const location = res.headers['location'];
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
        await res.body.dump();
        if (hop >= MAX_REDIRECTS) throw new HttpError(400, `Could not fetch ${url.href}: too many redirects`);
        current = vetUrl(new URL(location, current).href, options.allowPrivate, ['https:', 'http:'], 'Redirect target');
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        await res.body.dump();
        throw new HttpError(400, `Could not fetch ${current.href}: the page answered HTTP ${res.statusCode}`);
      }
      const contentType = String(res.headers['content-type'] ?? 'text/plain').toLowerCase();
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) {
          res.body.destroy();
          throw new HttpError(400, `Could not fetch ${current.href}: the page is larger than ${maxBytes / 1024 / 1024} MB`);
        }
        chunks.push(chunk);
      }
      return extract(decode(Buffer.concat(chunks), contentType), contentType, current.href);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    const reason =
      signal.aborted || err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError
        ? `no answer within ${timeoutMs / 1000} s`
        : err instanceof Error
          ? (((err.cause as Error | undefined)?.message ?? err.message) || 'connection failed')
          : 'connection failed';
    throw new HttpError(400, `Could not fetch ${url.href}: ${reason}`);
  }
}

function decode(body: Buffer, contentType: string): string {
  const charset = /charset=["']?([\w-]+)/.exec(contentType)?.[1] ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    return body.toString('utf8');
  }
}

function extract(body: string, contentType: string, href: string): FetchedPage {
  if (contentType.includes('html') || contentType.includes('xml')) {
    const rawTitle = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body)?.[1] ?? '';
    const title = convert(rawTitle, { wordwrap: false }).replace(/\s+/g, ' ').trim();
    const text = convert(body, {
      wordwrap: false,
      selectors: [
        { selector: 'a', options: { ignoreHref: true } },
        { selector: 'img', format: 'skip' },
        { selector: 'nav', format: 'skip' },
        { selector: 'script', format: 'skip' },
        { selector: 'style', format: 'skip' },
        { selector: 'head', format: 'skip' },
        ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
      ],
    });
    return { title: title || href, text: text.trim() };
  }
  if (contentType.startsWith('text/') || contentType.includes('json')) return { title: href, text: body.trim() };
  throw new HttpError(400, `Could not use ${href}: unsupported content type ${contentType.split(';')[0] ?? ''}`);
}
