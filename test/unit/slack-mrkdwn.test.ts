import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SLACK_SECTION_LIMIT, SLACK_TEXT_LIMIT, slackChunks } from '../../adapters/slack/slack-mrkdwn.js';
import { wellFormed } from '../../src/format/parse.js';
import { PROPERTY_TIMEOUT, bigHostileMarkdown, containsInOrder, fastestOf, hostileTimeBound, hostileMarkdown, maxChunks, TYPICAL, wordsOf } from './markdown-samples.js';

const Z = '\u200B';

/** The one message a fitting answer becomes. */
function mrkdwn(markdown: string): string {
  const chunks = slackChunks(markdown);
  expect(chunks).toHaveLength(1);
  return chunks[0] ?? '';
}

/** Links the renderer writes: `<http(s)://…|text>`, `<http(s)://…>`, `<mailto:…>`. */
const OWN_LINKS = /<(?:https?:\/\/|mailto:)[^<>|\s]+(?:\|[^<>]*)?>/g;

/** Roughly what Slack shows: links as their text, entities decoded, zero-width spaces gone. */
const shown = (mrkdwn: string): string =>
  mrkdwn
    .replace(/<([^|>]+)\|([^>]*)>/g, '$2')
    .replace(/<(?:mailto:)?([^>]+)>/g, '$1')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
    .replaceAll(Z, '');

const renderedLength = (markdown: string): number => slackChunks(markdown, Number.MAX_SAFE_INTEGER)[0]?.length ?? 0;

describe('slackChunks: golden answers', () => {
  it.each(Object.entries({
    paragraphs: 'Thanks for asking! We are open *9am–6pm* on weekdays.\n\nOn Saturdays we close at _2pm_.',
    bullets: 'You can pay with:\n• card\n• PayPal\n• bank transfer',
    ordered: 'To reset your password:\n\n1. Open *Settings*\n2. Press _Reset_\n3. Check your inbox',
    nested: '• Shipping\n  • Domestic: 2 days\n  • Abroad: 5 days\n• Returns',
    table: '```\nPlan   Price\n─────  ─────\nBasic     $5\nPro      $20\n```',
    code: 'Run this:\n\n```\ncurl -s https://api.example.com/v1/status\n```',
    inlineCode: 'Use the code `WELCOME10` at checkout.',
    link: 'See our <https://example.com/returns|returns page> or <https://example.com/help>.',
    quote: '> Free shipping on orders over $50.\n\nThat applies to all regions.',
    headings: '*Opening hours*\n\nMonday to Friday.\n\n*Holidays*\n\nClosed on public holidays.',
    tasks: '• ☑ Order placed\n• ☐ Shipped',
    mixed: '*Order help*\n\nYour order `#1234` is *on its way* ~delayed~.\n\n> Tracking: <https://t.example.com/1234|here>',
  }))('%s', (name, expected) => {
    expect(mrkdwn(TYPICAL[name as keyof typeof TYPICAL])).toBe(expected);
  });
});

describe('slackChunks: escaping', () => {
  it.each([
    ['<!channel> and <!here>', '&lt;!channel&gt; and &lt;!here&gt;'],
    ['ping <@U123ABC> in <#C123|general>', 'ping &lt;@U123ABC&gt; in &lt;#C123|general&gt;'],
    ['a & b > c < d', 'a &amp; b &gt; c &lt; d'],
    ['&amp; stays literal', '&amp;amp; stays literal'],
    // Slack's own link syntax in the model's text is not a URL (a "|" in the host): text only.
    ['<https://x.io|click>', 'https://x.io|click'],
    ['[x](javascript:alert(1))', 'x (javascript:alert(1))'],
    ['[write](mailto:help@example.com)', '<mailto:help@example.com|write>'],
    ['[a|b](https://x.io/?q=a|b)', '<https://x.io/?q=a%7Cb|a¦b>'],
    ['\\*not bold\\* and snake_case', `*${Z}not bold*${Z} and snake_case`],
    ['2 * 3 * 4', `2 *${Z} 3 *${Z} 4`],
    ['`a`b`', `\`a\`b\`${Z}`],
    ['```\nend ``` inside\n```', `\`\`\`\nend \`\`${Z}\` inside\n\`\`\``],
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
  ])('%j → %j', (markdown, expected) => {
    expect(mrkdwn(markdown)).toBe(expected);
  });
});

describe('slackChunks: properties', () => {
  it('keeps every chunk within the limit, every word in order, and forms no mention, channel link or link the model did not write', () => {
    fc.assert(
      fc.property(hostileMarkdown(), fc.integer({ min: 40, max: 400 }), (markdown, limit) => {
        const chunks = slackChunks(markdown, limit);
        for (const chunk of chunks) {
          expect(chunk.length).toBeLessThanOrEqual(limit);
          expect(chunk.trim()).not.toBe('');
          // Outside the links written as links, no angle bracket is left for Slack to read.
          expect(chunk.replace(OWN_LINKS, '').replace(/^(?:> )+/gm, '')).not.toMatch(/[<>]/);
          for (const link of chunk.match(OWN_LINKS) ?? []) expect(link).not.toMatch(/^<[!@#]/);
        }
        expect(containsInOrder(shown(chunks.join('')), wordsOf(markdown))).toBe(true);
        expect(chunks.length).toBeLessThanOrEqual(maxChunks(renderedLength(markdown), limit));
      }),
      { numRuns: 250, seed: 40_000 },
    );
  }, PROPERTY_TIMEOUT);

  it('writes a link only where the model wrote one', () => {
    fc.assert(
      fc.property(hostileMarkdown(), (markdown) => {
        const links = slackChunks(markdown).join('\n').match(OWN_LINKS) ?? [];
        // Every link comes from a destination in the input (bare URLs and [text](url) alike).
        for (const link of links) {
          const href = (/^<([^|>]+)/.exec(link)?.[1] ?? '').replace(/%7C/g, '|').replace(/&amp;/g, '&');
          // GFM links a bare www. address as http://www.…
          expect(wellFormed(markdown).replace(/\\/g, '')).toContain(href.replace(/^mailto:|^http:\/\/(?=www\.)/, ''));
        }
      }),
      { numRuns: 300, seed: 41 },
    );
  }, PROPERTY_TIMEOUT);

  it('holds at the section-block limit', () => {
    const answer = `${TYPICAL.mixed}\n\n${'A sentence of the answer. '.repeat(400)}`;
    const chunks = slackChunks(answer, SLACK_SECTION_LIMIT);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(SLACK_SECTION_LIMIT);
  });

  it('renders and splits 100 kB of hostile input within 1 s (scaled by the machine’s load), within the limit and the count bound', () => {
    // Timed once compiled: the first calls of a process run unoptimised code.
    for (let i = 0; i < 3; i++) slackChunks(`${TYPICAL.mixed}\n\n${'word '.repeat(20_000)}`);
    fc.assert(
      fc.property(bigHostileMarkdown(100_000), ({ markdown }) => {
        const chunks = slackChunks(markdown);
        // The fastest of three runs: a shared machine may pause any single run.
        const elapsed = fastestOf(3, () => slackChunks(markdown));
        expect(elapsed).toBeLessThanOrEqual(hostileTimeBound());
        for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(SLACK_TEXT_LIMIT);
        expect(chunks.length).toBeLessThanOrEqual(maxChunks(renderedLength(markdown), SLACK_TEXT_LIMIT));
      }),
      { numRuns: 12, seed: 101 },
    );
  }, PROPERTY_TIMEOUT);
});
