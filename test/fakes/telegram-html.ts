/**
 * Telegram's HTML parse mode, re-implemented after TDLib's `parse_html` (the code behind the Bot
 * API's `parse_mode: 'HTML'`): same supported tags, same error descriptions, same byte offsets, so
 * a renderer that passes here passes on Telegram. Offsets and lengths are UTF-16 code units.
 */
import type { MessageEntity } from 'grammy/types';

/** Plain text and entities, as Telegram stores a message sent with `parse_mode: 'HTML'`. */
export interface ParsedHtml {
  text: string;
  entities: MessageEntity[];
}

/** Options for {@link parseTelegramHtml}. */
export interface ParseHtmlOptions {
  /**
   * Default true: also refuse what the Bot API docs forbid but TDLib lets through: a `&` that is not
   * one of `&lt; &gt; &amp; &quot; &#NN; &#xHH;` (Telegram shows it literally, so `&lt;` meant as
   * text would turn into `<`), and attributes a tag does not support (Telegram ignores them).
   */
  strict?: boolean;
}

/** Thrown with the exact `description` the Bot API answers (400). */
export class TelegramHtmlError extends Error {
  override name = 'TelegramHtmlError';
}

const TAGS = new Set(['a', 'b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler',
  'tg-emoji', 'pre', 'code', 'blockquote']);
const ATTRIBUTES: Record<string, string> = { a: 'href', code: 'class', span: 'class', 'tg-emoji': 'emoji-id',
  blockquote: 'expandable' };
const SIMPLE: Record<string, MessageEntity['type']> = { b: 'bold', strong: 'bold', i: 'italic', em: 'italic',
  u: 'underline', ins: 'underline', s: 'strikethrough', strike: 'strikethrough', del: 'strikethrough',
  'tg-spoiler': 'spoiler', span: 'spoiler' };
const NAMED: Record<string, number> = { lt: 0x3c, gt: 0x3e, amp: 0x26, quot: 0x22 };

// TDLib reads a NUL-terminated string and counts NUL as space; `at()` past the end returns it.
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\v' || c === '\0';
const lower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

interface Open {
  name: string;
  argument: string;
  offset: number;
}

/** An entity while parsing: `language` rides on `code` until a surrounding `pre` claims it. */
type Draft = MessageEntity & { language?: string };

/**
 * Parses Telegram HTML into the text and entities Telegram would store; throws
 * {@link TelegramHtmlError} with Telegram's description ("Bad Request: can't parse entities: …")
 * where Telegram refuses the message. Whitespace trimming and the length limit are the caller's.
 */
export function parseTelegramHtml(html: string, options: ParseHtmlOptions = {}): ParsedHtml {
  const strict = options.strict ?? true;
  const at = (i: number): string => (i < html.length ? html.charAt(i) : '\0');
  // Annotated so that TypeScript narrows after a call.
  const fail: (detail: string) => never = (detail) => {
    throw new TelegramHtmlError(`Bad Request: can't parse entities: ${detail}`);
  };
  const byteOffset = (i: number): number => Buffer.byteLength(html.slice(0, i));

  // TDLib's decode_html_entity; undefined leaves the '&' as literal text.
  const decode = (start: number): { char: string; end: number } | undefined => {
    let end = start + 1;
    let code = 0;
    if (at(end) === '#') {
      end++;
      const hex = at(end) === 'x';
      if (hex) end++;
      const digits = hex ? /[0-9a-fA-F]/ : /[0-9]/;
      const first = end;
      while (digits.test(at(end))) end++;
      code = end > first ? parseInt(html.slice(first, end), hex ? 16 : 10) : 0;
      if (code === 0 || code >= 0x10ffff || end - start >= 10) return undefined;
    } else {
      const first = end;
      while (/[a-zA-Z]/.test(at(end))) end++;
      code = NAMED[html.slice(first, end)] ?? 0;
      if (code === 0) return undefined;
    }
    if (at(end) === ';') end++;
    else if (strict) return undefined;
    return { char: String.fromCodePoint(code), end };
  };
  const decodeOrFail = (i: number): { char: string; end: number } | undefined => {
    const ref = decode(i);
    if (!ref && strict) fail(`Unescaped "&" at byte offset ${byteOffset(i)} (the fake's strict mode)`);
    return ref;
  };

  let text = '';
  let badSurrogate = false;
  const entities: Draft[] = [];
  const open: Open[] = [];

  const startTag = (begin: number): number => {
    let i = begin + 1;
    while (!isSpace(at(i)) && at(i) !== '>') i++;
    if (i >= html.length) fail(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
    const name = lower(html.slice(begin + 1, i));
    if (!TAGS.has(name)) fail(`Unsupported start tag "${name}" at byte offset ${byteOffset(begin)}`);
    let argument = '';
    while (at(i) !== '>') {
      while (i < html.length && isSpace(at(i))) i++;
      if (at(i) === '>') break;
      const attrBegin = i;
      while (!isSpace(at(i)) && at(i) !== '=' && at(i) !== '>') i++;
      const attribute = html.slice(attrBegin, i);
      if (!attribute) fail(`Empty attribute name in the tag "${name}" at byte offset ${byteOffset(begin)}`);
      if (strict && ATTRIBUTES[name] !== attribute) {
        fail(`Unsupported attribute "${attribute}" in the tag "${name}" at byte offset ${byteOffset(begin)} (the fake's strict mode)`);
      }
      while (i < html.length && isSpace(at(i))) i++;
      if (at(i) !== '=') {
        if (name === 'blockquote' && attribute === 'expandable') {
          argument = '1';
          continue;
        }
        fail(`Expected equal sign in declaration of an attribute of the tag "${name}" at byte offset ${byteOffset(begin)}`);
      }
      i++;
      while (i < html.length && isSpace(at(i))) i++;
      if (i >= html.length) fail(`Unclosed start tag "${name}" at byte offset ${byteOffset(begin)}`);
      let value = '';
      const quote = at(i);
      if (quote !== '"' && quote !== "'") {
        const tokenBegin = i;
        while (/[a-zA-Z0-9.-]/.test(at(i))) i++;
        value = lower(html.slice(tokenBegin, i));
        if (!isSpace(at(i)) && at(i) !== '>') fail(`Unexpected end of name token at byte offset ${byteOffset(tokenBegin)}`);
      } else {
        i++;
        while (at(i) !== quote && i < html.length) {
          const ref = at(i) === '&' ? decodeOrFail(i) : undefined;
          if (ref) {
            value += ref.char;
            i = ref.end;
          } else {
            value += at(i++);
          }
        }
        i++;
      }
      if (i >= html.length) fail(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
      if (name === 'a' && attribute === 'href') argument = value;
      else if (name === 'code' && attribute === 'class' && value.startsWith('language-')) argument = value.slice(9);
      else if (name === 'span' && attribute === 'class' && value.startsWith('tg-')) argument = value.slice(3);
      else if (name === 'tg-emoji' && attribute === 'emoji-id') argument = value;
      else if (name === 'blockquote' && attribute === 'expandable') argument = '1';
    }
    if (name === 'span' && argument !== 'spoiler') {
      fail(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(begin)}`);
    }
    open.push({ name, argument, offset: text.length });
    return i;
  };

  const close = (tag: Open): void => {
    const offset = tag.offset;
    const length = text.length - offset;
    if (length === 0) return;
    const last = entities.at(-1);
    const sameSpan = last !== undefined && last.offset === offset && last.length === length;
    const simple = SIMPLE[tag.name];
    if (simple) {
      entities.push({ type: simple, offset, length } as Draft);
    } else if (tag.name === 'a') {
      const url = normaliseUrl(tag.argument || text.slice(offset));
      if (url) entities.push({ type: 'text_link', offset, length, url });
    } else if (tag.name === 'tg-emoji') {
      if (!/^[0-9]{1,19}$/.test(tag.argument) || BigInt(tag.argument) === 0n || BigInt(tag.argument) >= 2n ** 63n) {
        fail('Invalid custom emoji identifier specified');
      }
      entities.push({ type: 'custom_emoji', offset, length, custom_emoji_id: tag.argument });
    } else if (tag.name === 'blockquote') {
      entities.push({ type: tag.argument ? 'expandable_blockquote' : 'blockquote', offset, length });
    } else if (tag.name === 'pre') {
      // <pre><code class="language-x">…</code></pre>: the inner code closed first on the same span.
      if (sameSpan && last.type === 'code' && last.language) Object.assign(last, { type: 'pre' });
      else entities.push({ type: 'pre', offset, length });
    } else if (sameSpan && last.type === 'pre' && tag.argument) {
      // <code class="language-x"><pre>…</pre></code>: the same pair, nested the other way round.
      last.language = tag.argument;
    } else {
      entities.push({ type: 'code', offset, length, ...(tag.argument ? { language: tag.argument } : {}) });
    }
  };

  for (let i = 0; i < html.length; i++) {
    const c = html.charAt(i);
    if (c === '&') {
      const ref = decodeOrFail(i);
      if (ref) {
        const code = ref.char.codePointAt(0) ?? 0;
        badSurrogate ||= code >= 0xd800 && code <= 0xdfff;
        text += ref.char;
        i = ref.end - 1;
        continue;
      }
    }
    if (c !== '<') {
      text += c;
      continue;
    }
    const begin = i++;
    if (at(i) !== '/') {
      i = startTag(begin);
      continue;
    }
    const tag = open.pop();
    if (!tag) fail(`Unexpected end tag at byte offset ${byteOffset(begin)}`);
    while (!isSpace(at(i)) && at(i) !== '>') i++;
    const endName = html.slice(begin + 2, i);
    while (i < html.length && isSpace(at(i))) i++;
    if (at(i) !== '>') fail(`Unclosed end tag at byte offset ${byteOffset(begin)}`);
    if (endName && endName !== tag.name) {
      fail(`Unmatched end tag at byte offset ${byteOffset(begin)}, expected "</${tag.name}>", found "</${endName}>"`);
    }
    close(tag);
  }
  const unclosed = open.at(-1);
  if (unclosed) fail(`Can't find end tag corresponding to start tag "${unclosed.name}"`);
  if (badSurrogate) {
    fail('Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units');
  }
  // A language counts only on pre; TDLib drops it from a lone code entity.
  const result = entities.map(({ language, ...entity }) =>
    (entity.type === 'pre' && language ? { ...entity, language } : entity));
  result.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text, entities: result };
}

/** Telegram adds `http://` to a scheme-less link and drops links it cannot use (no entity, no error). */
function normaliseUrl(raw: string): string | undefined {
  const url = /^[a-z][a-z0-9+.-]*:/i.test(raw) ? raw : `http://${raw}`;
  try {
    const parsed = new URL(url);
    return ['http:', 'https:', 'tg:', 'ton:'].includes(parsed.protocol) && !/\s/.test(raw) ? url : undefined;
  } catch {
    return undefined;
  }
}
