/**
 * Inline text for the markdown-like chat dialects (Slack mrkdwn, Discord markdown, the terminal):
 * each run of one style is written whole — whitespace outside the markers, so that `*bold*` never
 * becomes `* bold*` — and closed at every line break, so that no line opens what it does not
 * close. The dialect supplies the markers, its escaping, code and links.
 */
import type { Link, Span } from './parse.js';

/** How one dialect writes inline text; `escape` makes any text inert. */
export interface InlineSyntax {
  bold: [open: string, close: string];
  italic: [open: string, close: string];
  strike: [open: string, close: string];
  escape(text: string): string;
  code(text: string): string;
  /** A link's text and destination as the dialect writes it (text not yet escaped). */
  link(text: string, link: Link): string;
}

/** Writes spans in `syntax`; `bold` makes everything bold (headings). */
export function writeInline(spans: Span[], syntax: InlineSyntax, bold = false): string {
  const parts: string[] = [];
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as Span;
    if (span.link) {
      // A link is written whole: its text without styles, as most dialects have no styles in links.
      let text = span.text;
      while (spans[i + 1]?.link === span.link) text += (spans[++i] as Span).text;
      parts.push(syntax.link(text, span.link));
    } else if (span.code) {
      parts.push(span.text.includes('\n') ? span.text.split('\n').map((line) => (line ? syntax.code(line) : '')).join('\n') : syntax.code(span.text));
    } else {
      const [open, close] = markers(syntax, span.strong || bold, span.em, span.strike);
      if (!open) parts.push(syntax.escape(span.text));
      else if (!span.text.includes('\n')) parts.push(styled(span.text, open, close, syntax));
      else parts.push(span.text.split('\n').map((line) => styled(line, open, close, syntax)).join('\n'));
    }
  }
  return parts.join('');
}

/** Opening and closing markers per combination of styles, per syntax. */
const markerCache = new WeakMap<InlineSyntax, [string, string][]>();

function markers(syntax: InlineSyntax, strong: boolean, em: boolean, strike: boolean): [string, string] {
  let table = markerCache.get(syntax);
  if (!table) {
    table = [];
    for (let key = 0; key < 8; key++) {
      const marks = [key & 1 ? syntax.bold : undefined, key & 2 ? syntax.italic : undefined, key & 4 ? syntax.strike : undefined]
        .filter((mark): mark is [string, string] => mark !== undefined);
      table.push([marks.map(([o]) => o).join(''), marks.map(([, c]) => c).reverse().join('')]);
    }
    markerCache.set(syntax, table);
  }
  return table[(strong ? 1 : 0) | (em ? 2 : 0) | (strike ? 4 : 0)] ?? ['', ''];
}

/** One line of one style: whitespace outside the markers. */
function styled(line: string, open: string, close: string, syntax: InlineSyntax): string {
  const core = line.trim();
  if (core.length === line.length) return open + syntax.escape(line) + close;
  if (!core) return syntax.escape(line);
  const start = line.indexOf(core);
  return syntax.escape(line.slice(0, start)) + open + syntax.escape(core) + close + syntax.escape(line.slice(start + core.length));
}

/** Answers of isWebUrl for recent destinations: a split renders the same links many times. */
const webUrls = new Map<string, boolean>();

/** An http(s) URL with a host. */
export function isWebUrl(href: string): boolean {
  let web = webUrls.get(href);
  if (web !== undefined) return web;
  web = false;
  if (/^https?:\/\/\S+$/i.test(href)) {
    try {
      web = new URL(href).hostname !== '';
    } catch {
      web = false;
    }
  }
  if (webUrls.size >= 1000) webUrls.clear();
  webUrls.set(href, web);
  return web;
}

/** " (destination)" to show after a link's text, unless the text already is the destination. */
export function destinationSuffix(text: string, href: string): string {
  return [text, `mailto:${text}`, `http://${text}`].includes(href) ? '' : ` (${href})`;
}
