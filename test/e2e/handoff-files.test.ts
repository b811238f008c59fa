/**
 * Files in a human handoff, end to end: the real core and handoff, the real grammY bot against the
 * loopback Telegram fake (a customer's private chat and a private team group in TEAM_CHANNEL), and
 * the terminal as a customer's platform. Once a person has taken the conversation, a document from
 * either side reaches the other as a document with a caption; one too large, or one that cannot be
 * fetched, becomes a line saying so.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Message, Update } from 'grammy/types';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DiscordAdapter } from '../../adapters/discord/discord-adapter.js';
import { ShellAdapter } from '../../adapters/shell/shell-adapter.js';
import { SlackAdapter } from '../../adapters/slack/slack-adapter.js';
import { TelegramAdapter } from '../../adapters/telegram/telegram-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { Handoff } from '../../src/core/handoff.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore } from '../../src/core/state-store.js';
import type { Adapter } from '../../src/core/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { startFakeDiscord, type FakeUser } from '../fakes/discord-api.js';
import { slackVisibleText, startFakeSlack } from '../fakes/slack-api.js';
import { startFakeTelegram, type FakeTelegram, type SentDocument, type SentMessage } from '../fakes/telegram-bot-api.js';

const AGENT = { id: 4004, first_name: 'Ann' };
const TEAM = { id: -100777, type: 'supergroup' as const, title: 'Support team' };
const logger = createLogger({ level: 'silent' });

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let fake: FakeTelegram;

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  fake = await startFakeTelegram();
});

afterAll(async () => {
  await client.close();
  await fake.close();
  await emulator.close();
});

afterEach(() => fake.clearRecords());

/**
 * Core with handoff (team in the Telegram group unless `teamChannel` says otherwise), Telegram, and
 * maybe another adapter, given the bridge's HTTP server.
 */
async function startBridge(options: { teamChannel?: string; extra?: (http: HttpServer, port: number) => Adapter } = {}): Promise<{ close(): Promise<void> }> {
  const store = await openStore('memory://');
  const sessions = new SessionMap(store);
  const teamChannel = options.teamChannel ?? `telegram:${TEAM.id}`;
  const handoff = new Handoff({ store, sessions, client, logger, teamChannel, pollMs: 50, idleMs: 60_000 });
  const bridge = new Bridge({ client, store, sessions, logger, userRateLimit: 0, handoff });
  const telegram = new TelegramAdapter({
    config: { telegram: { token: fake.token, apiRoot: fake.apiRoot, adminIds: new Set<string>(), webhookUrl: undefined, webhookSecret: undefined } },
    logger,
    http: undefined,
  });
  const http = new HttpServer(logger);
  const port = await http.listen(0, '127.0.0.1');
  const adapters = [telegram, ...(options.extra ? [options.extra(http, port)] : [])];
  for (const adapter of adapters) {
    handoff.attach(adapter);
    await adapter.start(bridge);
  }
  handoff.start();
  return {
    async close() {
      await handoff.stop();
      for (const adapter of adapters) await adapter.stop();
      await http.close();
      await store.close();
    },
  };
}

function sentWith(chatId: number, text: string): Promise<SentMessage> {
  return fake.waitFor(() => fake.sentMessages.find((m) => m.chat_id === chatId && m.visibleText.includes(text)), { what: `"${text}" in chat ${chatId}` });
}

function documentIn(chatId: number, filename: string): Promise<SentDocument> {
  return fake.waitFor(() => fake.documents.find((d) => d.chat_id === chatId && d.filename === filename), { what: `${filename} in chat ${chatId}` });
}

const agentReplies = (to: Message, options: { text?: string; caption?: string; document?: { file_name: string; content: Buffer | string } }) =>
  fake.userSends({ from: AGENT, chat: TEAM, reply_to_message: to, ...options });

const messagesUsed = async () => (await client.account()).messages_used;

describe('files in a handoff between a Telegram customer and a Telegram team group', () => {
  let bridge: { close(): Promise<void> };
  beforeAll(async () => {
    bridge = await startBridge();
  });
  afterAll(async () => {
    await bridge.close();
  });

  /** A customer who asked for a person, and Ann's takeover; resolves with the alert. */
  async function takenOver(customer: { id: number; first_name: string }): Promise<Message> {
    fake.userSends({ from: customer, text: '/human about my order' });
    const alert = await sentWith(TEAM.id, `Customer: ${customer.first_name}`);
    agentReplies(alert.message, { text: 'Hello, Ann here.' });
    await sentWith(customer.id, 'Ann (support): Hello, Ann here.');
    return alert.message;
  }

  it('passes documents both ways, with captions; a reply to a relayed document reaches the customer', async () => {
    const carla = { id: 3101, first_name: 'Carla' };
    const alert = await takenOver(carla);
    const used = await messagesUsed();

    // A document without a caption: the team gets it, under the alert, and nothing goes to /chat/.
    const receipt = Buffer.from('%PDF-1.4 receipt 1234');
    fake.userSends({ from: carla, document: { file_name: 'receipt.pdf', content: receipt } });
    const inTeam = await documentIn(TEAM.id, 'receipt.pdf');
    expect(inTeam.caption).toBe('Carla sent a file');
    expect(inTeam.bytes.equals(receipt)).toBe(true);
    expect(inTeam.reply_to_message_id).toBe(alert.message_id);

    // A photo goes as a document too (Telegram gives it no name: photo.jpg).
    const snapshot = Buffer.from('\xff\xd8 photo of the receipt');
    fake.userSends({ from: carla, photo: { content: snapshot } });
    const photo = await documentIn(TEAM.id, 'photo.jpg');
    expect(photo.caption).toBe('Carla sent a file');
    expect(photo.bytes.equals(snapshot)).toBe(true);

    // Ann replies to that document with one of her own and a caption: the text and the file arrive.
    const label = Buffer.from('\x89PNG return label');
    agentReplies(inTeam.message, { caption: 'Print this label, please.', document: { file_name: 'label.png', content: label } });
    await sentWith(carla.id, 'Ann (support): Print this label, please.');
    const toCustomer = await documentIn(carla.id, 'label.png');
    expect(toCustomer.caption).toBe('Ann (support) sent a file');
    expect(toCustomer.bytes.equals(label)).toBe(true);
    // Her file was not echoed back to the team, nor Carla's to her.
    expect(fake.documents.filter((d) => d.chat_id === TEAM.id).map((d) => d.filename)).toEqual(['receipt.pdf', 'photo.jpg']);
    expect(fake.documents.filter((d) => d.chat_id === carla.id).map((d) => d.filename)).toEqual(['label.png']);

    // A text reply to the relayed receipt is relayed as text only, not with the receipt again.
    agentReplies(inTeam.message, { text: 'Thanks for the receipt.' });
    await sentWith(carla.id, 'Ann (support): Thanks for the receipt.');
    // Ann's messages are handled in order: once her next one arrives, the one before is done.
    agentReplies(alert, { text: 'Anything else?' });
    await sentWith(carla.id, 'Ann (support): Anything else?');
    expect(fake.documents.filter((d) => d.chat_id === carla.id)).toHaveLength(1);
    expect(await messagesUsed()).toBe(used);
  });

  it('a file over 10 MB by its declared size becomes a line saying so, and is not downloaded', async () => {
    const dan = { id: 3102, first_name: 'Dan' };
    await takenOver(dan);
    const message = fake.makeMessage({ from: dan, caption: 'The video of the damage', document: { file_name: 'damage.mp4', content: 'small here' } });
    // Telegram tells the size before download: this one says 11 MB.
    message.document!.file_size = 11_000_000;
    fake.injectUpdate({ message } as Omit<Update, 'update_id'>);
    await sentWith(TEAM.id, 'Dan: The video of the damage');
    await sentWith(TEAM.id, 'Dan sent a file that could not be passed on (damage.mp4, 11.0 MB).');
    expect(fake.calls.filter((c) => c.method === 'getFile')).toEqual([]);
    expect(fake.documents).toEqual([]);
  });

  it('a file that cannot be fetched becomes a line saying so', async () => {
    const eve = { id: 3103, first_name: 'Eve' };
    const alert = await takenOver(eve);
    fake.failNext('getFile', 1, { error_code: 400, description: 'Bad Request: file is too big' });
    agentReplies(alert, { document: { file_name: 'manual.pdf', content: '%PDF-1.4 manual' } });
    await sentWith(eve.id, 'Ann (support) sent a file that could not be passed on (manual.pdf, 15 bytes).');
    expect(fake.documents).toEqual([]);
  });
});

describe('files from the Telegram team to a terminal customer', () => {
  it('saves the file in the download folder and prints where', async () => {
    const downloadDir = mkdtempSync(join(tmpdir(), 'handoff-files-'));
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const bridge = await startBridge({ extra: () => new ShellAdapter({ input, output, interactive: false, downloadDir }) });
    try {
      input.write('/human I prefer a person\n');
      const alert = await sentWith(TEAM.id, 'conversation shell:local');
      agentReplies(alert.message, { caption: 'Your invoice', document: { file_name: 'invoice.txt', content: 'Invoice 77: paid' } });
      await vi.waitFor(() => expect(printed).toContain('Ann (support) sent a file: invoice.txt, saved to'), { timeout: 5_000 });
      expect(printed).toContain('Ann (support): Your invoice');
      const path = /saved to (\S+invoice\.txt)/.exec(printed)![1]!;
      expect(readFileSync(path, 'utf8')).toBe('Invoice 77: paid');
    } finally {
      input.end();
      await bridge.close();
      rmSync(downloadDir, { recursive: true, force: true });
    }
  });
});

describe('files between a Telegram customer and a Slack team channel', () => {
  it('uploads the customer\'s document into the alert\'s thread; a file shared in the thread reaches the customer', async () => {
    const slack = await startFakeSlack();
    const bridge = await startBridge({
      teamChannel: 'slack:C0TEAM',
      extra: (http, port) => {
        slack.botUrl = `http://127.0.0.1:${port}/slack/events`;
        const config = { botToken: slack.botToken, signingSecret: slack.signingSecret, appToken: undefined, apiUrl: slack.apiUrl, adminIds: new Set<string>(), threadFollowups: true };
        return new SlackAdapter({ config: { slack: config }, logger, http, retryConfig: { retries: 0 } });
      },
    });
    const sam = { id: 'U0SAM', name: 'sam' };
    const profile = { display_name: 'Sam', real_name: 'Sam Smith', name: 'sam' };
    const hana = { id: 3201, first_name: 'Hana' };
    try {
      fake.userSends({ from: hana, text: '/human the wrong size was delivered' });
      // The notice comes once the alert's thread is recorded.
      await sentWith(hana.id, 'I have asked a person from our team to join');
      const [alert] = await slack.waitForMessages('C0TEAM', 1);
      await slack.userSays(sam, 'C0TEAM', 'Hi Hana, Sam here.', { thread_ts: alert!.ts, extra: { user_profile: profile } });
      await sentWith(hana.id, 'Sam (support): Hi Hana, Sam here.');

      const photo = Buffer.from('\xff\xd8 photo of the label');
      fake.userSends({ from: hana, document: { file_name: 'label.jpg', content: photo } });
      const uploaded = await slack.waitFor(() => slack.files.find((f) => f.name === 'label.jpg'), { what: 'label.jpg uploaded' });
      expect(uploaded).toMatchObject({ channel: 'C0TEAM', thread_ts: alert!.ts, initial_comment: 'Hana sent a file' });
      expect(uploaded.bytes.equals(photo)).toBe(true);

      // Sam shares a file in the thread (a file_share message; Slack sends its url_private).
      const form = Buffer.from('Return form: fill in and send back');
      const shared = slack.userUploads('return-form.txt', form, 'text/plain');
      await slack.userSays(sam, 'C0TEAM', 'Here is the form.', { thread_ts: alert!.ts, extra: { subtype: 'file_share', files: [shared], user_profile: profile } });
      await sentWith(hana.id, 'Sam (support): Here is the form.');
      const toCustomer = await documentIn(hana.id, 'return-form.txt');
      expect(toCustomer.caption).toBe('Sam (support) sent a file');
      expect(toCustomer.bytes.equals(form)).toBe(true);
      expect(slack.messagesIn('C0TEAM', alert!.ts).some((m) => slackVisibleText(m.text).includes('could not be passed on'))).toBe(false);
    } finally {
      await bridge.close();
      await slack.close();
    }
  });
});

describe('files between a Telegram customer and a Discord team channel', () => {
  it('posts the customer\'s document in the alert\'s thread; an attachment there reaches the customer', async () => {
    const discord = await startFakeDiscord();
    const bridge = await startBridge({
      teamChannel: `discord:${discord.channels.support}`,
      extra: () =>
        new DiscordAdapter({
          config: { discord: { token: discord.token, apiUrl: discord.apiUrl, adminIds: new Set<string>(), guildId: undefined, replyMode: 'reply' } },
          logger,
        }),
    });
    const ann: FakeUser = { id: '400000000000000001', username: 'ann_k', globalName: 'Ann K.', nick: 'Ann' };
    const ivy = { id: 3301, first_name: 'Ivy' };
    try {
      fake.userSends({ from: ivy, text: '/human my parcel is damaged' });
      await sentWith(ivy.id, 'I have asked a person from our team to join');
      await discord.waitFor(() => discord.threadsStarted.length === 1);
      const thread = discord.threadsStarted[0]!.messageId;
      discord.userSends({ author: ann, channelId: thread, content: 'Hi Ivy, Ann here.' });
      await sentWith(ivy.id, 'Ann (support): Hi Ivy, Ann here.');

      const photo = Buffer.from('\xff\xd8 photo of the parcel');
      fake.userSends({ from: ivy, document: { file_name: 'parcel.jpg', content: photo } });
      const find = () => discord.sent.find((m) => m.channel_id === thread && m.files.length > 0);
      await discord.waitFor(() => find() !== undefined);
      const posted = find()!;
      expect(posted.content).toBe('Ivy sent a file');
      expect(posted.files.map((f) => f.name)).toEqual(['parcel.jpg']);
      expect(posted.files[0]!.data.equals(photo)).toBe(true);

      // Ann attaches a file in the thread, without text.
      const form = Buffer.from('Claim form: describe the damage');
      discord.userSends({ author: ann, channelId: thread, content: '', attachments: [discord.attachment('claim-form.txt', form, 'text/plain')] });
      const toCustomer = await documentIn(ivy.id, 'claim-form.txt');
      expect(toCustomer.caption).toBe('Ann (support) sent a file');
      expect(toCustomer.bytes.equals(form)).toBe(true);
    } finally {
      await bridge.close();
      await discord.close();
    }
  });
});
