/**
 * Answers rendered as Slack mrkdwn, split under Slack's limits.
 *
 * Every text value is escaped (`&` `<` `>` as `&amp;` `&lt;` `&gt;`), so no `<!channel>`,
 * `<!here>`, `<@U…>`, `<#C…>` or `<url|text>` can form out of the model's text: the only angle
 * brackets in the output are links the model wrote as links (http(s) and mailto). mrkdwn has no
 * backslash escape, so a literal `*`, `_`, `~` or backtick that could start formatting is followed
 * by a zero-width space (U+200B), which Slack does not format across.
 */
import { destinationSuffix, isWebUrl, writeInline, type InlineSyntax } from '../../src/format/inline.js';
import { layoutBlocks, taskBox, type BlockStyle } from '../../src/format/layout.js';
import { parseMarkdown, type Block, type Link } from '../../src/format/parse.js';
import { splitBlocks } from '../../src/format/split.js';

/** Slack truncates a message's `text` beyond 40,000 characters. */
export const SLACK_TEXT_LIMIT = 40_000;
/** A section block's text holds at most 3,000 characters. */
export const SLACK_SECTION_LIMIT = 3000;

const ZWSP = '\u200B';
const RULE = '──────────';

/**
 * Renders model-written markdown as Slack mrkdwn messages of at most `limit` characters (as sent,
 * after escaping): **bold** → `*bold*`, *italic* → `_italic_`, ~~strike~~ → `~strike~`, code and
 * code blocks in backticks, [text](https://…) → `<https://…|text>`, headings bold, list items
 * "• " / "3. ", quotes "> ", tables as aligned code blocks, rules as a line of "─". Pass
 * SLACK_SECTION_LIMIT for text that goes into section blocks.
 */
export function slackChunks(markdown: string, limit = SLACK_TEXT_LIMIT): string[] {
  return splitBlocks(parseMarkdown(markdown), mrkdwnLength, limit).map((blocks) => layoutBlocks(blocks, STYLE));
}

function mrkdwnLength(blocks: Block[]): number {
  const text = layoutBlocks(blocks, STYLE);
  return text.trim() ? text.length : 0;
}

const escapeEntities = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A disarmed formatting character inside a word, which needs no disarming (snake_case). */
const INNER_MARKER = /(?<=[\p{L}\p{N}])([*_~`])\u200B(?=[\p{L}\p{N}])/gu;

/**
 * Escaped text with formatting characters disarmed: every one first (a plain character class,
 * fast), then those inside a word put back.
 */
const escapeText = (text: string): string => escapeEntities(text).replace(/[*_~`]/g, `$&${ZWSP}`).replace(INNER_MARKER, '$1');

/** A destination Slack may link: http(s), or mailto with an address. */
function linkable(href: string): boolean {
  return isWebUrl(href) || /^mailto:[^\s<>|]+@[^\s<>|]+$/i.test(href);
}

function link(text: string, target: Link): string {
  if (!linkable(target.href)) return escapeText(text + destinationSuffix(text, target.href));
  // In `<url|text>` a "|" ends the URL and ">" the link: neither may appear raw.
  const url = escapeEntities(target.href).replace(/\|/g, '%7C');
  const shown = text.trim();
  return shown === target.href || !shown ? `<${url}>` : `<${url}|${escapeText(shown).replace(/\|/g, '¦')}>`;
}

const SYNTAX: InlineSyntax = {
  bold: ['*', '*'],
  italic: ['_', '_'],
  strike: ['~', '~'],
  escape: escapeText,
  // Inline code cannot hold a backtick in mrkdwn: such code shows as plain text.
  code: (text) => (text.includes('`') ? escapeText(text) : `\`${escapeEntities(text)}\``),
  link,
};

/** A code block; "```" inside it would end it, so a zero-width space breaks such runs. */
const codeBlock = (text: string): string => `\`\`\`\n${escapeEntities(text).replace(/```/g, `\`\`${ZWSP}\``)}\n\`\`\``;

const STYLE: BlockStyle = {
  paragraph: (spans) => writeInline(spans, SYNTAX),
  heading: (spans) => writeInline(spans.map((span) => ({ ...span, strong: false })), SYNTAX, true),
  code: (text) => codeBlock(text),
  table: (lines) => codeBlock(lines.join('\n')),
  rule: () => RULE,
  quote: (inner) => (inner.trim() ? inner.replace(/^/gm, '> ') : ''),
  quoteWidth: 2,
  marker: (item) => `${item.marker} ${taskBox(item)}`,
};
