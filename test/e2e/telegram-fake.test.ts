// The Telegram fake driven through real grammY: proves it answers like the Bot API for what the
// bridge uses, so the adapter's end-to-end tests can trust it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { autoRetry } from '@grammyjs/auto-retry';
import { Bot, GrammyError, HttpError, InputFile, webhookCallback } from 'grammy';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseTelegramHtml, startFakeTelegram, type FakeTelegram, type FakeTelegramOptions,
} from '../fakes/telegram-bot-api.js';

const alice = { id: 1001, first_name: 'Alice', username: 'alice' };
const group = { id: -1001234567890, type: 'supergroup' as const, title: 'Support' };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Bots first: bot.stop() confirms its offset through the fake.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options?: FakeTelegramOptions): Promise<{ fake: FakeTelegram; bot: Bot }> {
  const fake = await startFakeTelegram(options);
  cleanups.push(() => fake.close());
  return { fake, bot: newBot(fake) };
}

function newBot(fake: FakeTelegram, token = fake.token): Bot {
  const bot = new Bot(token, { client: { apiRoot: fake.apiRoot } });
  cleanups.push(async () => {
    if (bot.isRunning()) await bot.stop();
  });
  return bot;
}

/** Starts long polling; resolves once started, and hands back the promise `bot.start()` returned. */
async function startPolling(bot: Bot): Promise<{ running: Promise<void> }> {
  let running: Promise<void> | undefined;
  await new Promise<void>((resolve, reject) => {
    running = bot.start({ drop_pending_updates: false, onStart: () => resolve() });
    running.catch(reject);
  });
  return { running: running ?? Promise.resolve() };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}

async function apiError(call: Promise<unknown>): Promise<GrammyError> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(GrammyError);
  return error as GrammyError;
}

describe('fake Telegram Bot API through grammY', () => {
  it('answers getMe, refuses a wrong token and unknown methods like Telegram', async () => {
    const { fake, bot } = await setup({ botUsername: 'helpdesk_bot' });
    await bot.init();
    expect(bot.botInfo).toMatchObject({ is_bot: true, username: 'helpdesk_bot', can_join_groups: true,
      can_read_all_group_messages: false, supports_inline_queries: false });

    const wrong = await apiError(newBot(fake, '1:wrong').api.getMe());
    expect(wrong).toMatchObject({ error_code: 401, description: 'Unauthorized' });

    const res = await fetch(`${fake.apiRoot}/bot${fake.token}/notAMethod`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ ok: false, error_code: 404, description: 'Not Found' });
  });

  it('delivers a private message to a long-polling bot and records its reply', async () => {
    const { fake, bot } = await setup();
    bot.on('message:text', (ctx) =>
      ctx.reply(`echo: ${ctx.msg.text}`, { reply_parameters: { message_id: ctx.msg.message_id } }));
    await startPolling(bot);

    const incoming = fake.userSends({ from: alice, text: 'hello' });
    const [sent] = await fake.waitForMessages(1);
    expect(sent).toMatchObject({ chat_id: alice.id, text: 'echo: hello', reply_to_message_id: incoming.message_id });
    expect(sent?.message).toMatchObject({ chat: { id: alice.id, type: 'private' }, from: { id: fake.botInfo.id } });
    expect(sent?.message.message_id).toBeGreaterThan(incoming.message_id);
  });

  it('builds command and mention entities and applies privacy mode in groups', async () => {
    const { fake, bot } = await setup();
    expect(fake.makeMessage({ from: alice, text: '/ask@asyntai_test_bot what? @bob' }).entities).toEqual([
      { type: 'bot_command', offset: 0, length: 21 },
      { type: 'mention', offset: 28, length: 4 },
    ]);
    expect(fake.makeMessage({ from: alice, text: 'a/b mail@host.com' }).entities).toBeUndefined();

    bot.command('ask', (ctx) => ctx.reply(`ask: ${ctx.match}`));
    bot.on('message:text', (ctx) => ctx.reply(`text: ${ctx.msg.text}`));
    await startPolling(bot);
    fake.userSends({ from: alice, chat: group, text: 'chatting among humans' });
    fake.userSends({ from: alice, chat: group, text: '/ask@other_bot hi' });
    fake.userSends({ from: alice, chat: group, text: '/ask@asyntai_test_bot refunds?' });
    fake.userSends({ from: alice, chat: group, text: '@asyntai_test_bot hello' });
    const sent = await fake.waitForMessages(2);
    expect(sent.map((m) => m.text)).toEqual(['ask: refunds?', 'text: @asyntai_test_bot hello']);
    expect(fake.hiddenByPrivacy.map((m) => m.text)).toEqual(['chatting among humans', '/ask@other_bot hi']);
  });

  it('puts forum-topic messages under the topic root and grammY answers in the topic', async () => {
    const { fake, bot } = await setup({ privacyMode: false });
    bot.on('message:text', (ctx) => ctx.reply('in topic'));
    await startPolling(bot);
    const forum = { ...group, is_forum: true as const };
    const incoming = fake.userSends({ from: alice, chat: forum, message_thread_id: 7, text: 'hi' });
    expect(incoming).toMatchObject({ is_topic_message: true, message_thread_id: 7,
      reply_to_message: { message_id: 7, forum_topic_created: { name: 'Topic 7' } } });
    const [sent] = await fake.waitForMessages(1);
    expect(sent).toMatchObject({ message_thread_id: 7, message: { is_topic_message: true, message_thread_id: 7 } });
  });

  it('parses HTML like Telegram and refuses malformed or over-long text', async () => {
    const { fake, bot } = await setup();
    const html = '<b>Hi</b> &amp; <a href="https://asyntai.com">bye</a>';
    const ok = await bot.api.sendMessage(42, html, { parse_mode: 'HTML' });
    expect(ok.text).toBe('Hi & bye');
    expect(ok.entities).toEqual([{ type: 'bold', offset: 0, length: 2 },
      { type: 'text_link', offset: 5, length: 3, url: 'https://asyntai.com' }]);

    for (const html of ['<b>unclosed', 'a < b', '<br>', 'AT&T', '<b>x</i>']) {
      const error = await apiError(bot.api.sendMessage(42, html, { parse_mode: 'HTML' }));
      expect(error.error_code).toBe(400);
      expect(error.description).toMatch(/^Bad Request: can't parse entities: /);
    }
    expect(() => parseTelegramHtml('<b>x')).toThrow('Can\'t find end tag corresponding to start tag "b"');

    // The limit counts UTF-16 units of the parsed text, not the markup.
    await bot.api.sendMessage(42, `<b>${'a'.repeat(4096)}</b>`, { parse_mode: 'HTML' });
    for (const text of ['a'.repeat(4097), '😀'.repeat(2049)]) {
      expect(await apiError(bot.api.sendMessage(42, text)))
        .toMatchObject({ error_code: 400, description: 'Bad Request: message is too long' });
    }
    expect((await apiError(bot.api.sendMessage(42, ' <b> </b> ', { parse_mode: 'HTML' }))).description)
      .toBe('Bad Request: message text is empty');
    expect((await apiError(bot.api.sendMessage(42, 'x', { reply_parameters: { message_id: 999 } }))).description)
      .toBe('Bad Request: message to be replied not found');
    const res = await fetch(`${fake.apiRoot}/bot${fake.token}/sendMessage`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'x' }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ ok: false, error_code: 400, description: 'Bad Request: chat_id is empty' });
    expect(fake.sentMessages.map((m) => m.visibleText.length)).toEqual([8, 4096]);
  });

  it('serves an uploaded document through getFile and the file URL', async () => {
    const { fake, bot } = await setup();
    const content = Buffer.from('question,answer\nhours,9-5\n');
    let downloaded: Buffer | undefined;
    bot.on('message:document', async (ctx) => {
      const file = await ctx.getFile();
      const res = await fetch(`${fake.apiRoot}/file/bot${fake.token}/${file.file_path}`);
      downloaded = Buffer.from(await res.arrayBuffer());
      await ctx.reply(`got ${file.file_size} bytes`);
    });
    await startPolling(bot);
    const document = { file_name: 'faq.csv', content };
    const incoming = fake.userSends({ from: alice, caption: '/kb_upload', document });
    expect(incoming.document).toMatchObject({ file_name: 'faq.csv', mime_type: 'text/csv', file_size: content.length });
    expect(incoming.caption_entities).toEqual([{ type: 'bot_command', offset: 0, length: 10 }]);
    await fake.waitForMessages(1);
    expect(downloaded).toEqual(content);
    expect(fake.downloads).toHaveLength(1);
  });

  it('records sendDocument uploads with filename, bytes and caption', async () => {
    const { fake, bot } = await setup();
    const csv = Buffer.from('email,name\na@example.com,A\n');
    // A space in the name: grammY writes filename= unquoted, which a strict multipart parser drops.
    const message = await bot.api.sendDocument(42, new InputFile(csv, 'leads 2024.csv'),
      { caption: '<b>Leads</b>', parse_mode: 'HTML' });
    expect(message.document).toMatchObject({ file_name: 'leads 2024.csv', mime_type: 'text/csv', file_size: csv.length });
    expect(fake.documents).toHaveLength(1);
    expect(fake.documents[0]).toMatchObject({ chat_id: 42, filename: 'leads 2024.csv', caption: 'Leads', bytes: csv });

    await bot.api.sendChatAction(42, 'upload_document');
    expect(fake.chatActions).toEqual([{ chat_id: 42, action: 'upload_document' }]);
  });

  it('keeps setMyCommands per scope and refuses invalid commands', async () => {
    const { fake, bot } = await setup();
    const commands = [
      { command: 'ask', description: 'Ask the assistant' },
      { command: 'kb_add', description: 'Add knowledge' },
    ];
    await bot.api.setMyCommands(commands.slice(0, 1));
    await bot.api.setMyCommands(commands, { scope: { type: 'chat', chat_id: 42 }, language_code: 'en' });
    expect(fake.commandsFor()).toEqual(commands.slice(0, 1));
    expect(fake.commandsFor({ type: 'chat', chat_id: 42 }, 'en')).toEqual(commands);
    expect([...fake.commands.keys()]).toEqual(['{"type":"default"}', '{"type":"chat","chat_id":42}|en']);
    expect(await bot.api.getMyCommands({ scope: { type: 'chat', chat_id: 42 }, language_code: 'en' }))
      .toEqual(commands);

    for (const command of ['kb-add', 'Ask', 'a'.repeat(33), '']) {
      const error = await apiError(bot.api.setMyCommands([{ command, description: 'x' }]));
      expect(error).toMatchObject({ error_code: 400, description: 'Bad Request: BOT_COMMAND_INVALID' });
    }
    await apiError(bot.api.setMyCommands([{ command: 'ask', description: '' }]));
    await bot.api.deleteMyCommands();
    expect(fake.commandsFor()).toBeUndefined();
  });

  it('delivers to a webhook with the secret header, retrying a failed delivery', async () => {
    const { fake, bot } = await setup();
    bot.on('message:text', (ctx) => ctx.reply(`hook: ${ctx.msg.text}`));
    const handle = webhookCallback(bot, 'http', { secretToken: 'hook-secret_1' });
    const secrets: unknown[] = [];
    let failOnce = true;
    const url = await listen(createServer((req, res) => {
      secrets.push(req.headers['x-telegram-bot-api-secret-token']);
      if (failOnce) {
        failOnce = false;
        res.writeHead(500).end();
        return;
      }
      void handle(req, res);
    }));
    await bot.api.setWebhook(url, { secret_token: 'hook-secret_1' });
    expect(await bot.api.getWebhookInfo()).toMatchObject({ url, pending_update_count: 0 });
    expect(await apiError(bot.api.getUpdates())).toMatchObject({ error_code: 409 });

    fake.userSends({ from: alice, text: 'over the hook' });
    const [sent] = await fake.waitForMessages(1);
    expect(sent?.text).toBe('hook: over the hook');
    expect(secrets).toEqual(['hook-secret_1', 'hook-secret_1']);
    // The reply comes before the webhook answer: wait for the delivery to finish.
    await fake.waitFor(() => fake.pendingUpdates.length === 0, { what: 'the delivery to finish' });
    expect(fake.webhookDeliveries.map((d) => [d.attempt, d.status])).toEqual([[1, 500], [2, 200]]);
    expect(await bot.api.getWebhookInfo())
      .toMatchObject({ last_error_message: 'Wrong response from the webhook: 500 Internal Server Error' });
  });

  it('answers the older of two concurrent pollers with 409 Conflict', async () => {
    const { fake, bot: first } = await setup();
    const { running } = await startPolling(first);
    await fake.waitFor(() => fake.polling, { what: 'the first bot to poll' });
    await startPolling(newBot(fake));
    const error = await apiError(running);
    expect(error.error_code).toBe(409);
    expect(error.description).toMatch(/^Conflict: terminated by other getUpdates request/);
  });

  it('injects a 429 that @grammyjs/auto-retry waits out', async () => {
    const { fake, bot } = await setup();
    bot.api.config.use(autoRetry());
    fake.failNext('sendMessage', 1,
      { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    await bot.api.sendMessage(42, 'after the flood');
    expect(fake.callsTo('sendMessage').map((c) => [c.ok, c.error_code])).toEqual([[false, 429], [true, undefined]]);
    expect(fake.sentMessages.map((m) => m.text)).toEqual(['after the flood']);

    // Without the plugin the error reaches the caller; a dropped socket is an HttpError.
    fake.failNext('sendMessage', 1,
      { error_code: 429, description: 'Too Many Requests: retry after 5', parameters: { retry_after: 5 } });
    const plain = newBot(fake);
    expect(await apiError(plain.api.sendMessage(42, 'no retry')))
      .toMatchObject({ error_code: 429, parameters: { retry_after: 5 } });
    fake.failNext('getMe', 1, 'disconnect');
    await expect(plain.api.getMe()).rejects.toBeInstanceOf(HttpError);
    expect((await plain.api.getMe()).id).toBe(fake.botInfo.id);
  });
});
