/**
 * Model-written markdown → a small document tree that every platform renderer and the splitter
 * share (one parse per answer).
 *
 * The parser is `marked`'s lexer (micromark + GFM measured about 8 ms for 3.6 kB; marked's lexer
 * about 0.3 ms), configured so that model output reads as people mean it:
 * - GFM: tables, `~~strike~~`, bare URLs and `<https://…>` autolinks.
 * - No indented code blocks: models indent prose and nested lists, rarely code without a fence.
 * - No setext headings: "text\n---" is a paragraph and a rule, not a heading.
 * - No raw HTML, block or inline: `<b>` stays the four characters `<b>`.
 * - No `~single~` strikethrough (only `~~`), no link reference definitions (their line would
 *   vanish from the answer) so `[text][ref]` stays literal.
 * - Entities stay literal: `&amp;` in the input is the five characters `&amp;` in the tree.
 *
 * marked is fast on ordinary text but not on every input: a long paragraph full of delimiters is
 * quadratic and deep nesting overflows its recursion. Two bounds keep the parse linear: inline
 * content is lexed in windows of at most INLINE_WINDOW characters (cut at line breaks, else
 * spaces), and quotes and lists nest at most MAX_CONTAINER_DEPTH deep (deeper markers stay text).
 * An emphasis or link spanning a window cut shows its markers as text; no word is lost.
 */
import { Lexer, Tokenizer, type MarkedToken, type Token, type Tokens } from 'marked';

/** A piece of inline text with the formatting it carries (nested same styles collapse). */
export interface Span {
  text: string;
  /** Inline code: shown verbatim, never formatted. */
  code: boolean;
  strong: boolean;
  em: boolean;
  strike: boolean;
  /** The link this text belongs to; spans of one link share the object. */
  link: Link | undefined;
}

/** A link destination as written (any scheme: each renderer decides what it may link). */
export interface Link {
  href: string;
}

export type Align = 'left' | 'right' | 'center' | null;

/** A list item: its marker ("•", "3."), task state, and the blocks it holds. */
export interface ListItem {
  marker: string;
  checked: boolean | undefined;
  /** A piece of an item cut by the splitter: its marker was shown in an earlier chunk. */
  continued: boolean;
  blocks: Block[];
}

/**
 * A block of the document. `tight` is true when no blank line separated it from the block before
 * in the source: renderers keep the author's spacing.
 */
export type Block = { tight: boolean } & (
  | { type: 'paragraph'; spans: Span[] }
  | { type: 'heading'; depth: number; spans: Span[] }
  | { type: 'code'; lang: string; text: string }
  | { type: 'table'; align: Align[]; header: string[]; rows: string[][]; widths: number[] }
  | { type: 'rule' }
  | { type: 'quote'; blocks: Block[] }
  | { type: 'list'; items: ListItem[] }
);

/** Longest inline text handed to marked in one piece: keeps its superlinear cases small. */
const INLINE_WINDOW = 1000;
/** Deepest nesting of quotes and lists; deeper markers stay literal text. */
const MAX_CONTAINER_DEPTH = 8;
/** Longest section of the text lexed at once (see `sections`). */
const SECTION_LENGTH = 2000;
const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const TABLE_DELIMITER = /^ {0,3}\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Tokenizers switched off or bounded (see the module comment). */
class ChatTokenizer extends Tokenizer {
  private depth = 0;

  override code(): undefined {
    return undefined;
  }

  override lheading(): undefined {
    return undefined;
  }

  override html(): undefined {
    return undefined;
  }

  override tag(): undefined {
    return undefined;
  }

  override def(): undefined {
    return undefined;
  }

  override del(src: string, maskedSrc: string, prevChar?: string): Tokens.Del | undefined {
    if (!src.startsWith('~~')) return undefined;
    const token = super.del(src, maskedSrc, prevChar);
    return token?.raw.startsWith('~~') ? token : undefined;
  }

  override blockquote(src: string): Tokens.Blockquote | undefined {
    return this.nested(() => super.blockquote(src));
  }

  override list(src: string): Tokens.List | undefined {
    return this.nested(() => super.list(src));
  }

  /** marked lexes a container's content inside its tokenizer call, so a counter bounds the depth. */
  private nested<T>(tokenize: () => T | undefined): T | undefined {
    if (this.depth >= MAX_CONTAINER_DEPTH) return undefined;
    this.depth++;
    try {
      return tokenize();
    } finally {
      this.depth--;
    }
  }
}

/** Lexes long inline content window by window (INLINE_WINDOW). */
class ChatLexer extends Lexer {
  override inlineTokens(src: string, tokens: Token[] = []): Token[] {
    if (src.length <= INLINE_WINDOW) return super.inlineTokens(src, tokens);
    for (let start = 0; start < src.length; ) {
      const end = windowEnd(src, start);
      super.inlineTokens(src.slice(start, end), tokens);
      start = end;
    }
    return tokens;
  }
}

/** End of the window starting at `start`: after its last line break, else space, else a safe cut. */
function windowEnd(src: string, start: number): number {
  const max = start + INLINE_WINDOW;
  if (max >= src.length) return src.length;
  // Searched within the window only: lastIndexOf on the whole text would rescan it every time.
  const window = src.slice(start, max);
  const line = window.lastIndexOf('\n');
  if (line > 0) return start + line + 1;
  const space = window.lastIndexOf(' ');
  if (space > 0) return start + space + 1;
  let end = max;
  // Neither a surrogate pair nor a backslash escape is cut.
  while (end > start + 1 && (isLowSurrogate(src.charCodeAt(end)) || src.charAt(end - 1) === '\\')) end--;
  return end;
}

const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/**
 * Characters that may join the one before them (or after) into a grapheme cluster: marks,
 * joiners, variation selectors, carriage return, Hangul, prepended Arabic signs, emoji modifiers,
 * regional indicators and tags. Text without any is one cluster per code point.
 */
const MAY_JOIN = /[\p{M}\u200C\r\u0600-\u0605\u06DD\u070F\u08E2\u1100-\u11FF\uA960-\uA97F\uAC00-\uD7FF\u{1F1E6}-\u{1F1FF}\u{E0020}-\u{E007F}]|\u200D|\p{Emoji_Modifier}/u;

/** Columns a string takes in a monospace font, counted in grapheme clusters (good enough for chat). */
export function displayWidth(text: string): number {
  // ASCII is one column per character: skip the segmenter for the common case.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let width = 0;
  forEachCluster(text, () => width++);
  return width;
}

/**
 * Calls `visit` with each grapheme cluster of `text`, segmenting a window at a time: iterating
 * Intl.Segmenter over one long string is quadratic in V8, and text in which nothing can join
 * (MAY_JOIN) needs no segmenter: one code point, one cluster. The last cluster of a window may continue past it, so each window
 * ends before its last cluster, unless that cluster fills the window alone.
 */
export function forEachCluster(text: string, visit: (cluster: string) => void): void {
  const WINDOW = 256;
  for (let start = 0; start < text.length; ) {
    const end = Math.min(text.length, start + WINDOW);
    const window = text.slice(start, end);
    if (!MAY_JOIN.test(window)) {
      for (const c of window) visit(c);
      start = end;
      continue;
    }
    const segments = [...graphemes.segment(window)];
    const keep = end < text.length && segments.length > 1 ? segments.length - 1 : segments.length;
    for (let i = 0; i < keep; i++) {
      const segment = segments[i]?.segment ?? '';
      start += segment.length;
      visit(segment);
    }
  }
}


/** Lone surrogates cannot be sent as UTF-8 on any platform: U+FFFD takes their place. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * Parses model-written markdown into the document tree. Never throws; linear in the input (see
 * the module comment for the bounds that make it so).
 */
export function parseMarkdown(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const section of sections(wellFormed(markdown).replace(/\r\n?/g, '\n'))) {
    const lexer = new ChatLexer({ gfm: true, tokenizer: new ChatTokenizer() });
    const parsed = blocksOf(lexer.lex(section.text));
    const first = parsed[0];
    // A section cut at a blank line starts a block after a gap; one cut at a line does not.
    if (first && blocks.length > 0) first.tight = !section.afterBlank;
    blocks.push(...parsed);
  }
  return blocks;
}

/**
 * The text cut into sections lexed one by one: marked's lists and tables are superlinear in their
 * length, so no section is much longer than SECTION_LENGTH. A section ends at a blank line followed
 * by an unindented line (so list items keep their indented continuations), never inside a fence;
 * failing that within twice the length, at any line outside a fence, repeating a table's header
 * and delimiter rows so the rest of the table still reads as one.
 */
function sections(text: string): { text: string; afterBlank: boolean }[] {
  if (text.length <= SECTION_LENGTH) return [{ text, afterBlank: false }];
  const out: { text: string; afterBlank: boolean }[] = [];
  const lines = text.split('\n');
  let current: string[] = [];
  let length = 0;
  let afterBlank = false;
  let fence: { char: string; run: number } | undefined;
  /** Header and delimiter rows of the table being read, if any. */
  let table: string[] | undefined;
  const cut = (blank: boolean): void => {
    out.push({ text: current.join('\n'), afterBlank });
    current = blank || !table ? [] : [...table];
    length = 0;
    afterBlank = blank;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const blank = line.trim() === '';
    if (!fence && length >= SECTION_LENGTH) {
      const previousBlank = (lines[i - 1] ?? '').trim() === '';
      if (previousBlank && !blank && !/^\s/.test(line)) cut(true);
      else if (length >= 2 * SECTION_LENGTH && !blank) cut(false);
    }
    current.push(line);
    length += line.length + 1;
    const marker = FENCE_LINE.exec(line);
    if (fence) {
      if (marker?.[1]?.[0] === fence.char && marker[1].length >= fence.run && !(marker[2] ?? '').trim()) fence = undefined;
    } else if (marker?.[1]) {
      fence = { char: marker[1][0] ?? '`', run: marker[1].length };
    }
    if (blank) table = undefined;
    else if (!table && TABLE_DELIMITER.test(lines[i + 1] ?? '') && line.includes('|')) table = [line, lines[i + 1] ?? ''];
  }
  if (current.length > 0) out.push({ text: current.join('\n'), afterBlank });
  return out;
}

type Style = Pick<Span, 'code' | 'strong' | 'em' | 'strike' | 'link'>;
const PLAIN: Style = { code: false, strong: false, em: false, strike: false, link: undefined };

function blocksOf(tokens: Token[]): Block[] {
  const blocks: Block[] = [];
  let tight = true;
  for (const token of tokens) {
    const block = blockOf(token, tight);
    tight = token.type !== 'space';
    if (block) blocks.push(block);
  }
  return blocks;
}

function blockOf(token: Tokens.Generic, tight: boolean): Block | undefined {
  const t = token as MarkedToken;
  switch (t.type) {
    case 'paragraph':
    case 'text':
      return { tight, type: 'paragraph', spans: spansOf(t.tokens ?? [{ type: 'text', raw: t.raw, text: t.text }]) };
    case 'heading':
      return { tight, type: 'heading', depth: t.depth, spans: spansOf(t.tokens) };
    case 'code': {
      // marked keeps a fence's final newline only when the code ends in a blank line: drop it.
      const text = t.text.replace(/\n$/, '');
      // A block with nothing in it reads as the fence lines that were typed.
      if (!text) return { tight, type: 'paragraph', spans: [{ ...PLAIN, text: t.raw.trim() }] };
      return { tight, type: 'code', lang: (t.lang ?? '').trim().split(/\s+/)[0] ?? '', text };
    }
    case 'table': {
      const header = t.header.map((cell) => plainOf(cell.tokens));
      const rows = t.rows.map((row) => row.map((cell) => plainOf(cell.tokens)));
      const widths = header.map((cell, i) => rows.reduce((width, row) => Math.max(width, displayWidth(row[i] ?? '')), displayWidth(cell)));
      return { tight, type: 'table', align: t.align, header, rows, widths };
    }
    case 'hr':
      return { tight, type: 'rule' };
    case 'blockquote':
      return { tight, type: 'quote', blocks: blocksOf(t.tokens) };
    case 'list':
      return {
        tight,
        type: 'list',
        items: t.items.map((item, index) => ({
          marker: t.ordered ? `${(Number(t.start) || 0) + index}.` : '•',
          checked: item.task ? item.checked === true : undefined,
          continued: false,
          blocks: blocksOf(item.tokens),
        })),
      };
    case 'space':
    case 'def':
    case 'checkbox':
      // A task's checkbox is the item's `checked`.
      return undefined;
    default:
      // html blocks are switched off; anything else keeps its text.
      return token.raw.trim() ? { tight, type: 'paragraph', spans: [{ ...PLAIN, text: token.raw }] } : undefined;
  }
}

function spansOf(tokens: Token[]): Span[] {
  const spans: Span[] = [];
  collectSpans(tokens, PLAIN, spans);
  trimSpans(spans);
  return spans;
}

/** Drops whitespace at both ends of a paragraph (a split piece, too: a cut may lose whitespace, nothing else). */
export function trimSpans(spans: Span[]): void {
  while (spans.length > 0 && !spans[0]?.text.trim()) spans.shift();
  while (spans.length > 0 && !spans.at(-1)?.text.trim()) spans.pop();
  const first = spans[0];
  if (first) spans[0] = { ...first, text: first.text.trimStart() };
  const last = spans.at(-1);
  if (last) spans[spans.length - 1] = { ...last, text: last.text.trimEnd() };
}


function push(spans: Span[], style: Style, text: string): void {
  if (!text) return;
  const last = spans.at(-1);
  if (last && sameStyle(last, style)) last.text += text;
  else spans.push({ ...style, text });
}

function sameStyle(a: Style, b: Style): boolean {
  return a.code === b.code && a.strong === b.strong && a.em === b.em && a.strike === b.strike && a.link === b.link;
}

function collectSpans(tokens: Token[], style: Style, spans: Span[]): void {
  for (const token of tokens as MarkedToken[]) {
    switch (token.type) {
      case 'text':
        // `raw`, not `text`: marked decodes numeric character references in `text`.
        if (token.tokens) collectSpans(token.tokens, style, spans);
        else push(spans, style, token.raw);
        break;
      case 'escape':
        push(spans, style, token.text);
        break;
      case 'codespan':
        push(spans, { ...style, code: true }, token.text);
        break;
      case 'br':
        push(spans, { ...style, code: false }, '\n');
        break;
      case 'strong':
        collectSpans(token.tokens, { ...style, strong: true }, spans);
        break;
      case 'em':
        collectSpans(token.tokens, { ...style, em: true }, spans);
        break;
      case 'del':
        collectSpans(token.tokens, { ...style, strike: true }, spans);
        break;
      case 'link':
      case 'image': {
        const link = { href: token.href };
        const before = spans.length;
        // An image shows as a link to it, its alt text as the words.
        collectSpans(token.tokens ?? [], { ...style, link }, spans);
        if (spans.length === before || spans.slice(before).every((span) => !span.text.trim())) {
          spans.length = before;
          push(spans, { ...style, link }, token.href);
        }
        break;
      }
      case 'checkbox':
        break;
      default:
        push(spans, style, token.raw);
    }
  }
}

/** Inline tokens as plain text (table cells): links read "text (url)". */
function plainOf(tokens: Token[]): string {
  const spans = spansOf(tokens);
  let out = '';
  let linkText = '';
  spans.forEach((span, i) => {
    out += span.text;
    if (!span.link) return;
    linkText += span.text;
    if (spans[i + 1]?.link === span.link) return;
    // After a link's last span its destination, unless the text already is it.
    if (linkText !== span.link.href) out += ` (${span.link.href})`;
    linkText = '';
  });
  return out.replace(/\s+/g, ' ').trim();
}
