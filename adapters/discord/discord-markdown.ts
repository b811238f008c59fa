/**
 * Answers rendered as Discord markdown, split under Discord's 2,000-character content limit
 * (counted on the text as sent, escapes included).
 *
 * Markup the model did not mean is escaped with a backslash (a literal `*`, `_`, `~`, `|`, `#`,
 * brackets…), so only the formatting written here shows. Mentions are defanged everywhere, code
 * included: a zero-width space (U+200B) follows every `<` (no `<@123>`, `<@&123>`, `<#123>`,
 * `<t:…>` can form) and every `@` of `@everyone` / `@here`. The adapter sets `allowed_mentions`
 * to none as well; this keeps the text itself from pinging anyone if that setting is ever lost.
 */
import { destinationSuffix, isWebUrl, writeInline, type InlineSyntax } from '../../src/format/inline.js';
import { layoutBlocks, taskBox, type BlockStyle } from '../../src/format/layout.js';
import { parseMarkdown, type Block, type Link } from '../../src/format/parse.js';
import { splitBlocks } from '../../src/format/split.js';

/** Discord's limit on a message's content. */
export const DISCORD_CONTENT_LIMIT = 2000;

const ZWSP = '\u200B';
const RULE = '──────────';
/** A language Discord highlights; anything else is left out of the fence. */
const LANGUAGE = /^[\w#+.-]{1,32}$/;

/**
 * Renders model-written markdown as Discord messages of at most `limit` characters: **bold**,
 * *italic* and ~~strike~~ as themselves, `code` and fenced code with their language,
 * [text](https://…) as a masked link (http(s) only; bare URLs as `<url>`, which shows no embed),
 * headings bold, list items "• " / "3. ", quotes "> ", tables as aligned code blocks.
 */
export function discordChunks(markdown: string, limit = DISCORD_CONTENT_LIMIT): string[] {
  return splitBlocks(parseMarkdown(markdown), contentLength, limit).map(render);
}

/**
 * A piece as sent. `@everyone` and `@here` are disarmed on the whole text, as they can form across
 * the pieces of text written one by one ("@" then "everyone…" from a link).
 */
const render = (blocks: Block[]): string => layoutBlocks(blocks, STYLE).replace(EVERYONE, `@${ZWSP}$1`);

function contentLength(blocks: Block[]): number {
  const text = render(blocks);
  return text.trim() ? text.length : 0;
}

const EVERYONE = /@(everyone|here)/gi;

/** Mentions and other `<…>` syntax disarmed; applies inside code too. */
const defang = (text: string): string => text.replace(/</g, `<${ZWSP}`);

/**
 * Text made inert: markdown punctuation escaped with a backslash, and at a line start the markers
 * that would make a heading, list or quote (`#`, `-`, `+`, `>`, `1.`) too.
 */
function escapeText(text: string): string {
  return defang(
    text
      .replace(/[\\*_~`|[\]#>]/g, '\\$&')
      .replace(/^(\s*)([-+])(?=\s)/gm, '$1\\$2')
      .replace(/^(\s*\d+)\.(?=\s)/gm, '$1\\.'),
  );
}

/** Characters a URL may not hold raw inside `(…)` or `<…>`. */
const encodeUrl = (href: string): string => href.replace(/[()<> ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function link(text: string, target: Link): string {
  if (!isWebUrl(target.href)) return escapeText(text + destinationSuffix(text, target.href));
  const url = encodeUrl(target.href);
  const shown = text.trim();
  // `<url>` and `(<url>)` show the link without an embed under the message.
  return shown === target.href || !shown ? `<${url}>` : `[${escapeText(shown)}](<${url}>)`;
}

/** Inline code: fenced with enough backticks, or plain text when it holds a double backtick. */
function code(text: string): string {
  if (!text.includes('`')) return `\`${defang(text)}\``;
  if (!text.includes('``')) return `\`\` ${defang(text)} \`\``;
  return escapeText(text);
}

const SYNTAX: InlineSyntax = {
  bold: ['**', '**'],
  italic: ['*', '*'],
  strike: ['~~', '~~'],
  escape: escapeText,
  code,
  link,
};

/** A code block; "```" inside it would end it, so a zero-width space breaks such runs. */
const codeBlock = (text: string, lang: string): string =>
  `\`\`\`${LANGUAGE.test(lang) ? lang : ''}\n${defang(text).replace(/```/g, `\`\`${ZWSP}\``)}\n\`\`\``;

const STYLE: BlockStyle = {
  paragraph: (spans) => writeInline(spans, SYNTAX),
  heading: (spans) => writeInline(spans.map((span) => ({ ...span, strong: false })), SYNTAX, true),
  code: codeBlock,
  table: (lines) => codeBlock(lines.join('\n'), ''),
  rule: () => RULE,
  quote: (inner) => (inner.trim() ? inner.replace(/^/gm, '> ') : ''),
  quoteWidth: 2,
  marker: (item) => `${item.marker.replace(/\.$/, '\\.')} ${taskBox(item)}`,
};
