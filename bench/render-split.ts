/**
 * `npx tsx bench/render-split.ts`: what rendering and splitting one typical answer (about 4,000
 * characters of markdown: headings, lists, a table, code, links, a quote) costs per platform,
 * parse included, as the median of many runs after a warm-up. The target is at most 1 ms each.
 *
 * The parser is marked's lexer because micromark + GFM measured about 8 ms for 3.6 kB and marked's
 * lexer about 0.3 ms; the first row shows the lexer alone for comparison.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lexer } from 'marked';
import { Bench } from 'tinybench';
import { discordChunks } from '../adapters/discord/discord-markdown.js';
import { renderTerminal } from '../adapters/shell/terminal-text.js';
import { SLACK_SECTION_LIMIT, slackChunks } from '../adapters/slack/slack-mrkdwn.js';
import { telegramChunks } from '../adapters/telegram/telegram-html.js';

const answer = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'typical-answer.md'), 'utf8');

const bench = new Bench({ time: 2000, warmup: true, warmupTime: 500 });
bench
  .add('marked lexer alone (GFM)', () => new Lexer({ gfm: true }).lex(answer))
  .add('Telegram (HTML + plain, 4,096)', () => telegramChunks(answer))
  .add('Discord (2,000)', () => discordChunks(answer))
  .add('Slack (40,000)', () => slackChunks(answer))
  .add('Slack sections (3,000)', () => slackChunks(answer, SLACK_SECTION_LIMIT))
  .add('terminal (ANSI, 80 columns)', () => renderTerminal(answer, { ansi: true, width: 80 }));

await bench.run();

console.log(`typical answer: ${answer.length} characters`);
for (const task of bench.tasks) {
  const result = task.result;
  if (result.state !== 'completed') {
    console.log(`${task.name.padEnd(34)} ${result.state}`);
    continue;
  }
  const chunks = task.name.startsWith('Telegram') ? telegramChunks(answer).length
    : task.name.startsWith('Discord') ? discordChunks(answer).length
      : task.name.startsWith('Slack sections') ? slackChunks(answer, SLACK_SECTION_LIMIT).length
        : task.name.startsWith('Slack') ? slackChunks(answer).length : 1;
  console.log(`${task.name.padEnd(34)} median ${result.latency.p50.toFixed(3)} ms  p99 ${result.latency.p99.toFixed(3)} ms  ${chunks} message(s)`);
}
