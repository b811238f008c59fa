/**
 * Answers are never thrown away: an answer Telegram will not take (a flood wait longer than the
 * adapter waits) is kept in the store and delivered once Telegram takes messages again, in order,
 * exactly once, with one /chat/ call per question. Real grammY against the fake Bot API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelegramAdapter } from '../../adapters/telegram/telegram-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { Outbox } from '../../src/core/outbox.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';

const VISITOR = { id: 3003, first_name: 'Olga' };
const logger = createLogger({ level: 'silent' });
/** Longer than the adapter waits (auto-retry's 60 s cap), so the send fails. */
const LONG_FLOOD_WAIT = { error_code: 429, description: 'Too Many Requests: retry after 120', parameters: { retry_after: 120 } };

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;
let fake: FakeTelegram;
let adapter: TelegramAdapter;
let outbox: Outbox;

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
  store = await openStore('memory://');
  outbox = new Outbox({ store, logger, retryMs: 100, scanMs: 60_000 });
  const bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger, userRateLimit: 0, outbox });
  fake = await startFakeTelegram({ token: '7000000099:AAH-outbox-bot' });
  adapter = new TelegramAdapter({
    config: { telegram: { token: fake.token, apiRoot: fake.apiRoot, adminIds: new Set(), webhookUrl: undefined, webhookSecret: undefined } },
    logger,
    http: undefined,
  });
  outbox.attach(adapter);
  await adapter.start(bridge);
  outbox.start();
});

afterAll(async () => {
  await outbox.stop();
  await adapter.stop();
  await fake.close();
  await client.close();
  await store.close();
  await emulator.close();
});

const messagesUsed = async () => (await client.account()).messages_used;

describe('outbox', () => {
  it('keeps answers Telegram refuses with a long flood wait and delivers them later, in order, once each', async () => {
    const usedBefore = await messagesUsed();
    // The first answer and its first retry fail; the second answer waits behind the first.
    fake.failNext('sendMessage', 2, LONG_FLOOD_WAIT);
    fake.userSends({ from: VISITOR, text: 'What are your business hours?' });
    fake.userSends({ from: VISITOR, text: 'How do returns work?' });
    const delivered = await fake.waitForMessages(2, { chatId: VISITOR.id, timeoutMs: 10_000 });
    expect(fake.callsTo('sendMessage').filter((c) => c.injected)).toHaveLength(2);
    expect(delivered[0]!.visibleText).toMatch(/\d/); // the business hours
    expect(delivered[1]!.visibleText.toLowerCase()).toMatch(/return/);
    expect(delivered.map((m) => m.visibleText).join('\n')).not.toMatch(/went wrong/);
    // Paid once per question: a kept answer is not asked again.
    expect(await messagesUsed()).toBe(usedBefore + 2);
    await fake.waitFor(async () => (await store.keys('outbox:')).length === 0);
    // Nothing further arrives (no duplicate delivery).
    fake.userSends({ from: VISITOR, text: 'Where are you located?' });
    const all = await fake.waitForMessages(3, { chatId: VISITOR.id });
    expect(all).toHaveLength(3);
  });

  it('delivers answers kept before a restart, found by scanning the store', async () => {
    await store.set('outbox:telegram:3003|000000000000001-aaaa', {
      platform: 'telegram',
      threadKey: `telegram:${VISITOR.id}`,
      markdown: 'An answer **kept** before the restart.',
      keptAt: Date.now(),
    });
    const before = fake.sentMessages.filter((m) => m.chat_id === VISITOR.id).length;
    await outbox.flush(true);
    const [kept] = (await fake.waitForMessages(before + 1, { chatId: VISITOR.id })).slice(before);
    expect(kept!.visibleText).toBe('An answer kept before the restart.');
    expect(await store.keys('outbox:')).toEqual([]);
  });

  it('gives up an answer older than its maximum age', async () => {
    const shortLived = new Outbox({ store, logger, maxAgeMs: 1, retryMs: 60_000, scanMs: 60_000 });
    shortLived.attach(adapter);
    await store.set('outbox:telegram:3003|000000000000002-bbbb', { platform: 'telegram', threadKey: `telegram:${VISITOR.id}`, markdown: 'stale', keptAt: Date.now() - 1_000 });
    const before = fake.sentMessages.length;
    await shortLived.flush(true);
    expect(fake.sentMessages.length).toBe(before);
    expect(await store.keys('outbox:')).toEqual([]);
  });
});
