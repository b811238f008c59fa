/**
 * Answers rendered for Telegram's HTML parse mode, with a plain-text twin of each message for when
 * Telegram refuses the entities anyway ("can't parse entities": escape, and fall back to plain).
 *
 * One parse (src/format/parse.ts) and one split (src/format/split.ts) feed both renderings. The
 * HTML only ever holds the tags written here (b, i, s, code, pre, blockquote, a), properly nested,
 * and the entities &lt; &gt; &amp; &quot;. Telegram forbids code inside bold, italic, strikethrough
 * or a link: formatting is closed around code, and code inside a link shows as plain text. Only
 * http(s) links become links; other destinations show as text.
 */
import { destinationSuffix, isWebUrl } from '../../src/format/inline.js';
import { layoutBlocks, taskBox, type BlockStyle } from '../../src/format/layout.js';
import { parseMarkdown, wellFormed, type Block, type ListItem, type Span } from '../../src/format/parse.js';
import { splitBlocks } from '../../src/format/split.js';

/** Telegram's limit on one message's text, counted after entity parsing (UTF-16 code units). */
export const TELEGRAM_TEXT_LIMIT = 4096;

/** One Telegram message: the HTML to send, and the plain text to send if Telegram refuses it. */
export interface TelegramChunk {
  html: string;
  plain: string;
}

/** A language Telegram can take as `class="language-…"`; anything else is left out. */
const LANGUAGE = /^[\w#+.-]{1,32}$/;
const RULE = '──────────';

/**
 * Renders model-written markdown as Telegram messages, each within `limit` characters as Telegram
 * counts them (the text left after entity parsing) in both its HTML and its plain form:
 * **bold** → <b>, *italic* → <i>, ~~strike~~ → <s>, `code` → <code>, fenced code →
 * <pre><code class="language-x">, [text](https://…) → <a href>, quotes → <blockquote>, headings
 * bold, list items "• " / "3. ", tables as aligned <pre> blocks, rules as a line of "─".
 *
 * Plain form: the same text without markup; links read "text (url)" (just "text" where the
 * destination would not fit) and quote lines start "> ".
 * Lone surrogates become U+FFFD. Returns [] for an answer that shows nothing; a non-blank answer
 * whose rendering would show nothing (an empty quote, a code span of spaces) is sent as typed.
 */
export function telegramChunks(markdown: string, limit = TELEGRAM_TEXT_LIMIT): TelegramChunk[] {
  const blocks = parseMarkdown(markdown);
  // Most answers fit in one message as they are: no splitting to do.
  const whole = layoutBlocks(blocks, PLAIN_STYLE);
  if (whole.trim() && whole.length <= limit) return [{ html: layoutBlocks(blocks, HTML_STYLE), plain: whole }];
  let pieces = splitBlocks(blocks, shownLength, limit);
  if (pieces.length === 0 && markdown.trim()) {
    const literal: Block = { tight: true, type: 'paragraph', spans: [{ text: wellFormed(markdown.trim()), code: false, strong: false, em: false, strike: false, link: undefined }] };
    pieces = splitBlocks([literal], shownLength, limit);
  }
  return pieces.map((blocks) => {
    const plain = layoutBlocks(blocks, PLAIN_STYLE);
    // Link destinations are left out of the fallback when they would not fit.
    return { html: layoutBlocks(blocks, HTML_STYLE), plain: plain.length <= limit ? plain : layoutBlocks(blocks, SHORT_PLAIN_STYLE) };
  });
}

/**
 * What the splitter measures: the plain form without link destinations, which is never shorter
 * than the text the HTML shows (the same characters, plus "> " before quote lines); 0 when blank.
 */
function shownLength(blocks: Block[]): number {
  const plain = layoutBlocks(blocks, SHORT_PLAIN_STYLE);
  return plain.trim() ? plain.length : 0;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttribute = (s: string): string => escapeHtml(s).replace(/"/g, '&quot;');

type TagName = 'b' | 'i' | 's' | 'a';

interface Tag {
  name: TagName;
  open: string;
}

/**
 * Writes inline HTML with tags opened lazily, just before text: a tag closed around code is
 * reopened only if more text follows, so no empty tags, and nesting always matches.
 */
class HtmlWriter {
  out = '';
  private readonly written: Tag[] = [];

  text(text: string, wanted: Tag[]): void {
    if (!text) return;
    // Tags already open and still wanted stay open (in their order); the rest close, new ones open.
    let keep = 0;
    while (keep < this.written.length && wanted.includes(this.written[keep] as Tag)) keep++;
    this.closeFrom(keep);
    for (const tag of wanted) {
      if (this.written.includes(tag)) continue;
      this.out += tag.open;
      this.written.push(tag);
    }
    this.out += escapeHtml(text);
  }

  code(text: string): void {
    this.closeFrom(0);
    this.out += `<code>${escapeHtml(text)}</code>`;
  }

  close(): string {
    this.closeFrom(0);
    return this.out;
  }

  private closeFrom(depth: number): void {
    while (this.written.length > depth) this.out += `</${this.written.pop()?.name ?? 'b'}>`;
  }
}

const B: Tag = { name: 'b', open: '<b>' };
const I: Tag = { name: 'i', open: '<i>' };
const S: Tag = { name: 's', open: '<s>' };

function inlineHtml(spans: Span[], bold: boolean): string {
  const writer = new HtmlWriter();
  // One tag object per link, so that two links side by side stay two.
  const linkTags = new Map<Span['link'], Tag>();
  spans.forEach((span, i) => {
    const link = span.link;
    const wanted: Tag[] = [];
    if (link && isWebUrl(link.href)) {
      let tag = linkTags.get(link);
      if (!tag) linkTags.set(link, (tag = { name: 'a', open: `<a href="${escapeAttribute(link.href)}">` }));
      wanted.push(tag);
    }
    if (span.strong || bold) wanted.push(B);
    if (span.em) wanted.push(I);
    if (span.strike) wanted.push(S);
    // Code may not sit inside formatting or a link: formatting is closed around it, and in a link
    // it keeps its words but not its font.
    if (!span.code) writer.text(span.text, wanted);
    else if (wanted[0]?.name === 'a') writer.text(span.text, [wanted[0]]);
    else writer.code(span.text);
    if (link && !isWebUrl(link.href) && spans[i + 1]?.link !== link) {
      writer.text(destinationSuffix(linkText(spans, i), link.href), []);
    }
  });
  return writer.close();
}

/** The whole text of the link whose last span is `spans[end]`. */
function linkText(spans: Span[], end: number): string {
  let start = end;
  while (start > 0 && spans[start - 1]?.link === spans[end]?.link) start--;
  return spans.slice(start, end + 1).map((span) => span.text).join('');
}

function inlinePlain(spans: Span[]): string {
  return spans
    .map((span, i) => {
      const link = span.link;
      if (!link || spans[i + 1]?.link === link) return span.text;
      return span.text + destinationSuffix(linkText(spans, i), link.href);
    })
    .join('');
}

/** Plain text as the HTML shows it: web links without their destination. */
function inlineShort(spans: Span[]): string {
  return spans
    .map((span, i) => {
      const link = span.link;
      if (!link || isWebUrl(link.href) || spans[i + 1]?.link === link) return span.text;
      return span.text + destinationSuffix(linkText(spans, i), link.href);
    })
    .join('');
}

const marker = (item: ListItem): string => `${item.marker} ${taskBox(item)}`;

const HTML_STYLE: BlockStyle = {
  paragraph: (spans) => inlineHtml(spans, false),
  heading: (spans) => inlineHtml(spans, true),
  code: (text, lang) => (LANGUAGE.test(lang) ? `<pre><code class="language-${lang}">` : '<pre><code>') + `${escapeHtml(text)}</code></pre>`,
  table: (lines) => `<pre>${escapeHtml(lines.join('\n'))}</pre>`,
  rule: () => RULE,
  // Telegram has no nested quotes: an inner quote's text joins the outer one.
  quote: (inner, depth) => (depth === 0 && inner.trim() ? `<blockquote>${inner}</blockquote>` : inner),
  quoteWidth: 0,
  marker,
};

const PLAIN_STYLE: BlockStyle = {
  paragraph: (spans) => inlinePlain(spans),
  heading: (spans) => inlinePlain(spans),
  code: (text) => text,
  table: (lines) => lines.join('\n'),
  rule: () => RULE,
  quote: (inner) => (inner.trim() ? inner.replace(/^/gm, '> ').replace(/ +$/gm, '') : ''),
  quoteWidth: 2,
  marker,
};

const SHORT_PLAIN_STYLE: BlockStyle = { ...PLAIN_STYLE, paragraph: (spans) => inlineShort(spans), heading: (spans) => inlineShort(spans) };
