/**
 * The Telegram adapter end to end: the real grammY bot (runner, auto-retry) against the loopback
 * fake Bot API, with the real core and the emulator behind it.
 */
import type { Update } from 'grammy/types';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TelegramAdapter, type TelegramAdapterDeps } from '../../adapters/telegram/telegram-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { COMMANDS } from '../../src/core/commands/registry.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { startFakeTelegram, type FakeTelegram, type SentMessage } from '../fakes/telegram-bot-api.js';

const ADMIN = { id: 1001, first_name: 'Ada', username: 'ada' };
const VISITOR = { id: 2002, first_name: 'Vic' };
const GROUP = { id: -100500, type: 'supergroup' as const, title: 'Shop chat' };
const FORUM = { id: -100600, type: 'supergroup' as const, title: 'Help desk', is_forum: true as const };
const logger = createLogger({ level: 'silent' });

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;
let sessions: SessionMap;
let bridge: Bridge;

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  store = await openStore('memory://');
  sessions = new SessionMap(store);
  bridge = new Bridge({ client, store, sessions, logger, userRateLimit: 0, typingDelayMs: 0 }); // typing at once: these tests check each platform's indicator
});

afterAll(async () => {
  await client.close();
  await store.close();
  await emulator.close();
});

function config(fake: FakeTelegram, extra: Partial<TelegramAdapterDeps['config']['telegram']> = {}): TelegramAdapterDeps['config'] {
  return {
    telegram: {
      token: fake.token,
      apiRoot: fake.apiRoot,
      adminIds: new Set([String(ADMIN.id)]),
      webhookUrl: undefined,
      webhookSecret: undefined,
      ...extra,
    },
  };
}

describe('long polling', () => {
  let fake: FakeTelegram;
  let adapter: TelegramAdapter;

  beforeAll(async () => {
    // Privacy mode off: the adapter itself must decide what to ignore in groups.
    fake = await startFakeTelegram({ privacyMode: false });
    adapter = new TelegramAdapter({ config: config(fake), logger, http: undefined });
    await adapter.start(bridge);
  });

  afterAll(async () => {
    await adapter.stop();
    await fake.close();
  });

  afterEach(() => {
    emulator.faults.clear();
    fake.clearRecords();
  });

  /** The next `n` answers in a chat (after what was already sent there). */
  async function answers(chatId: number, n = 1): Promise<SentMessage[]> {
    const before = fake.sentMessages.filter((m) => m.chat_id === chatId).length;
    return (await fake.waitForMessages(before + n, { chatId })).slice(before);
  }

  it('registers public commands for everyone and the full list for admins', async () => {
    await fake.waitFor(() => fake.commandsFor({ type: 'chat', chat_id: ADMIN.id }));
    const everyone = fake.commandsFor()!.map((c) => c.command);
    expect(everyone).toEqual(COMMANDS.filter((c) => !c.adminOnly).map((c) => c.name.replace(/-/g, '_')));
    expect(fake.commandsFor({ type: 'chat', chat_id: ADMIN.id })!.map((c) => c.command)).toContain('kb_add');
    expect(adapter.isHealthy()).toBe(true);
  });

  it('answers a private message in HTML, with typing, and without replying to it', async () => {
    fake.userSends({ from: VISITOR, text: 'What are your business hours?' });
    const [answer] = await answers(VISITOR.id);
    expect(answer!.parse_mode).toBe('HTML');
    expect(answer!.visibleText).toMatch(/\d/);
    expect(answer!.reply_to_message_id).toBeUndefined();
    expect(fake.chatActions.some((a) => a.chat_id === VISITOR.id && a.action === 'typing')).toBe(true);
    expect(await sessions.peek(`telegram:${VISITOR.id}`)).toMatch(/^tg-/);
  });

  it('answers the messages of one chat in the order they were sent', async () => {
    const chat = { id: 6161, type: 'private' as const };
    const from = { id: 6161, first_name: 'Quick' };
    emulator.faults.setLatency(10);
    const questions = [1, 2, 3, 4, 5, 6].map((n) => `question number ${n} about shipping`);
    for (const text of questions) fake.userSends({ from, chat, text });
    await answers(chat.id, questions.length);
    const history = await client.conversation((await sessions.peek('telegram:6161'))!);
    expect(history.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(questions);
  });

  it('/start greets and explains', async () => {
    fake.userSends({ from: VISITOR, text: '/start' });
    const [answer] = await answers(VISITOR.id);
    expect(answer!.visibleText).toMatch(/Ask me anything/);
    expect(answer!.visibleText).toContain('/ask');
  });

  it('in a group answers only mentions, replies to the bot and /ask, replying to the question', async () => {
    fake.userSends({ from: VISITOR, chat: GROUP, text: 'just chatting among ourselves' });
    const mention = fake.userSends({ from: VISITOR, chat: GROUP, text: `@${fake.botInfo.username} what are your business hours?` });
    const [first] = await answers(GROUP.id);
    expect(first!.reply_to_message_id).toBe(mention.message_id);
    // The mention is stripped before the question reaches the assistant.
    const sessionId = await sessions.peek(`telegram:${GROUP.id}:u${VISITOR.id}`);
    const history = await client.conversation(sessionId!);
    expect(history.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['what are your business hours?']);

    const reply = fake.userSends({ from: VISITOR, chat: GROUP, text: 'and where do you ship?', reply_to_message: first!.message });
    const [second] = await answers(GROUP.id);
    expect(second!.reply_to_message_id).toBe(reply.message_id);

    const ask = fake.userSends({ from: VISITOR, chat: GROUP, text: '/ask how do returns work?' });
    const [third] = await answers(GROUP.id);
    expect(third!.reply_to_message_id).toBe(ask.message_id);
    expect(fake.sentMessages.filter((m) => m.chat_id === GROUP.id)).toHaveLength(3);
  });

  it('ignores commands meant for another bot', async () => {
    fake.userSends({ from: VISITOR, chat: GROUP, text: '/help@some_other_bot' });
    const own = fake.userSends({ from: VISITOR, chat: GROUP, text: `/help@${fake.botInfo.username}` });
    const [answer] = await answers(GROUP.id);
    expect(answer!.reply_to_message_id).toBe(own.message_id);
    expect(fake.sentMessages.filter((m) => m.chat_id === GROUP.id)).toHaveLength(1);
  });

  it('answers in the same forum topic, one session per topic', async () => {
    fake.userSends({ from: VISITOR, chat: FORUM, message_thread_id: 7, text: `@${fake.botInfo.username} what are your business hours?` });
    const [inSeven] = await answers(FORUM.id);
    expect(inSeven!.message_thread_id).toBe(7);
    fake.userSends({ from: ADMIN, chat: FORUM, message_thread_id: 9, text: `@${fake.botInfo.username} how do returns work?` });
    const [inNine] = await answers(FORUM.id);
    expect(inNine!.message_thread_id).toBe(9);
    const seven = await sessions.peek(`telegram:${FORUM.id}:t7`);
    const nine = await sessions.peek(`telegram:${FORUM.id}:t9`);
    expect(seven).toBeDefined();
    expect(nine).toBeDefined();
    expect(seven).not.toBe(nine);
  });

  it('ignores bots, stickers, media without caption, service messages, edits and channel posts', async () => {
    const chat = { id: 4242, type: 'private' as const };
    const from = { id: 4242, first_name: 'Quiet' };
    fake.userSends({ from: { id: 777, first_name: 'Other bot', is_bot: true }, chat: GROUP, text: `@${fake.botInfo.username} hi` });
    fake.userSends({ from, chat, sticker: { emoji: '👍' } });
    fake.userSends({ from, chat, photo: { content: Buffer.from('jpeg') } });
    const original = fake.makeMessage({ from, chat, text: 'What are your business hours?' });
    fake.injectUpdate({ edited_message: { ...original, text: 'What about Sunday?', edit_date: original.date + 1 } as Update['edited_message'] });
    fake.injectUpdate({ channel_post: { message_id: 1, date: original.date, chat: { id: -100999, type: 'channel', title: 'News' }, text: 'Hello' } });
    const member = { ...from, is_bot: false };
    fake.injectUpdate({ message: { message_id: 99, date: original.date, chat: GROUP, from: member, new_chat_members: [member] } });
    fake.userSends({ from, chat, text: 'How do returns work?' });
    const [answer] = await answers(chat.id);
    expect(fake.sentMessages).toHaveLength(1);
    expect(answer!.chat_id).toBe(chat.id);
  });

  it('refuses admin commands to others and runs them for admins', async () => {
    fake.userSends({ from: VISITOR, text: '/kb_add Parking | Free parking behind the store.' });
    expect((await answers(VISITOR.id))[0]!.visibleText).toBe('/kb-add is only for admins of this bot.');
    fake.userSends({ from: ADMIN, text: '/kb_add Parking | Free parking behind the store for all customers.' });
    expect((await answers(ADMIN.id))[0]!.visibleText).toMatch(/^Added Parking \(id /);
    fake.userSends({ from: VISITOR, text: 'Where can I park?' });
    expect((await answers(VISITOR.id))[0]!.visibleText.toLowerCase()).toContain('parking behind the store');
  });

  it('/kb_add with title and content on separate lines', async () => {
    fake.userSends({ from: ADMIN, text: '/kb_add Gift wrap\nWe wrap gifts for free at the counter.' });
    expect((await answers(ADMIN.id))[0]!.visibleText).toMatch(/^Added Gift wrap/);
  });

  it('shows leads only in a private chat with an admin, with a CSV document', async () => {
    fake.userSends({ from: VISITOR, text: 'Please write to vic@example.com' });
    await answers(VISITOR.id);
    fake.userSends({ from: ADMIN, chat: GROUP, text: '/leads' });
    expect((await answers(GROUP.id))[0]!.visibleText).toMatch(/only answer it in a private chat/);
    fake.userSends({ from: ADMIN, text: '/leads' });
    expect((await answers(ADMIN.id))[0]!.visibleText).toContain('vic@example.com');
    const doc = await fake.waitFor(() => fake.documents.find((d) => d.chat_id === ADMIN.id));
    expect(doc.filename).toBe('leads.csv');
    expect(doc.bytes.toString()).toContain('vic@example.com');
    expect(fake.documents.filter((d) => d.chat_id === GROUP.id)).toEqual([]);
  });

  it('/kb_upload as a caption or as a reply to a document; wrong types refused', async () => {
    fake.userSends({ from: ADMIN, caption: '/kb_upload', document: { file_name: 'faq.csv', content: 'q,a\nDo you repair bikes?,Yes on Saturdays\n' } });
    expect((await answers(ADMIN.id))[0]!.visibleText).toMatch(/1 row processed, 1 chunk created/);
    expect(fake.downloads.length).toBeGreaterThan(0);

    const doc = fake.userSends({ from: ADMIN, document: { file_name: 'stock.csv', content: 'item,stock\nTent,4\nStove,9\n' } });
    fake.userSends({ from: ADMIN, text: '/kb_upload', reply_to_message: doc });
    expect((await answers(ADMIN.id))[0]!.visibleText).toMatch(/2 rows processed/);

    const downloads = fake.downloads.length;
    fake.userSends({ from: ADMIN, caption: '/kb_upload', document: { file_name: 'manual.pdf', content: '%PDF-1.4' } });
    expect((await answers(ADMIN.id))[0]!.visibleText).toMatch(/manual\.pdf is not a spreadsheet/);
    expect(fake.downloads.length).toBe(downloads);
  });

  it('splits long answers under 4,096 characters', async () => {
    const chat = { id: 5151, type: 'private' as const };
    const from = { id: 5151, first_name: 'Long' };
    for (let i = 0; i < 14; i++) fake.userSends({ from, chat, text: `Question ${i}: ${'tell me about shipping and returns please '.repeat(8)}` });
    await answers(chat.id, 14);
    fake.userSends({ from, chat, text: '/history 28' });
    // The thread is answered in order: once /help is answered, every chunk of /history is out.
    fake.userSends({ from, chat, text: '/help' });
    const chunks = await fake.waitFor(() => {
      const sent = fake.sentMessages.filter((m) => m.chat_id === chat.id).slice(14);
      return sent.at(-1)?.visibleText.startsWith('Ask me anything') ? sent.slice(0, -1) : undefined;
    });
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(fake.callsTo('sendMessage').every((c) => c.ok)).toBe(true);
    for (const chunk of chunks) expect(chunk.visibleText.length).toBeLessThanOrEqual(4096);
    const all = chunks.map((c) => c.visibleText).join('\n');
    expect(all).toContain('Question 0:');
    expect(all).toContain('Question 13:');
  });

  it('escapes hostile characters so Telegram accepts them', async () => {
    fake.userSends({ from: ADMIN, text: '/kb_add <b>Bold</b> & <script>x</script> | Hostile title test with <i>tags</i> & ampersands.' });
    const [answer] = await answers(ADMIN.id);
    expect(answer!.parse_mode).toBe('HTML');
    expect(answer!.visibleText).toContain('<b>Bold</b> & <script>x</script>');
  });

  it('falls back to plain text when Telegram still refuses the entities', async () => {
    fake.failNext('sendMessage', 1, { error_code: 400, description: "Bad Request: can't parse entities: unsupported start tag" });
    fake.userSends({ from: VISITOR, text: 'What are your business hours?' });
    const [answer] = await answers(VISITOR.id);
    expect(answer!.parse_mode).toBeUndefined();
    expect(answer!.visibleText).toMatch(/\d/);
  });

  it("retries Telegram's 429 and 5xx and still delivers", async () => {
    fake.failNext('sendMessage', 1, { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    fake.failNext('sendMessage', 1, { error_code: 502, description: 'Bad Gateway' });
    fake.userSends({ from: VISITOR, text: 'How do returns work?' });
    const [answer] = await answers(VISITOR.id);
    expect(answer!.visibleText.length).toBeGreaterThan(0);
    expect(fake.callsTo('sendMessage').filter((c) => c.injected)).toHaveLength(2);
  });

  it('tells the user when the assistant is down, and keeps running', async () => {
    emulator.faults.failNext(3, 503);
    fake.userSends({ from: VISITOR, text: 'What are your business hours?' });
    expect((await answers(VISITOR.id))[0]!.visibleText).toMatch(/not reachable right now/);
    fake.userSends({ from: VISITOR, text: 'What are your business hours?' });
    expect((await answers(VISITOR.id))[0]!.visibleText).toMatch(/\d/);
  });
});

describe('webhook mode', () => {
  let fake: FakeTelegram;
  let adapter: TelegramAdapter;
  let http: HttpServer;
  let port: number;
  const secret = 'test_secret-123';

  beforeAll(async () => {
    // Another bot: update ids are unique per bot, and the store is shared with the polling bot.
    fake = await startFakeTelegram({ token: '7000000002:AAH-webhook-bot-token' });
    http = new HttpServer(logger);
    port = await http.listen(0, '127.0.0.1');
    adapter = new TelegramAdapter({ config: config(fake, { webhookUrl: `http://127.0.0.1:${port}/telegram/hook`, webhookSecret: secret }), logger, http });
    await adapter.start(bridge);
  });

  afterAll(async () => {
    emulator.faults.clear();
    await adapter.stop();
    await http.close();
    await fake.close();
  });

  it('sets the webhook with the secret and answers updates it receives', async () => {
    const set = fake.callsTo('setWebhook')[0]!;
    expect(set.params).toMatchObject({ url: `http://127.0.0.1:${port}/telegram/hook`, secret_token: secret });
    fake.userSends({ from: VISITOR, text: 'What are your business hours?' });
    const [answer] = await fake.waitForMessages(1, { chatId: VISITOR.id });
    expect(answer!.visibleText).toMatch(/\d/);
    expect(fake.webhookDeliveries.every((d) => d.status === 200)).toBe(true);
  });

  it('acknowledges before the assistant has answered', async () => {
    emulator.faults.setLatency(1_500);
    const before = fake.sentMessages.length;
    const update = fake.injectUpdate({ message: fake.makeMessage({ from: ADMIN, text: 'How do returns work?' }) } as Omit<Update, 'update_id'>);
    // The emulator takes 1.5 s to answer; the webhook's 200 must not wait for it.
    await fake.waitFor(() => fake.webhookDeliveries.find((d) => d.update_id === update.update_id && d.status === 200));
    expect(fake.sentMessages.length).toBe(before);
    await fake.waitForMessages(before + 1);
    emulator.faults.setLatency(0);
  });

  it('refuses a request with a wrong or missing secret, handling nothing', async () => {
    const update = { update_id: 999_999, message: { message_id: 1, date: 0, chat: { id: 31337, type: 'private' }, from: { id: 31337, is_bot: false, first_name: 'Eve' }, text: 'hi' } };
    for (const headers of [{ 'x-telegram-bot-api-secret-token': 'wrong' }, {}]) {
      const res = await request(`http://127.0.0.1:${port}/telegram/hook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(update),
      });
      expect(res.statusCode).toBe(401);
      await res.body.dump();
    }
    const ok = await request(`http://127.0.0.1:${port}/telegram/hook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
      body: '{not json',
    });
    expect(ok.statusCode).toBe(400);
    await ok.body.dump();
    expect(fake.sentMessages.some((m) => m.chat_id === 31337)).toBe(false);
    expect(adapter.isHealthy()).toBe(true);
  });
});

describe('start-up', () => {
  it('a refused token stops start-up with one line naming the variable', async () => {
    const fake = await startFakeTelegram();
    const adapter = new TelegramAdapter({ config: config(fake, { token: '7000000001:wrong-token' }), logger, http: undefined });
    try {
      await expect(adapter.start(bridge)).rejects.toThrow('TELEGRAM_BOT_TOKEN: Telegram refused the token (401 Unauthorized)');
    } finally {
      await fake.close();
    }
  });
});
