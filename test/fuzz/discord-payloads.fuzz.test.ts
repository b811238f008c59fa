/**
 * Fuzzing the Discord adapter's normalisers through its real transport: random MESSAGE_CREATE and
 * INTERACTION_CREATE dispatches from the fake gateway to the real discord.js client, with the real
 * core and the emulator behind. Messages carry random content (huge too), mentions of random users
 * and of the bot, junk role mentions, random attachments, message types and flags, replies and
 * webhook ids; interactions are commands known and unknown with options of the wrong type,
 * autocompletes and interaction types the adapter does not handle. No handler of ours throws
 * (the adapter logs "Discord event failed" when one does), the client stays connected, and a DM
 * is still answered afterwards.
 *
 * Payloads keep the types of Discord's API schema (right types, random values, optional fields
 * missing): discord.js parses every dispatch in its own packet handlers before any handler of
 * ours runs, and a shape Discord never sends (an `author` of null, `mentions` that is not a list)
 * throws there, outside the adapter: an INTERACTION_CREATE of type 5 without `data` and
 * `entitlements` was an uncaught TypeError in discord.js's BaseInteraction (reading 'reduce'),
 * which fails the run as an unhandled error; the generator sends what Discord's schema requires.
 *
 * Regression guard: nothing of ours was found (seeds 1 to 3 at 500 runs and the default seed);
 * the suite asserts the generator reaches the core (some answers are sent) so it cannot pass by
 * having every dispatch ignored.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordAdapter } from '../../adapters/discord/discord-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { COMMANDS } from '../../src/core/commands/registry.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { startFakeDiscord, type FakeDiscord, type FakeUser } from '../fakes/discord-api.js';
import { fuzzParameters, fuzzRuns, fuzzTimeout, userText } from './fuzz-support.js';

const RUNS = fuzzRuns(100);
/** What the adapter and discord.js log when a handler threw: the property requires none. */
const HANDLER_FAILURES = ['Discord event failed', 'Discord client error'];
const ADMIN: FakeUser = { id: '300000000000000001', username: 'ada' };
const VISITOR: FakeUser = { id: '300000000000000002', username: 'vic' };

const errors: string[] = [];
const logger = createLogger({ level: 'error', destination: { write: (line: string) => errors.push(line) } });
let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;
let bridge: Bridge;
let fake: FakeDiscord;
let adapter: DiscordAdapter;

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  store = await openStore('memory://');
  bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger, userRateLimit: 0 });
  fake = await startFakeDiscord();
  adapter = new DiscordAdapter({
    config: { discord: { token: fake.token, apiUrl: fake.apiUrl, adminIds: new Set([ADMIN.id]), guildId: undefined, replyMode: 'reply' } },
    logger,
  });
  await adapter.start(bridge);
});

afterAll(async () => {
  await adapter.stop();
  await fake.close();
  await client.close();
  await store.close();
  await emulator.close();
});

/** The handler failures logged among `lines`, shortened for the report. */
function failuresIn(lines: readonly string[]): string[] {
  return lines.filter((line) => HANDLER_FAILURES.some((msg) => line.includes(`"msg":"${msg}"`))).map((line) => line.slice(0, 400));
}

const snowflake = fc.bigInt({ min: 1n, max: (1n << 63n) - 1n }).map(String);
const WORDS = ['<@BOT>', '<@!BOT>', '<@&123>', '@everyone', '@here', '/ask', '/kb-add', 'hours?', 'returns', '```', '**bold**', '\n'];
/** Content with `BOT` standing for the bot's id, filled in once the fake is up. */
const content = userText(WORDS, 100_000);
const user = fc.record(
  {
    id: fc.oneof(fc.constantFrom(ADMIN.id, VISITOR.id), snowflake),
    username: fc.string({ minLength: 1, maxLength: 32 }),
    discriminator: fc.constantFrom('0', '1234'),
    avatar: fc.constant(null),
    global_name: fc.option(fc.string({ maxLength: 32 })),
    bot: fc.boolean(),
  },
  { requiredKeys: ['id', 'username', 'discriminator', 'avatar'] },
);
const attachment = fc.record(
  {
    id: snowflake,
    filename: fc.oneof(fc.constantFrom('faq.csv', 'stock.xlsx', 'a.pdf', ''), fc.string({ maxLength: 40 })),
    size: fc.oneof(fc.nat(), fc.constant(2 ** 31)),
    url: fc.constantFrom('http://127.0.0.1:9/none.csv', 'https://cdn.invalid/x'),
    proxy_url: fc.constant('http://127.0.0.1:9/p'),
    content_type: fc.constantFrom('text/csv', 'application/pdf', ''),
  },
  { requiredKeys: ['id', 'filename', 'size', 'url', 'proxy_url'] },
);
/** Where a message is posted: the bot's DMs or a guild channel (see `place`). */
const where = fc.constantFrom<'dm' | 'general' | 'support'>('dm', 'general', 'support');
const message = fc.record(
  {
    where,
    author: user,
    content,
    mentions: fc.array(fc.oneof(user, fc.constant('BOT')), { maxLength: 4 }),
    mention_roles: fc.array(snowflake, { maxLength: 3 }),
    mention_everyone: fc.boolean(),
    attachments: fc.array(attachment, { maxLength: 2 }),
    type: fc.oneof(fc.constantFrom(0, 19), fc.nat(50)),
    flags: fc.nat(1 << 16),
    webhook: fc.boolean(),
    reply: fc.boolean(),
    pinned: fc.boolean(),
    tts: fc.boolean(),
  },
  { requiredKeys: ['where', 'author', 'content', 'mentions', 'mention_roles', 'attachments', 'type'] },
);
const commandNames = fc.oneof(fc.constantFrom(...COMMANDS.map((c) => c.name)), fc.string({ maxLength: 20 }));
/** Option values of any type for any option: Discord checks types, but the adapter must not rely on it. */
const optionValue = fc.oneof(fc.string({ maxLength: 200 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const optionName = fc.constantFrom('question', 'title', 'content', 'id', 'count', 'url', 'website', 'file', 'x');
const interaction = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('command' as const), name: commandNames, options: fc.dictionary(optionName, optionValue, { maxKeys: 3 }), where }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('autocomplete' as const), name: commandNames, options: fc.dictionary(optionName, optionValue, { minKeys: 1, maxKeys: 2 }), where }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('modal' as const),
      customId: fc.oneof(fc.constantFrom(...COMMANDS.map((c) => `form:${c.name}`), 'form:', 'x'), fc.string({ maxLength: 30 })),
      fields: fc.dictionary(optionName, fc.string({ maxLength: 300 }), { maxKeys: 3 }),
      where,
    }),
  },
  // Interaction types the adapter does not handle (PING, and types newer than this code).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('other' as const), type: fc.oneof(fc.constant(1), fc.integer({ min: 6, max: 100 })), where }) },
);

/** The channel id of a place, for a user (their DM with the bot, or a guild channel). */
function place(at: 'dm' | 'general' | 'support', author: FakeUser): string | undefined {
  return at === 'dm' ? fake.dmChannelOf(author) : fake.channels[at];
}

type FuzzedMessage = typeof message extends fc.Arbitrary<infer T> ? T : never;
let lastMessage: Record<string, unknown> | undefined;
/** Low bits of the message ids sent here, so each id is new (the core de-duplicates on it). */
let messageCounter = 0n;

/** Dispatches MESSAGE_CREATE as Discord would shape it, with the generated values. */
function dispatchMessage(m: FuzzedMessage): void {
  const author: FakeUser = { id: m.author.id, username: m.author.username };
  const channelId = place(m.where, author)!;
  const inGuild = m.where !== 'dm';
  const bot = fake.bot.id;
  const mentions = m.mentions.map((u) => (u === 'BOT' ? { id: bot, username: fake.bot.username, discriminator: '0', avatar: null, bot: true } : u));
  const payload: Record<string, unknown> = {
    id: String((BigInt(Date.now() - 1420070400000) << 22n) | (messageCounter++ & 0x3fffffn)),
    channel_id: channelId,
    ...(inGuild ? { guild_id: fake.guildId, member: { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } } : {}),
    author: m.author,
    content: m.content.replaceAll('BOT', bot),
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: m.tts ?? false,
    mention_everyone: m.mention_everyone ?? false,
    mentions,
    mention_roles: m.mention_roles,
    attachments: m.attachments,
    embeds: [],
    pinned: m.pinned ?? false,
    type: m.type,
    flags: m.flags ?? 0,
    channel_type: inGuild ? 0 : 1,
    ...(m.webhook ? { webhook_id: '1' } : {}),
    ...(m.reply && lastMessage ? { message_reference: { type: 0, message_id: lastMessage.id, channel_id: lastMessage.channel_id }, referenced_message: lastMessage } : {}),
  };
  lastMessage = payload;
  fake.gateway.dispatch('MESSAGE_CREATE', payload);
}

describe('Discord gateway under random dispatches', () => {
  it(
    'random MESSAGE_CREATE and INTERACTION_CREATE: no handler of ours throws, the client stays connected',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(message.map((m) => ({ kind: 'message' as const, m })), interaction), async (event) => {
          const before = errors.length;
          if (event.kind === 'message') dispatchMessage(event.m);
          else if (event.kind === 'other') {
            const user = { id: VISITOR.id, username: VISITOR.username, discriminator: '0', avatar: null };
            fake.gateway.dispatch('INTERACTION_CREATE', {
              id: '1', application_id: fake.applicationId, type: event.type, token: 'x', version: 1, channel_id: place(event.where, VISITOR), user,
              locale: 'en-US', app_permissions: '0', entitlements: [], authorizing_integration_owners: {}, context: 1, attachment_size_limit: 1024,
            });
          } else if (event.kind === 'modal') {
            fake.submitModal({ user: VISITOR, channelId: event.where === 'dm' ? undefined : fake.channels[event.where], customId: event.customId, fields: event.fields });
          } else {
            const input = { user: VISITOR, channelId: event.where === 'dm' ? undefined : fake.channels[event.where], name: event.name, options: event.options };
            if (event.kind === 'command') fake.runCommand(input);
            else fake.autocomplete({ ...input, focused: Object.keys(event.options)[0]! });
          }
          // The dispatch travels over the loopback WebSocket: a few ms let the client read and
          // handle it (a failure noticed later is caught by the check after the batch).
          await sleep(5);
          expect(failuresIn(errors.slice(before))).toEqual([]);
        }),
        fuzzParameters(RUNS),
      );
      for (let waited = 0; bridge.pending > 0 && waited < 15_000; waited += 50) await sleep(50);
      expect(bridge.pending).toBe(0);
      expect(failuresIn(errors)).toEqual([]);
      // Some dispatches got past the normalisers to the core: the generator is not all ignored.
      expect(fake.sent.length).toBeGreaterThan(0);
      expect(fake.gateway.connected).toBe(1);
      const from = fake.sent.length;
      const after: FakeUser = { id: '300000000000000009', username: 'after' };
      fake.userSends({ author: after, content: 'What are your business hours?' });
      const dm = fake.dmChannelOf(after);
      await fake.waitFor(() => fake.sent.slice(from).some((s) => s.channel_id === dm), 15_000);
      expect(fake.sent.slice(from).find((s) => s.channel_id === dm)!.content).toMatch(/\d/);
    },
    fuzzTimeout(RUNS, 200),
  );
});
