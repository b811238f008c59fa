/**
 * Model-written markdown rendered for Telegram's HTML parse mode, and the same text as plain text
 * for when Telegram refuses the entities anyway (platform-notes.md, pitfall 5).
 *
 * One parse feeds both renderers. Blocks (code fences, quotes, headings, bullets) are read line by
 * line; fences follow the same rules as the shared splitter so each chunk renders as it was cut.
 * Inline markup follows CommonMark's delimiter rules (flanking runs, intraword `_` ignored),
 * per line: a marker without a partner stays literal text. The HTML only ever contains the tags
 * this module writes, properly nested, and the entities &lt; &gt; &amp; &quot;.
 */

/** Inline content after parsing. */
type Inline =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'style'; tag: StyleTag; children: Inline[] }
  | { kind: 'link'; href: string; children: Inline[] };

type StyleTag = 'b' | 'i' | 's';

/** One line of prose: a bullet keeps its indentation and gets "• "; a heading is bold. */
interface Line {
  kind: 'line';
  bullet: string;
  heading: boolean;
  content: Inline[];
}

type Block =
  | Line
  | { kind: 'quote'; lines: Line[] }
  | { kind: 'pre'; language: string | undefined; code: string };

const FENCE_OPEN = /^ {0,3}(`{3,})([^`]*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,})[ \t]*$/;
const QUOTE = /^ {0,3}>(?: (.*))?$/;
const HEADING = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const BULLET = /^([ \t]*)[-*+][ \t]+(.*)$/;
/** A language Telegram can take as `class="language-…"`; anything else is left out. */
const LANGUAGE = /^[\w#+.-]{1,32}$/;
/** Longest link destination (and title) looked for: bounds the scan from each "[". */
const MAX_URL_LENGTH = 2048;
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;
const PUNCTUATION = /[\p{P}\p{S}]/u;
const WHITESPACE = /\s/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Renders model-written markdown as Telegram HTML (`parse_mode: 'HTML'`). Every `<`, `>`, `&` of the
 * text is escaped; **bold** and __bold__ → <b>, *italic* and _italic_ → <i> (not inside words
 * like snake_case), ~~strike~~ → <s>, `code` → <code>, fenced code → <pre><code
 * class="language-x">, [text](http(s)://url) → <a href="url"> (other schemes stay plain text),
 * "> " quote lines → <blockquote>, "# Heading" → <b>Heading</b>, "- item" and "* item" →
 * "• item". Unbalanced or ambiguous markers stay literal; an empty code block stays as its
 * literal fence lines.
 *
 * The output is always accepted by Telegram's HTML parser, whatever the input: only these tags,
 * properly nested, and only the entities &lt; &gt; &amp; &quot;. Code never sits inside bold,
 * italic, strikethrough or a link (Telegram forbids it): the formatting is closed around it, and
 * code inside link text is shown as plain text. Lone surrogates become U+FFFD.
 */
export function toTelegramHtml(markdown: string): string {
  const text = wellFormed(markdown);
  const blocks = parseBlocks(text);
  // Markup around nothing but spaces (`` ` ` ``) would leave Telegram an empty message to refuse.
  if (showsNothing(blocks, text)) return escapeHtml(text);
  return blocks.map(blockHtml).join('\n');
}

/**
 * The same text as plain text, for the fallback path when Telegram refuses entities: markers
 * removed where they were formatting, nothing escaped. Links read "text (url)", bullets "• item";
 * quote lines keep their "> ", which reads as a quote in plain text too.
 */
export function toTelegramPlain(markdown: string): string {
  const text = wellFormed(markdown);
  const blocks = parseBlocks(text);
  return showsNothing(blocks, text) ? text : blocks.map((block) => blockPlain(block, '> ')).join('\n');
}

/** Lone surrogates cannot be sent as UTF-8: U+FFFD takes their place. */
function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** The rendering would be blank though the markdown is not (an empty quote, a code span of spaces). */
function showsNothing(blocks: Block[], markdown: string): boolean {
  return markdown.trim() !== '' && blocks.every((block) => blockPlain(block, '').trim() === '');
}

function parseBlocks(markdown: string): Block[] {
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  const blocks: Block[] = [];
  let fence: { run: number; opener: string; info: string; code: string[] } | undefined;
  const endFence = (closer: string | undefined): void => {
    if (!fence) return;
    if (fence.code.length === 0) {
      // Nothing to show in a block: the fence lines read as they were typed.
      blocks.push(parseLine(fence.opener));
      if (closer !== undefined) blocks.push(parseLine(closer));
    } else {
      const language = fence.info.trim().split(/\s+/)[0] ?? '';
      blocks.push({ kind: 'pre', language: LANGUAGE.test(language) ? language : undefined, code: fence.code.join('\n') });
    }
    fence = undefined;
  };
  for (const line of lines) {
    if (fence) {
      const close = FENCE_CLOSE.exec(line);
      if (close && (close[1] ?? '').length >= fence.run) endFence(line);
      else fence.code.push(line);
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    if (open) {
      fence = { run: (open[1] ?? '').length, opener: line, info: open[2] ?? '', code: [] };
      continue;
    }
    const quote = QUOTE.exec(line);
    if (quote) {
      const quoted = parseLine(quote[1] ?? '');
      const last = blocks.at(-1);
      if (last?.kind === 'quote') last.lines.push(quoted);
      else blocks.push({ kind: 'quote', lines: [quoted] });
      continue;
    }
    blocks.push(parseLine(line));
  }
  // An unclosed fence runs to the end of the text, as in CommonMark.
  endFence(undefined);
  return blocks;
}

function parseLine(line: string): Line {
  const heading = HEADING.exec(line);
  if (heading?.[1]?.trim()) return { kind: 'line', bullet: '', heading: true, content: parseInline(heading[1], true) };
  const bullet = BULLET.exec(line);
  if (bullet) return { kind: 'line', bullet: `${bullet[1] ?? ''}• `, heading: false, content: parseInline(bullet[2] ?? '', true) };
  return { kind: 'line', bullet: '', heading: false, content: parseInline(line, true) };
}

// ---------------------------------------------------------------------------------------------
// Inline parsing: a scanner building a list of nodes and a stack of delimiter runs, then
// CommonMark's "process emphasis" pairing the runs (spec appendix A).

interface ListNode {
  inline: Inline;
  prev: ListNode | undefined;
  next: ListNode | undefined;
}

interface Delimiter {
  node: ListNode & { inline: { kind: 'text'; text: string } };
  char: '*' | '_' | '~';
  count: number;
  /** Length of the run as written: the "rule of 3" looks at it. */
  original: number;
  canOpen: boolean;
  canClose: boolean;
  prev: Delimiter | undefined;
  next: Delimiter | undefined;
}

/** A doubly linked list of nodes, so that a matched pair can wrap what lies between in O(1) per node. */
class NodeList {
  head: ListNode | undefined;
  tail: ListNode | undefined;

  append(inline: Inline): ListNode {
    const node: ListNode = { inline, prev: this.tail, next: undefined };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    return node;
  }

  insertAfter(at: ListNode, inline: Inline): ListNode {
    const node: ListNode = { inline, prev: at, next: at.next };
    if (at.next) at.next.prev = node;
    else this.tail = node;
    at.next = node;
    return node;
  }

  unlink(node: ListNode): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
  }

  toArray(): Inline[] {
    const out: Inline[] = [];
    for (let node = this.head; node; node = node.next) out.push(node.inline);
    return out;
  }
}

/** Backtick runs of a line by length, for finding the run that closes a code span. */
class BacktickRuns {
  private readonly byLength = new Map<number, number[]>();

  constructor(src: string) {
    for (let i = 0; i < src.length; ) {
      if (src.charAt(i) !== '`') {
        i++;
        continue;
      }
      const start = i;
      while (src.charAt(i) === '`') i++;
      const list = this.byLength.get(i - start) ?? [];
      list.push(start);
      this.byLength.set(i - start, list);
    }
  }

  /** Start of the first run of exactly `length` backticks at or after `from`. */
  find(length: number, from: number): number | undefined {
    const list = this.byLength.get(length);
    if (!list) return undefined;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((list[mid] ?? 0) < from) low = mid + 1;
      else high = mid;
    }
    return list[low];
  }
}

function parseInline(src: string, allowLinks: boolean): Inline[] {
  const list = new NodeList();
  const runs = new BacktickRuns(src);
  let top: Delimiter | undefined;
  let text = '';
  const flush = (): void => {
    if (text) list.append({ kind: 'text', text });
    text = '';
  };

  for (let i = 0; i < src.length; ) {
    const c = src.charAt(i);
    if (c === '\\' && ASCII_PUNCTUATION.test(src.charAt(i + 1))) {
      text += src.charAt(i + 1);
      i += 2;
      continue;
    }
    if (c === '`') {
      let runEnd = i;
      while (src.charAt(runEnd) === '`') runEnd++;
      const closer = runs.find(runEnd - i, runEnd);
      if (closer === undefined) {
        text += src.slice(i, runEnd);
        i = runEnd;
        continue;
      }
      let code = src.slice(runEnd, closer);
      // CommonMark: one space each side is padding when both are there and the span is not all spaces.
      if (code.length >= 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim() !== '') code = code.slice(1, -1);
      flush();
      list.append({ kind: 'code', text: code });
      i = closer + (runEnd - i);
      continue;
    }
    if (c === '[' && allowLinks) {
      const link = parseLink(src, i);
      if (link) {
        flush();
        list.append(link.inline);
        i = link.end;
        continue;
      }
    }
    if (c === '*' || c === '_' || c === '~') {
      let runEnd = i;
      while (src.charAt(runEnd) === c) runEnd++;
      const run = src.slice(i, runEnd);
      // Strikethrough is exactly two tildes; other tilde runs are text.
      if (c === '~' && run.length !== 2) {
        text += run;
        i = runEnd;
        continue;
      }
      const before = codePointBefore(src, i);
      const after = codePointAt(src, runEnd);
      const left = !isWhitespace(after) && (!isPunctuation(after) || isWhitespace(before) || isPunctuation(before));
      const right = !isWhitespace(before) && (!isPunctuation(before) || isWhitespace(after) || isPunctuation(after));
      flush();
      const inline = { kind: 'text' as const, text: run };
      const delimiter: Delimiter = {
        node: list.append(inline) as Delimiter['node'],
        char: c,
        count: run.length,
        original: run.length,
        // `_` may not open or close inside a word (snake_case), CommonMark rules 2 and 4.
        canOpen: c === '_' ? left && (!right || isPunctuation(before)) : left,
        canClose: c === '_' ? right && (!left || isPunctuation(after)) : right,
        prev: top,
        next: undefined,
      };
      if (top) top.next = delimiter;
      top = delimiter;
      i = runEnd;
      continue;
    }
    text += c;
    i++;
  }
  flush();
  processEmphasis(list, top);
  return mergeText(list.toArray());
}

/** Pairs delimiter runs into bold, italic and strikethrough; what stays unpaired is text. */
function processEmphasis(list: NodeList, top: Delimiter | undefined): void {
  let bottomDelimiter = top;
  while (bottomDelimiter?.prev) bottomDelimiter = bottomDelimiter.prev;
  const remove = (delimiter: Delimiter): void => {
    if (delimiter.prev) delimiter.prev.next = delimiter.next;
    if (delimiter.next) delimiter.next.prev = delimiter.prev;
  };
  // Lowest opener worth looking at again, per closer kind: keeps unmatched closers linear.
  const openersBottom = new Map<string, Delimiter | undefined>();
  let closer = bottomDelimiter;
  while (closer) {
    if (!closer.canClose) {
      closer = closer.next;
      continue;
    }
    const key = `${closer.char}${closer.canOpen ? 1 : 0}${closer.original % 3}`;
    const floor = openersBottom.get(key);
    let opener = closer.prev;
    while (opener && opener !== floor) {
      const oddMatch = (closer.canOpen || opener.canClose) && closer.original % 3 !== 0 &&
        (opener.original + closer.original) % 3 === 0;
      const usable = closer.char === '~' ? opener.count === 2 && closer.count === 2 : !oddMatch;
      if (opener.char === closer.char && opener.canOpen && usable) break;
      opener = opener.prev;
    }
    if (!opener || opener === floor) {
      openersBottom.set(key, closer.prev);
      const next = closer.next;
      if (!closer.canOpen) remove(closer);
      closer = next;
      continue;
    }
    const use = closer.count >= 2 && opener.count >= 2 ? 2 : 1;
    const tag: StyleTag = closer.char === '~' ? 's' : use === 2 ? 'b' : 'i';
    opener.count -= use;
    closer.count -= use;
    opener.node.inline.text = opener.char.repeat(opener.count);
    closer.node.inline.text = closer.char.repeat(closer.count);
    const children: Inline[] = [];
    for (let node = opener.node.next; node && node !== closer.node; node = node.next) {
      children.push(node.inline);
      list.unlink(node);
    }
    list.insertAfter(opener.node, { kind: 'style', tag, children: mergeText(children) });
    // Runs between the pair can no longer pair with anything outside it.
    opener.next = closer;
    closer.prev = opener;
    if (opener.count === 0) {
      list.unlink(opener.node);
      remove(opener);
    }
    if (closer.count === 0) {
      list.unlink(closer.node);
      const next = closer.next;
      remove(closer);
      closer = next;
    }
  }
}

/** Joins adjacent text nodes and drops empty ones (spent delimiter runs). */
function mergeText(inlines: Inline[]): Inline[] {
  const out: Inline[] = [];
  for (const inline of inlines) {
    const last = out.at(-1);
    if (inline.kind === 'text' && !inline.text) continue;
    if (inline.kind === 'text' && last?.kind === 'text') out[out.length - 1] = { kind: 'text', text: last.text + inline.text };
    else out.push(inline);
  }
  return out;
}

/**
 * `[text](destination "optional title")` at `start`, when the destination is an http(s) URL. The
 * text holds no unescaped brackets (enough for model output, and keeps the scan linear).
 */
function parseLink(src: string, start: number): { inline: Inline; end: number } | undefined {
  let i = start + 1;
  while (i < src.length && src.charAt(i) !== ']') {
    if (src.charAt(i) === '[') return undefined;
    i += src.charAt(i) === '\\' ? 2 : 1;
  }
  if (src.charAt(i) !== ']' || src.charAt(i + 1) !== '(') return undefined;
  const label = src.slice(start + 1, i);
  i += 2;
  while (src.charAt(i) === ' ' || src.charAt(i) === '\t') i++;
  let destination = '';
  // The length cap keeps text like "[a]([a]([a](…" linear: no useful URL is that long.
  const stop = Math.min(src.length, i + MAX_URL_LENGTH);
  if (src.charAt(i) === '<') {
    // CommonMark: a bracketed destination holds no line break or unescaped "<".
    const close = src.slice(i + 1, stop).search(/[<>\n]/);
    if (close < 0 || src.charAt(i + 1 + close) !== '>') return undefined;
    destination = src.slice(i + 1, i + 1 + close);
    i += close + 2;
  } else {
    let depth = 0;
    // CommonMark: a bare destination has no spaces or control characters.
    while (i < stop && src.charCodeAt(i) > 0x20 && !WHITESPACE.test(src.charAt(i))) {
      const c = src.charAt(i);
      if (c === '\\' && ASCII_PUNCTUATION.test(src.charAt(i + 1))) {
        destination += src.charAt(i + 1);
        i += 2;
        continue;
      }
      if (c === ')' && depth === 0) break;
      if (c === '(') depth++;
      if (c === ')') depth--;
      destination += c;
      i++;
    }
  }
  while (src.charAt(i) === ' ' || src.charAt(i) === '\t') i++;
  const quote = src.charAt(i);
  if (quote === '"' || quote === "'") {
    i++;
    const titleStop = Math.min(src.length, i + MAX_URL_LENGTH);
    while (i < titleStop && src.charAt(i) !== quote) i += src.charAt(i) === '\\' ? 2 : 1;
    i++;
    while (src.charAt(i) === ' ' || src.charAt(i) === '\t') i++;
  }
  if (src.charAt(i) !== ')' || !isWebUrl(destination)) return undefined;
  const children = label.trim() ? parseInline(label, false) : [{ kind: 'text' as const, text: destination }];
  return { inline: { kind: 'link', href: destination, children }, end: i + 1 };
}

function isWebUrl(destination: string): boolean {
  if (!/^https?:\/\/\S+$/i.test(destination)) return false;
  try {
    return new URL(destination).hostname !== '';
  } catch {
    return false;
  }
}

/** The code point ending before `i`, or '' at the start (which counts as whitespace). */
function codePointBefore(src: string, i: number): string {
  if (i === 0) return '';
  const low = src.charCodeAt(i - 1);
  const high = src.charCodeAt(i - 2);
  return low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff ? src.slice(i - 2, i) : src.charAt(i - 1);
}

/** The code point starting at `i`, or '' at the end (which counts as whitespace). */
function codePointAt(src: string, i: number): string {
  const code = src.codePointAt(i);
  return code === undefined ? '' : String.fromCodePoint(code);
}

const isWhitespace = (c: string): boolean => c === '' || WHITESPACE.test(c);
const isPunctuation = (c: string): boolean => c !== '' && PUNCTUATION.test(c);

// ---------------------------------------------------------------------------------------------
// Rendering.

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttribute = (s: string): string => escapeHtml(s).replace(/"/g, '&quot;');

interface Tag {
  open: string;
  close: string;
  name: StyleTag | 'a';
}

/**
 * Writes inline HTML with tags opened lazily, just before text: a tag closed around code is
 * reopened only if more text follows, so no empty tags, and nesting always matches.
 */
class HtmlWriter {
  out = '';
  private readonly wanted: Tag[] = [];
  private readonly written: Tag[] = [];

  has(name: Tag['name']): boolean {
    return this.wanted.some((tag) => tag.name === name);
  }

  push(tag: Tag): void {
    this.wanted.push(tag);
  }

  pop(): void {
    this.wanted.pop();
    if (this.written.length > this.wanted.length) this.closeFrom(this.wanted.length);
  }

  text(text: string): void {
    if (!text) return;
    let same = 0;
    while (same < this.written.length && this.written[same] === this.wanted[same]) same++;
    this.closeFrom(same);
    for (const tag of this.wanted.slice(same)) {
      this.out += tag.open;
      this.written.push(tag);
    }
    this.out += escapeHtml(text);
  }

  /** Code may not sit inside formatting on Telegram: close it all, write the code, reopen later. */
  code(text: string): void {
    this.closeFrom(0);
    this.out += `<code>${escapeHtml(text)}</code>`;
  }

  private closeFrom(depth: number): void {
    while (this.written.length > depth) this.out += this.written.pop()?.close ?? '';
  }
}

const STYLE_TAGS: Record<StyleTag, Tag> = {
  b: { open: '<b>', close: '</b>', name: 'b' },
  i: { open: '<i>', close: '</i>', name: 'i' },
  s: { open: '<s>', close: '</s>', name: 's' },
};

function inlineHtml(writer: HtmlWriter, inlines: Inline[]): void {
  for (const inline of inlines) {
    switch (inline.kind) {
      case 'text':
        writer.text(inline.text);
        break;
      case 'code':
        // A link cannot hold code on Telegram: keep the words, lose the monospace.
        if (writer.has('a')) writer.text(inline.text);
        else writer.code(inline.text);
        break;
      case 'style':
        // The same style nested in itself adds nothing (and Telegram may merge or refuse it).
        if (writer.has(inline.tag)) {
          inlineHtml(writer, inline.children);
        } else {
          writer.push(STYLE_TAGS[inline.tag]);
          inlineHtml(writer, inline.children);
          writer.pop();
        }
        break;
      case 'link':
        writer.push({ open: `<a href="${escapeAttribute(inline.href)}">`, close: '</a>', name: 'a' });
        inlineHtml(writer, inline.children);
        writer.pop();
        break;
    }
  }
}

function lineHtml(line: Line): string {
  const writer = new HtmlWriter();
  if (line.heading) writer.push(STYLE_TAGS.b);
  writer.text(line.bullet);
  inlineHtml(writer, line.content);
  if (line.heading) writer.pop();
  return writer.out;
}

function blockHtml(block: Block): string {
  switch (block.kind) {
    case 'line':
      return lineHtml(block);
    case 'quote':
      return `<blockquote>${block.lines.map(lineHtml).join('\n')}</blockquote>`;
    case 'pre': {
      const open = block.language ? `<pre><code class="language-${block.language}">` : '<pre><code>';
      return `${open}${escapeHtml(block.code)}</code></pre>`;
    }
  }
}

function inlinePlain(inlines: Inline[]): string {
  return inlines
    .map((inline) => {
      switch (inline.kind) {
        case 'text':
        case 'code':
          return inline.text;
        case 'style':
          return inlinePlain(inline.children);
        case 'link': {
          const text = inlinePlain(inline.children);
          return text === inline.href ? text : `${text} (${inline.href})`;
        }
      }
    })
    .join('');
}

function linePlain(line: Line): string {
  return line.bullet + inlinePlain(line.content);
}

function blockPlain(block: Block, quoteMark: string): string {
  switch (block.kind) {
    case 'line':
      return linePlain(block);
    case 'quote':
      return block.lines.map((line) => (quoteMark + linePlain(line)).trimEnd()).join('\n');
    case 'pre':
      return block.code;
  }
}
