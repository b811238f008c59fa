/**
 * The block layout every renderer shares: blocks separated as the author separated them (a blank
 * line or none), list items as "marker text" lines with nested content indented under the text,
 * and code blocks and tables kept verbatim (never indented: copying code must give the code). What
 * each block looks like is the platform's, through a {@link BlockStyle}.
 */
import type { Block, ListItem, Span } from './parse.js';
import { tableLines } from './table.js';

/** How one platform writes each kind of block; every string it returns is already escaped. */
export interface BlockStyle {
  /** `indent`: columns that list markers and quote bars will take before each line of it. */
  paragraph(spans: Span[], indent: number): string;
  heading(spans: Span[], depth: number, indent: number): string;
  code(text: string, lang: string): string;
  /** Aligned table lines (plain text, still to be escaped) as a monospace block. */
  table(lines: string[]): string;
  rule(): string;
  /** A quote around already rendered content; `depth` 0 for the outermost. */
  quote(inner: string, depth: number): string;
  /** Columns a quote adds before each line. */
  quoteWidth: number;
  /** Text written before a list item's content, e.g. "• " or "3. ", escaped. */
  marker(item: ListItem): string;
}

/** A rendered block: verbatim ones (code, tables) are never re-indented inside. */
interface Fragment {
  text: string;
  verbatim: boolean;
  tight: boolean;
}

/** Renders blocks with `style`. */
export function layoutBlocks(blocks: Block[], style: BlockStyle): string {
  return join(fragments(blocks, style, 0, 0));
}

/** "☐ " or "☑ " for a task item, else nothing: shared by every style's marker. */
export function taskBox(item: ListItem): string {
  if (item.checked === undefined) return '';
  return item.checked ? '☑ ' : '☐ ';
}

function join(parts: Fragment[]): string {
  return parts.map((part, i) => (i === 0 ? '' : part.tight ? '\n' : '\n\n') + part.text).join('');
}

/**
 * Leaf blocks already rendered, per style, block and indent: the splitter measures many candidate
 * pieces that share whole blocks (the same objects), so each is rendered once.
 */
const rendered = new WeakMap<BlockStyle, WeakMap<Block, Map<number, string>>>();

function cached(style: BlockStyle, block: Block, indent: number, render: () => string): string {
  let byBlock = rendered.get(style);
  if (!byBlock) rendered.set(style, (byBlock = new WeakMap<Block, Map<number, string>>()));
  let byIndent = byBlock.get(block);
  if (!byIndent) byBlock.set(block, (byIndent = new Map<number, string>()));
  let text = byIndent.get(indent);
  if (text === undefined) byIndent.set(indent, (text = render()));
  return text;
}

function fragments(blocks: Block[], style: BlockStyle, quoteDepth: number, indent: number): Fragment[] {
  const out: Fragment[] = [];
  for (const block of blocks) {
    const { tight } = block;
    switch (block.type) {
      case 'paragraph':
        out.push({ text: cached(style, block, indent, () => style.paragraph(block.spans, indent)), verbatim: false, tight });
        break;
      case 'heading':
        out.push({ text: cached(style, block, indent, () => style.heading(block.spans, block.depth, indent)), verbatim: false, tight });
        break;
      case 'code':
        out.push({ text: cached(style, block, 0, () => style.code(block.text, block.lang)), verbatim: true, tight });
        break;
      case 'table':
        out.push({ text: cached(style, block, 0, () => style.table(tableLines(block))), verbatim: true, tight });
        break;
      case 'rule':
        out.push({ text: style.rule(), verbatim: false, tight });
        break;
      case 'quote':
        out.push({ text: style.quote(join(fragments(block.blocks, style, quoteDepth + 1, indent + style.quoteWidth)), quoteDepth), verbatim: false, tight });
        break;
      case 'list':
        out.push({ text: block.items.map((item) => cachedItem(item, style, quoteDepth, indent)).join('\n'), verbatim: false, tight });
        break;
    }
  }
  return out;
}

/** List items already rendered, per style, item, quote depth and indent (see `rendered`). */
const renderedItems = new WeakMap<BlockStyle, WeakMap<ListItem, Map<string, string>>>();

function cachedItem(item: ListItem, style: BlockStyle, quoteDepth: number, indent: number): string {
  let byItem = renderedItems.get(style);
  if (!byItem) renderedItems.set(style, (byItem = new WeakMap<ListItem, Map<string, string>>()));
  let byPlace = byItem.get(item);
  if (!byPlace) byItem.set(item, (byPlace = new Map<string, string>()));
  const place = `${quoteDepth}:${indent}`;
  let text = byPlace.get(place);
  if (text === undefined) byPlace.set(place, (text = listItem(item, style, quoteDepth, indent)));
  return text;
}

function listItem(item: ListItem, style: BlockStyle, quoteDepth: number, outerIndent: number): string {
  const marker = style.marker(item);
  // The marker's width in characters: markers are plain text ("• ", "12. ", "☑ ").
  const indent = ' '.repeat(visibleLength(marker));
  const inner = fragments(item.blocks, style, quoteDepth, outerIndent + indent.length);
  const lines = inner.map((part, i) => {
    const text = part.verbatim ? part.text : part.text.replace(/\n/g, `\n${indent}`);
    if (i === 0) return { ...part, text: (item.continued ? indent : marker) + (part.verbatim ? `\n${text}` : text) };
    return { ...part, text: part.verbatim ? text : indent + text };
  });
  return lines.length > 0 ? join(lines) : item.continued ? '' : marker.trimEnd();
}

/** Length of a marker as shown: HTML entities count one. */
function visibleLength(marker: string): number {
  return marker.replace(/&[a-z]+;/g, '_').replace(/\\(.)/g, '$1').length;
}
