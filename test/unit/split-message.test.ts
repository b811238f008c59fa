import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitMessage } from '../../src/core/split-message.js';

/** Whitespace may be dropped at a cut, so content is compared with all of it removed. */
const squash = (s: string): string => s.replace(/\s+/g, '');

const ADDED_CLOSER = /\n`{3,}$/;
const ADDED_OPENER = /^`{3,}[^`\n]*\n/;

/**
 * True when the chunks are the input plus fence markers the splitter may add: a closer at the end of
 * a chunk (paired with a reopener at the start of the next chunk, or alone on the last chunk).
 * Each boundary may or may not carry such a pair, so every combination that fits is tried.
 */
function reassembles(input: string, chunks: string[]): boolean {
  const expected = squash(input);
  let states = [{ offset: 0, reopened: false }];
  chunks.forEach((chunk, i) => {
    const next = new Map<string, { offset: number; reopened: boolean }>();
    const last = i === chunks.length - 1;
    for (const state of states) {
      let body = chunk;
      if (state.reopened) {
        const opener = ADDED_OPENER.exec(body);
        if (!opener) continue;
        body = body.slice(opener[0].length);
      }
      const options = [{ text: body, closed: false }];
      const closer = ADDED_CLOSER.exec(body);
      if (closer && (last || ADDED_OPENER.test(chunks[i + 1] ?? ''))) options.push({ text: body.slice(0, closer.index), closed: true });
      for (const option of options) {
        const part = squash(option.text);
        if (!expected.startsWith(part, state.offset)) continue;
        const to = { offset: state.offset + part.length, reopened: option.closed && !last };
        next.set(`${to.offset}:${to.reopened}`, to);
      }
    }
    states = [...next.values()];
  });
  return states.some((s) => s.offset === expected.length && !s.reopened);
}

/** Fence lines of a chunk read as a renderer would: openers, and closers of at least as many backticks. */
function fenceLines(chunk: string): { count: number; open: boolean } {
  let open: number | undefined;
  let count = 0;
  for (const raw of chunk.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const match = open === undefined ? /^ {0,3}(`{3,})[^`]*$/.exec(line) : /^ {0,3}(`{3,})[ \t]*$/.exec(line);
    const run = match?.[1]?.length ?? 0;
    if (!match || (open !== undefined && run < open)) continue;
    count++;
    open = open === undefined ? run : undefined;
  }
  return { count, open: open !== undefined };
}

const loneSurrogateAtEdge = (chunk: string): boolean =>
  /^[\uDC00-\uDFFF]/.test(chunk) || /[\uD800-\uDBFF]$/.test(chunk);

describe('splitMessage: examples', () => {
  it('returns nothing for empty or whitespace-only text', () => {
    expect(splitMessage('', 100)).toEqual([]);
    expect(splitMessage(' \n\t\r\n ', 100)).toEqual([]);
  });

  it('returns a fitting text as one trimmed chunk', () => {
    expect(splitMessage('  hello world \n\n', 16)).toEqual(['hello world']);
    expect(splitMessage('x'.repeat(16), 16)).toEqual(['x'.repeat(16)]);
  });

  it('refuses limits too small for fence markers', () => {
    for (const limit of [15, 0, -1, Number.NaN, 16.5, Infinity]) {
      expect(() => splitMessage('text', limit)).toThrow(RangeError);
    }
  });

  it('prefers a paragraph break over a later line break over a later word boundary', () => {
    // The first window (26) holds a paragraph break at 7, a line break at 19 and words up to 24.
    expect(splitMessage('one two\n\nthree four\nfive six seven', 26)).toEqual(['one two', 'three four\nfive six seven']);
  });

  it('prefers a line break over a later word boundary', () => {
    expect(splitMessage('alpha beta\ngamma delta epsilon', 24)).toEqual(['alpha beta', 'gamma delta epsilon']);
  });

  it('cuts at the last word boundary that fits', () => {
    expect(splitMessage('aaa bbb ccc ddd eee fff', 16)).toEqual(['aaa bbb ccc ddd', 'eee fff']);
  });

  it('hard-cuts a word longer than the limit', () => {
    expect(splitMessage('x'.repeat(40), 16)).toEqual(['x'.repeat(16), 'x'.repeat(16), 'x'.repeat(8)]);
  });

  it('never splits a surrogate pair, and keeps a grapheme cluster whole when it fits', () => {
    expect(splitMessage(`${'x'.repeat(15)}😀😀`, 16)).toEqual(['x'.repeat(15), '😀😀']);
    const family = '👨‍👩‍👧'; // 8 code units joined by ZWJ
    expect(splitMessage(`${'x'.repeat(12)}${family}`, 16)).toEqual(['x'.repeat(12), family]);
    // A cluster longer than the limit is cut between code points, still never inside a pair.
    const chunks = splitMessage(family.repeat(3), 16);
    expect(chunks.join('')).toBe(family.repeat(3));
    for (const chunk of chunks) expect(loneSurrogateAtEdge(chunk)).toBe(false);
  });

  it('closes a fence it cuts and reopens it with the same info string', () => {
    const text = 'Here:\n\n```ts\nconst a = 1;\nconst b = 2;\nconst c = 3;\n```\nDone.';
    expect(splitMessage(text, 32)).toEqual([
      'Here:',
      '```ts\nconst a = 1;\n```',
      '```ts\nconst b = 2;\n```',
      '```ts\nconst c = 3;\n```\nDone.',
    ]);
  });

  it('keeps indentation of code lines in a reopened fence', () => {
    const text = '```py\ndef f():\n    return 1\n    return 2\n```';
    expect(splitMessage(text, 32)).toEqual(['```py\ndef f():\n    return 1\n```', '```py\n    return 2\n```']);
  });

  it('cuts before a code block that fits whole rather than inside it', () => {
    const code = '```js\nlet x = 1;\nlet y = 2;\n```';
    expect(splitMessage(`Some intro text.\n${code}`, 40)).toEqual(['Some intro text.', code]);
  });

  it('closes a fence the text leaves open when it had to split', () => {
    expect(splitMessage('```\naaaa bbbb cccc dddd', 20)).toEqual(['```\naaaa bbbb\n```', '```\ncccc dddd\n```']);
  });

  it('handles CRLF line endings', () => {
    expect(splitMessage('first para\r\n\r\nsecond para', 16)).toEqual(['first para', 'second para']);
    expect(splitMessage('line one\r\nline two', 16)).toEqual(['line one', 'line two']);
    expect(splitMessage('```sh\r\necho one\r\necho two\r\n```', 20)).toEqual(['```sh\r\necho one\n```', '```sh\necho two\r\n```']);
  });

  it('avoids cutting inside inline code and links when a boundary outside fits', () => {
    expect(splitMessage('see `aa bb cc dd` now', 16)).toEqual(['see', '`aa bb cc dd`', 'now']);
    expect(splitMessage('go [read the docs](https://x.io) now', 30)).toEqual(['go', '[read the docs](https://x.io)', 'now']);
    // With no boundary outside, a word boundary inside still beats a hard cut.
    expect(splitMessage('`aaaa bbbb cccc dddd`', 16)).toEqual(['`aaaa bbbb cccc', 'dddd`']);
  });

  it('never cuts between a backslash and the character it escapes', () => {
    for (const chunk of splitMessage(`${'a'.repeat(15)}\\*${'b'.repeat(10)}`, 16)) {
      expect(chunk.endsWith('\\')).toBe(false);
    }
  });

  it('does not turn an indented ``` into a fence by trimming', () => {
    expect(splitMessage('    ```not a fence', 100)).toEqual(['    ```not a fence']);
  });

  it('breaks a fence whose opening line is too long to repeat instead of reopening it', () => {
    const chunks = splitMessage(`\`\`\`${'x'.repeat(30)}\ncode\n\`\`\``, 16);
    for (const chunk of chunks) expect(fenceLines(chunk).open).toBe(false);
    expect(reassembles(`\`\`\`${'x'.repeat(30)}\ncode\n\`\`\``, chunks)).toBe(true);
  });
});

const piece = fc.oneof(
  fc.constantFrom(' ', '  ', '\n', '\n\n', '\r\n', '\r\n\r\n', '\t', '\n\n\n'),
  fc.constantFrom('word', 'longerword', 'x', 'supercalifragilisticexpialidocious', 'a.b,c;d'),
  fc.constantFrom('\n```\n', '\n```js\n', '\n```python\n', '\n  ```\n', '\n    ```\n', '\n````\n', '\n```a```\n',
    `\n\`\`\`${'i'.repeat(20)}\n`, '```', '`', '``', '`code span`', '[link text](https://example.com/a)'),
  fc.constantFrom('\\', '\\*', '\\`', '**', '_', '~~', '#', '> '),
  fc.constantFrom('😀', '👨‍👩‍👧', '🇫🇷', 'é', 'e\u0301', '\u00a0'),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', '`'), maxLength: 40 }),
);
const markdownish = fc.array(piece, { maxLength: 60 }).map((pieces) => pieces.join(''));
const limits = fc.integer({ min: 16, max: 120 });

describe('splitMessage: properties', () => {
  it('keeps every chunk within the limit, non-empty, with whole surrogate pairs', () => {
    fc.assert(
      fc.property(markdownish, limits, (text, limit) => {
        for (const chunk of splitMessage(text, limit)) {
          expect(chunk.length).toBeLessThanOrEqual(limit);
          expect(chunk.trim()).not.toBe('');
          expect(loneSurrogateAtEdge(chunk)).toBe(false);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('loses and reorders nothing: the chunks minus added fence markers are the input', () => {
    fc.assert(
      fc.property(markdownish, limits, (text, limit) => {
        expect(reassembles(text, splitMessage(text, limit))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('balances fences: when split, every chunk closes each fence it opens', () => {
    fc.assert(
      fc.property(markdownish, limits, (text, limit) => {
        const chunks = splitMessage(text, limit);
        if (chunks.length < 2) return;
        for (const chunk of chunks) {
          const fences = fenceLines(chunk);
          expect(fences.open).toBe(false);
          expect(fences.count % 2).toBe(0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('returns a text that fits as one chunk, trimmed', () => {
    fc.assert(
      fc.property(markdownish, limits, (text, limit) => {
        fc.pre(text.length <= limit && text.trim() !== '');
        const chunks = splitMessage(text, limit);
        expect(chunks).toHaveLength(1);
        expect(chunks[0]?.trim()).toBe(text.trim());
        expect(text.includes(chunks[0] ?? '')).toBe(true);
      }),
    );
  });

  it('holds at the platforms’ real limits on long answers', () => {
    const long = fc.array(piece, { minLength: 200, maxLength: 2000 }).map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(long, fc.constantFrom(2000, 4096), (text, limit) => {
        const chunks = splitMessage(text, limit);
        for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(limit);
        expect(reassembles(text, chunks)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});
