import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toTelegramHtml, toTelegramPlain } from '../../adapters/telegram/telegram-html.js';
import { splitMessage } from '../../src/core/split-message.js';
import { parseTelegramHtml } from '../fakes/telegram-html.js';

/** What Telegram would show: throws like Telegram when it refuses the HTML. */
const visible = (html: string): string => parseTelegramHtml(html).text;

/** The tags the renderer writes; anything else looking like a tag would be unescaped input. */
const OWN_TAGS = /<\/?(?:b|i|s|code|pre|blockquote)>|<a href="[^"<>]*">|<\/a>|<code class="language-[\w#+.-]+">/g;

/**
 * Words of the input's text: fence lines (their info string is an attribute) and link destinations
 * (shown as the link, not as text) are left out, generously.
 */
function words(markdown: string): string[] {
  const text = markdown
    .replace(/^ {0,3}`{3,}.*$/gm, '')
    .replace(/\]\((?:[^()]|\([^()]*\))*\)?/g, ']');
  return text.match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Every word appears in `shown`, in order. */
function containsInOrder(shown: string, expected: string[]): boolean {
  let at = 0;
  for (const word of expected) {
    const found = shown.indexOf(word, at);
    if (found < 0) return false;
    at = found + word.length;
  }
  return true;
}

describe('toTelegramHtml: constructs', () => {
  it.each([
    ['**bold** and __bold__', '<b>bold</b> and <b>bold</b>'],
    ['*italic* and _italic_', '<i>italic</i> and <i>italic</i>'],
    ['snake_case_name and 2 * 3 * 4', 'snake_case_name and 2 * 3 * 4'],
    ['~~gone~~ but ~kept~', '<s>gone</s> but ~kept~'],
    ['run `npm <i>` now', 'run <code>npm &lt;i&gt;</code> now'],
    ['``code with ` inside``', '<code>code with ` inside</code>'],
    ['```ts\nconst a = b < c && d;\n```', '<pre><code class="language-ts">const a = b &lt; c &amp;&amp; d;</code></pre>'],
    ['```\nplain *code*\n```', '<pre><code>plain *code*</code></pre>'],
    ['```"><script>\nx\n```', '<pre><code>x</code></pre>'],
    ['```py\nunclosed', '<pre><code class="language-py">unclosed</code></pre>'],
    ['[the docs](https://example.com/a?b=1&c=2)', '<a href="https://example.com/a?b=1&amp;c=2">the docs</a>'],
    ['[q](https://x.io/"quoted")', '<a href="https://x.io/&quot;quoted&quot;">q</a>'],
    ['[t](https://x.io/a_(b) "title")', '<a href="https://x.io/a_(b)">t</a>'],
    ['[](https://x.io)', '<a href="https://x.io">https://x.io</a>'],
    ['> quoted **line**\n> second\nafter', '<blockquote>quoted <b>line</b>\nsecond</blockquote>\nafter'],
    ['# Heading\n### Smaller ###', '<b>Heading</b>\n<b>Smaller</b>'],
    ['- one\n* two\n  - nested', '• one\n• two\n  • nested'],
    ['\\*not italic\\* and \\_not\\_', '*not italic* and _not_'],
    ['***both***', '<i><b>both</b></i>'],
    ['_a **b** c_', '<i>a <b>b</b> c</i>'],
  ])('%j → %j', (markdown, html) => {
    expect(toTelegramHtml(markdown)).toBe(html);
    expect(() => visible(html)).not.toThrow();
  });

  it('closes formatting around code, which Telegram does not let bold or links contain', () => {
    expect(toTelegramHtml('**bold `code` bold**')).toBe('<b>bold </b><code>code</code><b> bold</b>');
    expect(toTelegramHtml('# Use `npm ci`')).toBe('<b>Use </b><code>npm ci</code>');
    expect(toTelegramHtml('[run `x`](https://x.io)')).toBe('<a href="https://x.io">run x</a>');
  });

  it('keeps CRLF text readable', () => {
    expect(toTelegramHtml('**a**\r\n- b\r\n')).toBe('<b>a</b>\n• b\n');
  });
});

describe('toTelegramHtml: hostile input', () => {
  it.each([
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['&amp; is literal', '&amp;amp; is literal'],
    ['a < b && c > d', 'a &lt; b &amp;&amp; c &gt; d'],
    ['<b>typed</b> by the model', '&lt;b&gt;typed&lt;/b&gt; by the model'],
    ['<!-- comment -->', '&lt;!-- comment --&gt;'],
    ['[x](javascript:alert(1))', '[x](javascript:alert(1))'],
    ['[x](tg://resolve?domain=a)', '[x](tg://resolve?domain=a)'],
    ['**unbalanced', '**unbalanced'],
    ['__a **b__ c**', '<b>a **b</b> c**'],
    ['**a *b** c*', '<i>a b c</i>'],
    ['_open only', '_open only'],
    ['😀 **😀** _é_ 👨‍👩‍👧', '😀 <b>😀</b> <i>é</i> 👨‍👩‍👧'],
    ['```\n```', '```\n```'],
    ['\uD800 lone', '\uFFFD lone'],
    // Markup around nothing but a space would leave Telegram an empty message: shown as typed.
    ['` `', '` `'],
    ['>', '&gt;'],
    ['`\uDC00`', '<code>\uFFFD</code>'],
  ])('%j → %j', (markdown, html) => {
    expect(toTelegramHtml(markdown)).toBe(html);
    expect(() => visible(html)).not.toThrow();
  });
});

describe('toTelegramPlain', () => {
  it.each([
    ['**bold** _it_ ~~s~~ `code`', 'bold it s code'],
    ['[docs](https://x.io) and [https://y.io](https://y.io)', 'docs (https://x.io) and https://y.io'],
    ['# Title\n- item\n> quote', 'Title\n• item\n> quote'],
    ['```js\na < b && c\n```', 'a < b && c'],
    ['<b>&amp;</b>', '<b>&amp;</b>'],
    ['snake_case **unclosed', 'snake_case **unclosed'],
  ])('%j → %j', (markdown, plain) => {
    expect(toTelegramPlain(markdown)).toBe(plain);
  });
});

const markdownish = fc.oneof(
  fc.string({ unit: fc.constantFrom('*', '_', '~', '`', '[', ']', '(', ')', '<', '>', '&', '#', '\n', '\r\n', ' ', '\\',
    '-', '"', ';', 'a', 'b', 'é', '😀', 'amp', 'lt', '**', '~~', '```', '> ', '# ', '- ', '\n```js\n', '\n```\n',
    'http://x.y', 'https://a.b/c?d=1&e=2', 'javascript:', '](', '<b>', '</b>', '&amp;', '&#60;'), maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
);

describe('toTelegramHtml: properties', () => {
  it('is accepted by Telegram’s HTML parser and shows every word, in order', () => {
    fc.assert(
      fc.property(markdownish, (markdown) => {
        const html = toTelegramHtml(markdown);
        expect(containsInOrder(visible(html), words(markdown))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes every <, > and & of the text: only its own tags remain', () => {
    fc.assert(
      fc.property(markdownish, (markdown) => {
        const html = toTelegramHtml(markdown).replace(OWN_TAGS, '');
        expect(html).not.toMatch(/[<>]|&(?!(?:lt|gt|amp|quot);)/);
      }),
      { numRuns: 1000 },
    );
  });

  it('shows the same text as the plain fallback when there are no links or quotes', () => {
    fc.assert(
      fc.property(markdownish, (markdown) => {
        fc.pre(!markdown.includes('[') && !/^ {0,3}>/m.test(markdown));
        expect(visible(toTelegramHtml(markdown))).toBe(toTelegramPlain(markdown));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps every word in the plain fallback too', () => {
    fc.assert(
      fc.property(markdownish, (markdown) => {
        expect(containsInOrder(toTelegramPlain(markdown), words(markdown))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('renders every chunk of the shared splitter within the limit, never blank', () => {
    fc.assert(
      fc.property(fc.array(markdownish, { maxLength: 8 }).map((parts) => parts.join('\n')), fc.integer({ min: 16, max: 200 }),
        (markdown, limit) => {
          for (const chunk of splitMessage(markdown, limit)) {
            const shown = visible(toTelegramHtml(chunk));
            expect(shown.length).toBeLessThanOrEqual(limit);
            expect(shown.trim()).not.toBe('');
            expect(toTelegramPlain(chunk).length).toBeLessThanOrEqual(limit);
          }
        }),
      { numRuns: 1000 },
    );
  });
});
