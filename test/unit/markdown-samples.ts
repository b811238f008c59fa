/**
 * Shared inputs and checks for the renderer tests: random and hostile model-written markdown, the
 * words a reader must find in a rendering, and typical answers for the golden tests.
 */
import { availableParallelism, loadavg } from 'node:os';
import fc from 'fast-check';

/** Pieces of markdown chosen to break renderers: unbalanced markers, HTML, mentions, odd Unicode. */
const HOSTILE_PIECES = [
  '*', '**', '***', '_', '__', '~', '~~', '`', '``', '```', '\n```js\n', '\n```\n', '\n~~~\n', '[', ']', '(', ')', '](',
  '<', '>', '&', '&amp;', '&lt;', '&#60;', '&#x3C;', '#', '# ', '\n# ', '\n> ', '\n>> ', '\n- ', '\n  - ', '\n1. ', '\n- [x] ',
  '\n| a | b |\n|---|--:|\n| c | d |\n', '\n---\n', '\\', '\\*', '\n', '\n\n', ' ', '    ', '\t', '  \n',
  '<b>', '</b>', '<i>x</i>', '<script>alert(1)</script>', '<a href="https://evil.example">x</a>', '<!-- c -->',
  '<!channel>', '<!here>', '<!everyone>', '<@U123ABC>', '<#C123|general>', '<https://x.io|click>', '@everyone', '@here',
  '<@123456789>', '<@!123>', '<@&987654>', '<#555>', '<t:0:R>', '||spoiler||', ':smile:',
  '[x](javascript:alert(1))', '[ok](https://example.com/a_b?c=1&d=2)', '[m](mailto:a@b.co)', '![img](https://x.io/p.png)',
  'https://x.io/a_b*c', 'www.example.com', 'a@b.co', 'tg://resolve?domain=a',
  '\u202E', '\u200F', '\u200B', '\u0000', '\u0007', '\u001B[31m', '\u001B]8;;https://evil\u0007', '\u0085', '\u2028', '\r\n',
  '😀', '👨‍👩‍👧', '🇫🇷', 'e\u0301', '\uD800', '\uDC00',
  'word', 'answer', 'Ünïcödé', 'مرحبا', 'שלום', '日本語', 'snake_case_name', '2 * 3 * 4', 'a|b',
];

/** Random hostile markdown of up to `maxPieces` pieces, mixing the pieces above with random strings. */
export function hostileMarkdown(maxPieces = 60): fc.Arbitrary<string> {
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_PIECES) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('*', '_', '~', '`', ' ', 'a', '\n', '<', '@'), maxLength: 20 }) },
  );
  return fc.array(piece, { maxLength: maxPieces }).map((pieces) => pieces.join(''));
}

/** A big input, reported by its start and length when a property fails (not 100 kB of it). */
export interface BigInput {
  markdown: string;
}

/** Hostile inputs of about `size` characters: repeated random hostile text, and known worst cases. */
export function bigHostileMarkdown(size: number): fc.Arbitrary<BigInput> {
  return bigHostileText(size).map((markdown) => ({
    markdown,
    [fc.toStringMethod]: () => `${markdown.length} characters: ${JSON.stringify(markdown.slice(0, 120))}…`,
  }));
}

function bigHostileText(size: number): fc.Arbitrary<string> {
  const repeated = hostileMarkdown(40).filter((s) => s.length > 0).map((s) => s.repeat(Math.ceil(size / s.length)).slice(0, size));
  const half = Math.floor(size / 2);
  return fc.oneof(
    repeated,
    fc.constantFrom(
      `${'*'.repeat(half)}x${'*'.repeat(half)}`,
      `${'*a '.repeat(Math.floor(size / 6))}x${' b*'.repeat(Math.floor(size / 6))}`,
      `${'`'.repeat(half)}code${'`'.repeat(half - 1)}`,
      '**a** '.repeat(Math.floor(size / 6)),
      '[a](b'.repeat(Math.floor(size / 5)),
      '> '.repeat(half),
      Array.from({ length: Math.floor(size / 40) }, (_, i) => `${' '.repeat((i % 20) * 2)}- item`).join('\n'),
      `| a | b |\n|---|---|\n${'| cell | cell |\n'.repeat(Math.floor(size / 16))}`,
      'x'.repeat(size),
      `a${'\u0301'.repeat(size)}`,
      '<@123> @everyone '.repeat(Math.floor(size / 17)),
    ),
  );
}

/**
 * The words of the input a reader must find, in order: letters and digits, leaving out what is
 * rightly not shown as text (fence info strings, link destinations, task checkboxes).
 */
export function wordsOf(markdown: string): string[] {
  const text = markdown
    .replace(/^[ \t>*+\-\d.]*(?:`{3,}|~{3,}).*$/gm, '')
    .replace(/\]\((?:[^()]|\([^()]*\))*\)?/g, '] ')
    .replace(/\[[ xX]\]/g, ' ');
  return text.match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Every expected word appears in `shown`, in order (`shown` may hold more). */
export function containsInOrder(shown: string, expected: string[]): boolean {
  let at = 0;
  for (const word of expected) {
    const found = shown.indexOf(word, at);
    if (found < 0) return false;
    at = found + word.length;
  }
  return true;
}

/** Time allowed to a property test of a few hundred runs on a busy two-core machine. */
export const PROPERTY_TIMEOUT = 120_000;

/**
 * The time bound of the 100 kB properties: 1 s on a machine to itself, stretched by how many
 * runnable processes share each core (the one-minute load average). It is there to catch work
 * that grows faster than the input (the old splitter spent 14.7 s on a 10 kB answer of
 * backticks; anything quadratic takes minutes at 100 kB), not to hold a speed: speed is measured
 * by `npm run bench` (render + split of a typical answer, per platform), never asserted here.
 * Measured on hostile 100 kB inputs: most shapes take a few ms, the worst (50,000 empty list
 * items through the Discord renderer) about 0.1 s on a quiet machine.
 */
export function hostileTimeBound(): number {
  return 1_000 * Math.max(1, (loadavg()[0] ?? 0) / availableParallelism());
}

/** Milliseconds of the fastest of `runs` calls of `work`. */
export function fastestOf(runs: number, work: () => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    work();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

/** The output count bound every splitter must keep. */
export const maxChunks = (renderedLength: number, limit: number): number => 2 * Math.ceil(renderedLength / limit) + 1;

/** Typical answers for the golden tests, one construct (or a mix) each. */
export const TYPICAL = {
  paragraphs: 'Thanks for asking! We are open **9am–6pm** on weekdays.\n\nOn Saturdays we close at *2pm*.',
  bullets: 'You can pay with:\n- card\n- PayPal\n- bank transfer',
  ordered: 'To reset your password:\n\n1. Open **Settings**\n2. Press *Reset*\n3. Check your inbox',
  nested: '- Shipping\n  - Domestic: 2 days\n  - Abroad: 5 days\n- Returns',
  table: '| Plan | Price |\n|:-----|------:|\n| Basic | $5 |\n| Pro | $20 |',
  code: 'Run this:\n\n```bash\ncurl -s https://api.example.com/v1/status\n```',
  inlineCode: 'Use the code `WELCOME10` at checkout.',
  link: 'See our [returns page](https://example.com/returns) or https://example.com/help.',
  quote: '> Free shipping on orders over $50.\n\nThat applies to all regions.',
  headings: '# Opening hours\n\nMonday to Friday.\n\n## Holidays\n\nClosed on public holidays.',
  tasks: '- [x] Order placed\n- [ ] Shipped',
  mixed: '## Order help\n\nYour order `#1234` is **on its way** ~~delayed~~.\n\n> Tracking: [here](https://t.example.com/1234)',
} as const;
