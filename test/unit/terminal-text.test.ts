import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderTerminal } from '../../adapters/shell/terminal-text.js';
import { PROPERTY_TIMEOUT, bigHostileMarkdown, containsInOrder, fastestOf, hostileTimeBound, hostileMarkdown, TYPICAL, wordsOf } from './markdown-samples.js';

const plain = (markdown: string): string => renderTerminal(markdown, { ansi: false });
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001B\[(?:1|22|4|24)m/g;

describe('renderTerminal: golden answers (through a pipe)', () => {
  it.each(Object.entries({
    paragraphs: 'Thanks for asking! We are open 9am–6pm on weekdays.\n\nOn Saturdays we close at 2pm.',
    bullets: 'You can pay with:\n• card\n• PayPal\n• bank transfer',
    ordered: 'To reset your password:\n\n1. Open Settings\n2. Press Reset\n3. Check your inbox',
    nested: '• Shipping\n  • Domestic: 2 days\n  • Abroad: 5 days\n• Returns',
    table: '    Plan   Price\n    ─────  ─────\n    Basic     $5\n    Pro      $20',
    code: 'Run this:\n\n    curl -s https://api.example.com/v1/status',
    inlineCode: 'Use the code WELCOME10 at checkout.',
    link: 'See our returns page (https://example.com/returns) or https://example.com/help.',
    quote: '│ Free shipping on orders over $50.\n\nThat applies to all regions.',
    headings: 'Opening hours\n\nMonday to Friday.\n\nHolidays\n\nClosed on public holidays.',
    tasks: '• ☑ Order placed\n• ☐ Shipped',
    mixed: 'Order help\n\nYour order #1234 is on its way delayed.\n\n│ Tracking: here (https://t.example.com/1234)',
  }))('%s', (name, expected) => {
    expect(plain(TYPICAL[name as keyof typeof TYPICAL])).toBe(expected);
  });
});

describe('renderTerminal: on a terminal', () => {
  it('writes bold and underline as ANSI escapes', () => {
    expect(renderTerminal('# Title\n\n**bold** and *em*', { ansi: true })).toBe(
      '\u001B[1mTitle\u001B[22m\n\n\u001B[1mbold\u001B[22m and \u001B[4mem\u001B[24m',
    );
  });

  it('wraps prose at word boundaries, escapes not counted, code never', () => {
    const text = renderTerminal('**one** two three four five six\n\n```\na long line of code that is not wrapped\n```', { ansi: true, width: 20 });
    expect(text).toBe('\u001B[1mone\u001B[22m two three four\nfive six\n\n    a long line of code that is not wrapped');
  });

  it('keeps wrapped list items and quotes within the width', () => {
    const text = renderTerminal(`- ${'word '.repeat(12)}\n\n> ${'quoted '.repeat(8)}`, { ansi: false, width: 24 });
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(24);
  });

  it('shows the answer’s own control characters as U+FFFD', () => {
    expect(plain('red \u001B[31mtext\u0007 and `\u001B]8;;x\u0007`')).toBe('red \uFFFD[31mtext\uFFFD and \uFFFD]8;;x\uFFFD');
  });
});

describe('renderTerminal: properties', () => {
  it('writes no escape but its own, and every word in order', () => {
    fc.assert(
      fc.property(hostileMarkdown(), fc.boolean(), fc.option(fc.integer({ min: 20, max: 120 }), { nil: undefined }), (markdown, ansi, width) => {
        const text = renderTerminal(markdown, { ansi, ...(width ? { width } : {}) });
        // eslint-disable-next-line no-control-regex
        expect(text.replace(ESCAPES, '')).not.toMatch(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/);
        if (!ansi) expect(text).not.toMatch(ESCAPES);
        expect(containsInOrder(text.replace(ESCAPES, ''), wordsOf(markdown))).toBe(true);
      }),
      { numRuns: 250, seed: 80 },
    );
  }, PROPERTY_TIMEOUT);

  it('renders 100 kB of hostile input within 1 s (scaled by the machine’s load)', () => {
    // Timed once compiled: the first calls of a process run unoptimised code.
    for (let i = 0; i < 3; i++) renderTerminal(`${TYPICAL.mixed}\n\n${'word '.repeat(20_000)}`, { ansi: true, width: 80 });
    fc.assert(
      fc.property(bigHostileMarkdown(100_000), ({ markdown }) => {
        // The fastest of three runs: a shared machine may pause any single run.
        expect(fastestOf(3, () => renderTerminal(markdown, { ansi: true, width: 80 }))).toBeLessThanOrEqual(hostileTimeBound());
      }),
      { numRuns: 12, seed: 103 },
    );
  }, PROPERTY_TIMEOUT);
});
