import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DISCORD_CONTENT_LIMIT, discordChunks } from '../../adapters/discord/discord-markdown.js';
import { PROPERTY_TIMEOUT, bigHostileMarkdown, containsInOrder, fastestOf, hostileTimeBound, hostileMarkdown, maxChunks, TYPICAL, wordsOf } from './markdown-samples.js';

const Z = '\u200B';

/** The one message a fitting answer becomes. */
function content(markdown: string): string {
  const chunks = discordChunks(markdown);
  expect(chunks).toHaveLength(1);
  return chunks[0] ?? '';
}

/** Links the renderer writes: `[text](<https://…>)` and `<https://…>`. */
const OWN_LINKS = /\]\(<https?:\/\/[^<>\s]+>\)|<https?:\/\/[^<>\s]+>/g;

/** Roughly what Discord shows: links as their text, backslash escapes and zero-width spaces gone. */
const shown = (text: string): string =>
  text.replace(/\[([^\]]*)\]\(<[^>]*>\)/g, '$1').replace(/<(https?:\/\/[^>]*)>/g, '$1').replace(/\\([^\w\s])/g, '$1').replaceAll(Z, '');

const renderedLength = (markdown: string): number => discordChunks(markdown, Number.MAX_SAFE_INTEGER)[0]?.length ?? 0;

/** Whether Discord could read a mention (user, role, channel, everyone/here) in the content. */
const pings = (text: string): boolean => /@(?:everyone|here)|<@[!&]?\d+>|<#\d+>/i.test(text.replace(OWN_LINKS, ''));

describe('discordChunks: golden answers', () => {
  it.each(Object.entries({
    paragraphs: 'Thanks for asking! We are open **9am–6pm** on weekdays.\n\nOn Saturdays we close at *2pm*.',
    bullets: 'You can pay with:\n• card\n• PayPal\n• bank transfer',
    ordered: 'To reset your password:\n\n1\\. Open **Settings**\n2\\. Press *Reset*\n3\\. Check your inbox',
    nested: '• Shipping\n  • Domestic: 2 days\n  • Abroad: 5 days\n• Returns',
    table: '```\nPlan   Price\n─────  ─────\nBasic     $5\nPro      $20\n```',
    code: 'Run this:\n\n```bash\ncurl -s https://api.example.com/v1/status\n```',
    inlineCode: 'Use the code `WELCOME10` at checkout.',
    link: 'See our [returns page](<https://example.com/returns>) or <https://example.com/help>.',
    quote: '> Free shipping on orders over $50.\n\nThat applies to all regions.',
    headings: '**Opening hours**\n\nMonday to Friday.\n\n**Holidays**\n\nClosed on public holidays.',
    tasks: '• ☑ Order placed\n• ☐ Shipped',
    mixed: '**Order help**\n\nYour order `#1234` is **on its way** ~~delayed~~.\n\n> Tracking: [here](<https://t.example.com/1234>)',
  }))('%s', (name, expected) => {
    expect(content(TYPICAL[name as keyof typeof TYPICAL])).toBe(expected);
  });
});

describe('discordChunks: escaping and mentions', () => {
  it.each([
    ['@everyone and @here', `@${Z}everyone and @${Z}here`],
    ['<@123456> <@!1> <@&987> <#555>', `<${Z}@123456\\> <${Z}@!1\\> <${Z}@&987\\> <${Z}\\#555\\>`],
    ['`@everyone <@1>` in code', `\`@${Z}everyone <${Z}@1>\` in code`],
    ['```\n@here <@&2>\n```', `\`\`\`\n@${Z}here <${Z}@&2>\n\`\`\``],
    ['\\*literal\\* and snake_case and ||spoiler||', '\\*literal\\* and snake\\_case and \\|\\|spoiler\\|\\|'],
    ['\\# not a heading', '\\# not a heading'],
    ['\\- not a list', '\\- not a list'],
    ['[x](javascript:alert(1))', 'x (javascript:alert(1))'],
    ['[a](https://x.io/a_(b)) c', '[a](<https://x.io/a_%28b%29>) c'],
    ['``a`b``', '`` a`b ``'],
    ['```\nx ``` y\n```', `\`\`\`\nx \`\`${Z}\` y\n\`\`\``],
    ['<script>', `<${Z}script\\>`],
  ])('%j → %j', (markdown, expected) => {
    expect(content(markdown)).toBe(expected);
  });
});

describe('discordChunks: properties', () => {
  it('keeps every chunk within the limit and every word in order, pinging nobody, linking only http(s)', () => {
    fc.assert(
      fc.property(hostileMarkdown(), fc.integer({ min: 40, max: 400 }), (markdown, limit) => {
        const chunks = discordChunks(markdown, limit);
        for (const chunk of chunks) {
          expect(chunk.length).toBeLessThanOrEqual(limit);
          expect(chunk.trim()).not.toBe('');
          expect(pings(chunk)).toBe(false);
          // No masked link but the renderer's own, which only takes http(s).
          const prose = chunk.replace(/```[^]*?```/g, '').replace(/``? [^]*? ``?|`[^`\n]*`/g, '');
          expect(prose.replace(OWN_LINKS, '')).not.toMatch(/(?<!\\)\]\(/);
        }
        expect(containsInOrder(shown(chunks.join('')), wordsOf(markdown))).toBe(true);
        expect(chunks.length).toBeLessThanOrEqual(maxChunks(renderedLength(markdown), limit));
      }),
      { numRuns: 250, seed: 2000 },
    );
  }, PROPERTY_TIMEOUT);

  it('splits the 5,000-backtick answer into about ten messages', () => {
    const answer = `${'`'.repeat(5000)}code${'`'.repeat(4999)}`;
    const chunks = discordChunks(answer);
    // Every backtick is escaped (two characters), so about 20,000 characters: 10 or 11 messages.
    expect(chunks.length).toBeLessThanOrEqual(11);
    expect(chunks.length).toBeLessThanOrEqual(maxChunks(renderedLength(answer), DISCORD_CONTENT_LIMIT));
    expect(shown(chunks.join(''))).toBe(answer);
  });

  it('renders and splits 100 kB of hostile input within 1 s (scaled by the machine’s load), within the limit and the count bound', () => {
    // Timed once compiled: the first calls of a process run unoptimised code.
    for (let i = 0; i < 3; i++) discordChunks(`${TYPICAL.mixed}\n\n${'word '.repeat(20_000)}`);
    fc.assert(
      fc.property(bigHostileMarkdown(100_000), ({ markdown }) => {
        const chunks = discordChunks(markdown);
        // The fastest of three runs: a shared machine may pause any single run.
        const elapsed = fastestOf(3, () => discordChunks(markdown));
        expect(elapsed).toBeLessThanOrEqual(hostileTimeBound());
        for (const chunk of chunks) {
          expect(chunk.length).toBeLessThanOrEqual(DISCORD_CONTENT_LIMIT);
          expect(pings(chunk)).toBe(false);
        }
        expect(chunks.length).toBeLessThanOrEqual(maxChunks(renderedLength(markdown), DISCORD_CONTENT_LIMIT));
      }),
      { numRuns: 12, seed: 102 },
    );
  }, PROPERTY_TIMEOUT);
});
