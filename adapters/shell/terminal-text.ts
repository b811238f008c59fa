/**
 * Answers rendered for a terminal: bold and underline as ANSI escapes when the output is a
 * terminal, plain text through a pipe. The answer's own control characters (an ESC that would
 * start an escape sequence, a bell, a carriage return) are shown as U+FFFD: only the escapes
 * written here reach the terminal.
 */
import { destinationSuffix, writeInline, type InlineSyntax } from '../../src/format/inline.js';
import { layoutBlocks, taskBox, type BlockStyle } from '../../src/format/layout.js';
import { displayWidth, parseMarkdown, type Span } from '../../src/format/parse.js';

/** How to render for the terminal. */
export interface TerminalOptions {
  /** Write ANSI escapes (bold, underline): true when the output is a TTY. */
  ansi: boolean;
  /** Wrap prose at word boundaries to this many columns (code and tables are never wrapped). */
  width?: number;
}

// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
// eslint-disable-next-line no-control-regex
const ANSI_ESCAPE = /\u001B\[[0-9;]*m/g;
const CODE_INDENT = '    ';

/**
 * Renders model-written markdown for the terminal, as one text (no length limit): **bold** bold,
 * *italic* underlined (ANSI only), links as "text (url)", headings bold, list items "• " / "3. ",
 * quotes with "│ ", code blocks and tables indented by four spaces, tables aligned.
 */
export function renderTerminal(markdown: string, options: TerminalOptions): string {
  return layoutBlocks(parseMarkdown(markdown), style(options));
}

function style({ ansi, width }: TerminalOptions): BlockStyle {
  const syntax: InlineSyntax = {
    bold: ansi ? ['\u001B[1m', '\u001B[22m'] : ['', ''],
    italic: ansi ? ['\u001B[4m', '\u001B[24m'] : ['', ''],
    strike: ['', ''],
    escape: (text) => text.replace(CONTROL, '\uFFFD'),
    code: (text) => text.replace(CONTROL, '\uFFFD'),
    link: (text, link) => (text + destinationSuffix(text, link.href)).replace(CONTROL, '\uFFFD'),
  };
  const prose = (spans: Span[], indent: number, bold: boolean): string => {
    const text = writeInline(spans, syntax, bold);
    return width ? wrap(text, Math.max(20, width - indent)) : text;
  };
  const verbatim = (text: string): string => text.replace(CONTROL, '\uFFFD').replace(/^/gm, CODE_INDENT);
  return {
    paragraph: (spans, indent) => prose(spans, indent, false),
    heading: (spans, _depth, indent) => prose(spans, indent, true),
    code: verbatim,
    table: (lines) => verbatim(lines.join('\n')),
    rule: () => '─'.repeat(Math.min(width ?? 40, 40)),
    quote: (inner) => (inner.trim() ? inner.replace(/^/gm, '│ ') : ''),
    quoteWidth: 2,
    marker: (item) => `${item.marker} ${taskBox(item)}`,
  };
}

/** Wraps each line at spaces to `width` columns (escapes not counted); a longer word stays whole. */
function wrap(text: string, width: number): string {
  return text
    .split('\n')
    .map((line) => {
      const out: string[] = [];
      let current = '';
      let used = 0;
      for (const word of line.split(/(?<=\S) (?=\S)/)) {
        const size = columns(word);
        if (current && used + 1 + size > width) {
          out.push(current);
          current = word;
          used = size;
        } else {
          used += (current ? 1 : 0) + size;
          current = current ? `${current} ${word}` : word;
        }
      }
      out.push(current);
      return out.join('\n');
    })
    .join('\n');
}

const columns = (text: string): number => displayWidth(text.replace(ANSI_ESCAPE, ''));
