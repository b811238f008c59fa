/**
 * Telegram out of reach at start-up: every attempt is in the log with its reason and retried
 * (capped backoff) until Telegram answers; a refused token stops start-up at once. Through the
 * real grammY bot against the loopback fake of the Bot API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TelegramAdapter } from '../../adapters/telegram/telegram-adapter.js';
import type { BridgePort } from '../../src/core/index.js';
import { createLogger } from '../../src/log.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';

/** Start-up never reaches the core here: a port that answers nothing. */
const idleBridge: BridgePort = {
  decide: () => ({ kind: 'ignore' }),
  handle: () => Promise.resolve(),
  complete: () => Promise.resolve([]),
  followsThread: () => Promise.resolve(false),
};

let fake: FakeTelegram | undefined;
let adapter: TelegramAdapter | undefined;
afterEach(async () => {
  await adapter?.stop();
  await fake?.close();
});

function setUp(fakeTelegram: FakeTelegram, token = fakeTelegram.token) {
  const lines: Array<Record<string, unknown>> = [];
  // As main configures it: the token is a known secret.
  const logger = createLogger({ level: 'warn', secrets: [token], destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const telegram = { token, apiRoot: fakeTelegram.apiRoot, adminIds: new Set<string>(), webhookUrl: undefined, webhookSecret: undefined };
  adapter = new TelegramAdapter({ config: { telegram }, logger, http: undefined, connectRetry: { firstDelayMs: 5, maxDelayMs: 20 } });
  return { adapter, lines };
}

describe('Telegram start-up', () => {
  it('logs every failed attempt with its reason and starts once Telegram answers', async () => {
    fake = await startFakeTelegram();
    fake.failNext('getMe', 3, 'disconnect');
    const { adapter, lines } = setUp(fake);
    await adapter.start(idleBridge);
    expect(adapter.isHealthy()).toBe(true);
    const retries = lines.filter((l) => l['msg'] === 'cannot reach Telegram at start-up; retrying');
    expect(retries).toHaveLength(3);
    expect(retries.map((l) => l['retryInSeconds'])).toEqual([0.005, 0.01, 0.02]);
    for (const line of retries) expect(line['reason']).toBe('network error (ECONNRESET)');
    // The token is in every request URL; it never reaches the log.
    expect(JSON.stringify(lines)).not.toContain(fake.token.split(':')[1]);
  });

  it('stops start-up with one line when Telegram refuses the token', async () => {
    fake = await startFakeTelegram();
    const { adapter } = setUp(fake, '123:not-the-token');
    await expect(adapter.start(idleBridge)).rejects.toThrow('TELEGRAM_BOT_TOKEN: Telegram refused the token (401 Unauthorized)');
  });
});
