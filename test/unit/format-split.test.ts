import { describe, expect, it } from 'vitest';
import { parseMarkdown, type Block } from '../../src/format/parse.js';
import { splitBlocks } from '../../src/format/split.js';
import { layoutBlocks, type BlockStyle } from '../../src/format/layout.js';

/** A bare style (no escaping, fences and quotes as in markdown) to read pieces in tests. */
const STYLE: BlockStyle = {
  paragraph: (spans) => spans.map((span) => span.text).join(''),
  heading: (spans) => spans.map((span) => span.text).join(''),
  code: (text, lang) => `\`\`\`${lang}\n${text}\n\`\`\``,
  table: (lines) => lines.join('\n'),
  rule: () => '---',
  quote: (inner) => inner.replace(/^/gm, '> '),
  quoteWidth: 2,
  marker: (item) => `${item.marker} `,
};
const render = (blocks: Block[]): string => layoutBlocks(blocks, STYLE);
const length = (blocks: Block[]): number => (render(blocks).trim() ? render(blocks).length : 0);
const split = (markdown: string, limit: number): string[] => splitBlocks(parseMarkdown(markdown), length, limit).map(render);

describe('parseMarkdown: read as model output means it', () => {
  const kinds = (markdown: string): string[] => parseMarkdown(markdown).map((block) => block.type);
  const text = (markdown: string): string => render(parseMarkdown(markdown));

  it.each([
    ['    four spaces are not code', ['paragraph']],
    ['Title\n===', ['paragraph']],
    ['Title\n---', ['paragraph', 'rule']],
    ['<div>\n*x*\n</div>', ['paragraph']],
    ['[a]: https://x.io\n[b][a]', ['paragraph']],
    ['```\n```', ['paragraph']],
  ])('%j is %j', (markdown, expected) => {
    expect(kinds(markdown)).toEqual(expected);
  });

  it('keeps HTML tags, entities and single tildes as text', () => {
    expect(text('<b>x</b> &amp; &#60; ~a~')).toBe('<b>x</b> &amp; &#60; ~a~');
    expect(parseMarkdown('~~gone~~')[0]).toMatchObject({ spans: [{ text: 'gone', strike: true }] });
  });

  it('replaces lone surrogates and survives deep nesting', () => {
    expect(text('a\uD800b')).toBe('a\uFFFDb');
    expect(() => parseMarkdown(`${'> '.repeat(5000)}deep`)).not.toThrow();
    expect(() => parseMarkdown(`${'*'.repeat(5000)}x${'*'.repeat(5000)}`)).not.toThrow();
    expect(text(`${'> '.repeat(50)}deep`)).toContain('deep');
  });

  it('keeps a long list or table whole across its sections', () => {
    const table = `| a | b |\n|---|---|\n${'| x | y |\n'.repeat(600)}`;
    const blocks = parseMarkdown(table);
    expect(blocks.every((block) => block.type === 'table')).toBe(true);
    expect(blocks.reduce((rows, block) => rows + (block.type === 'table' ? block.rows.length : 0), 0)).toBe(600);
  });
});

describe('splitBlocks', () => {
  it('closes a cut code block and reopens it with its language', () => {
    const pieces = split('```py\nline_one = 1\nline_two = 2\nline_three = 3\n```', 36);
    expect(pieces).toEqual(['```py\nline_one = 1\nline_two = 2\n```', '```py\nline_three = 3\n```']);
  });

  it('repeats a table header in each piece', () => {
    const pieces = split('| k | v |\n|---|---|\n| a | 1 |\n| b | 2 |\n| c | 3 |', 20);
    expect(pieces).toEqual(['k  v\n─  ─\na  1\nb  2', 'k  v\n─  ─\nc  3']);
  });

  it('continues a quote and a list item in the next piece', () => {
    expect(split('> one two three four five six', 16)).toEqual(['> one two three', '> four five six']);
    expect(split('1. one two three four five six\n2. seven', 18)).toEqual(['1. one two three', '   four five six', '2. seven']);
  });

  it('keeps a surrogate pair and a short grapheme cluster whole', () => {
    expect(split(`${'x'.repeat(15)}😀😀`, 16)).toEqual(['x'.repeat(15), '😀😀']);
    const family = '👨‍👩‍👧';
    expect(split(`${'x'.repeat(12)}${family}`, 16)).toEqual(['x'.repeat(12), family]);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => splitBlocks(parseMarkdown('x'), length, limit)).toThrow(RangeError);
  });
});
