/**
 * Human handoff with a Discord team channel, end to end: the real core and handoff, grammY against
 * the loopback Telegram fake (the customer's private chat), the real discord.js client against the
 * loopback Discord fake (TEAM_CHANNEL), the emulator behind. The alert opens a thread; team
 * members write in it without a mention; a restart on the same SQLite store, and a thread the
 * client's cache no longer holds (as its sweeper leaves it), keep the thread followed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordAdapter } from '../../adapters/discord/discord-adapter.js';
import { TelegramAdapter } from '../../adapters/telegram/telegram-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { Handoff } from '../../src/core/handoff.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { startFakeDiscord, type FakeDiscord, type FakeUser, type SentMessage as DiscordSent } from '../fakes/discord-api.js';
import { startFakeTelegram, type FakeTelegram, type SentMessage } from '../fakes/telegram-bot-api.js';

const logger = createLogger({ level: 'silent' });
/** A team member with a server nickname: relays are signed with it. */
const ANN: FakeUser = { id: '400000000000000001', username: 'ann_k', globalName: 'Ann K.', nick: 'Ann' };
const CARLA = { id: 5005, first_name: 'Carla' };

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let telegram: FakeTelegram;
let discord: FakeDiscord;
let dir: string;

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  telegram = await startFakeTelegram();
  discord = await startFakeDiscord();
  dir = mkdtempSync(join(tmpdir(), 'discord-handoff-'));
});

afterAll(async () => {
  await client.close();
  await telegram.close();
  await discord.close();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One bridge process on the shared SQLite store: core, handoff, Telegram and Discord. */
async function boot() {
  const store = await openStore(`sqlite://${join(dir, 'bridge.sqlite')}`);
  const sessions = new SessionMap(store);
  const handoff = new Handoff({ store, sessions, client, logger, teamChannel: `discord:${discord.channels.support}`, pollMs: 50, idleMs: 60_000 });
  const bridge = new Bridge({ client, store, sessions, logger, userRateLimit: 0, handoff });
  const tg = new TelegramAdapter({
    config: { telegram: { token: telegram.token, apiRoot: telegram.apiRoot, adminIds: new Set<string>(), webhookUrl: undefined, webhookSecret: undefined } },
    logger,
    http: undefined,
  });
  const dc = new DiscordAdapter({
    config: { discord: { token: discord.token, apiUrl: discord.apiUrl, adminIds: new Set<string>(), guildId: undefined, replyMode: 'reply' } },
    logger,
  });
  for (const adapter of [tg, dc]) {
    handoff.attach(adapter);
    await adapter.start(bridge);
  }
  handoff.start();
  return {
    discordAdapter: dc,
    async close() {
      await handoff.stop();
      await tg.stop();
      await dc.stop();
      await store.close();
    },
  };
}

/** The first Telegram message to Carla whose visible text contains `text`. */
const toCarla = (text: string): Promise<SentMessage> =>
  telegram.waitFor(() => telegram.sentMessages.find((m) => m.chat_id === CARLA.id && m.visibleText.includes(text)), { what: `"${text}" to Carla` });
const countToCarla = (text: string): number => telegram.sentMessages.filter((m) => m.chat_id === CARLA.id && m.visibleText.includes(text)).length;
const carlaSays = (text: string) => telegram.userSends({ from: CARLA, text });

/** The first Discord message the bot posted in `channelId` containing `text`. */
async function inDiscord(channelId: string, text: string): Promise<DiscordSent> {
  const find = () => discord.sent.find((m) => m.channel_id === channelId && m.content.includes(text));
  await discord.waitFor(() => find() !== undefined);
  return find()!;
}

const messagesUsed = async () => (await client.account()).messages_used;

describe('human handoff with a Discord team channel', () => {
  it('alert with a thread, relays both ways without mentions, a restart and a swept cache, /resume in the thread', async () => {
    let bridge = await boot();
    try {
      carlaSays('/human the wrong size was delivered');
      await toCarla('I have asked a person from our team to join');

      // The alert goes to the team channel and a thread is opened on it: its id is the alert's.
      const alert = await inDiscord(discord.channels.support, 'A customer asked for a person');
      expect(alert.content).toContain('Customer: Carla');
      expect(alert.content).toContain('Reason: the wrong size was delivered');
      await discord.waitFor(() => discord.threadsStarted.length === 1);
      const started = discord.threadsStarted[0]!;
      expect(started).toMatchObject({ channelId: discord.channels.support, messageId: alert.id });
      const thread = started.messageId;

      // Nobody has taken it: the assistant answers, and the exchange is copied into the thread.
      carlaSays('Do you ship abroad?');
      await inDiscord(thread, 'Carla: Do you ship abroad?');

      // Ann writes in the thread without a mention: she takes over, signed with her nickname.
      const used = await messagesUsed();
      discord.userSends({ author: ANN, channelId: thread, content: 'Hi Carla, we will send the right size today.' });
      await toCarla('Ann from our team has joined the conversation.');
      await toCarla('Ann (support): Hi Carla, we will send the right size today.');
      await inDiscord(thread, 'Ann took over');

      // Carla's messages are copied into the thread; /chat/ is not called.
      carlaSays('Thank you! My order is 1234.');
      await inDiscord(thread, 'Carla: Thank you! My order is 1234.');
      expect(await messagesUsed()).toBe(used);

      // Chatter in the team channel itself, without a mention, is not for the bot.
      const before = discord.sent.length;
      discord.userSends({ author: ANN, channelId: discord.channels.support, content: 'lunch anyone?' });

      // A restart: the new process learns the thread from the gateway (the bot owns it).
      await bridge.close();
      bridge = await boot();
      discord.userSends({ author: ANN, channelId: thread, content: 'It left the warehouse.' });
      await toCarla('Ann (support): It left the warehouse.');

      // The client's cache forgets the thread (as its thread sweeper does): the next message comes
      // from a thread whose owner is unknown, and the store says the bot follows it.
      (bridge.discordAdapter.client.channels as unknown as { _remove(id: string): void })._remove(thread);
      expect(bridge.discordAdapter.client.channels.cache.has(thread)).toBe(false);
      discord.userSends({ author: ANN, channelId: thread, content: 'Tracking number: 42.' });
      discord.userSends({ author: ANN, channelId: thread, content: 'Anything else?' });
      await toCarla('Ann (support): Anything else?');
      const relays = telegram.sentMessages.filter((m) => m.chat_id === CARLA.id && m.visibleText.startsWith('Ann (support)')).map((m) => m.visibleText);
      expect(relays.slice(-2)).toEqual(['Ann (support): Tracking number: 42.', 'Ann (support): Anything else?']);
      expect(await messagesUsed()).toBe(used);

      // /resume typed in the thread ends it for both sides.
      discord.userSends({ author: ANN, channelId: thread, content: '/resume' });
      await inDiscord(thread, 'Handoff ended by Ann');
      await toCarla('You are talking with the assistant again.');
      expect(countToCarla('lunch anyone')).toBe(0);
      expect(discord.sent.slice(before).filter((m) => m.channel_id === discord.channels.support)).toEqual([]);

      // After the end a message in the old thread is told so, not relayed.
      discord.userSends({ author: ANN, channelId: thread, content: 'Still there?' });
      await inDiscord(thread, 'This handoff has already ended');
      expect(countToCarla('Still there?')).toBe(0);
    } finally {
      await bridge.close();
    }
  });

  it('the /resume slash command in the thread ends it, signed with the member\'s nickname', async () => {
    const bridge = await boot();
    try {
      const threadsBefore = discord.threadsStarted.length;
      const endsBefore = countToCarla('You are talking with the assistant again.');
      carlaSays('/human a question about my invoice');
      await discord.waitFor(() => discord.threadsStarted.length === threadsBefore + 1);
      const thread = discord.threadsStarted.at(-1)!.messageId;
      discord.userSends({ author: ANN, channelId: thread, content: 'Looking at your invoice now.' });
      await toCarla('Ann (support): Looking at your invoice now.');
      const resume = discord.runCommand({ user: ANN, channelId: thread, name: 'resume' });
      await discord.waitFor(() => resume.messages.some((m) => m.content.includes('Handoff ended by Ann')));
      await discord.waitFor(() => countToCarla('You are talking with the assistant again.') === endsBefore + 1);
    } finally {
      await bridge.close();
    }
  });
});
