/**
 * The Discord adapter end to end: the real discord.js client (REST through undici, the gateway
 * through ws) against the loopback fake of Discord, with the real core and the emulator behind.
 */
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DiscordAdapter, type DiscordAdapterDeps } from '../../adapters/discord/discord-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { ConfigError } from '../../src/config.js';
import { Bridge } from '../../src/core/bridge.js';
import { COMMANDS } from '../../src/core/commands/registry.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { DISCORD_CONTENT_LIMIT, startFakeDiscord, type FakeDiscord, type FakeInteraction, type FakeUser, type SentMessage } from '../fakes/discord-api.js';

const logger = createLogger({ level: 'silent' });
const EPHEMERAL = 64;

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

function config(fake: FakeDiscord, admins: FakeUser[], extra: Partial<DiscordAdapterDeps['config']['discord']> = {}): DiscordAdapterDeps['config'] {
  return {
    discord: { token: fake.token, apiUrl: fake.apiUrl, adminIds: new Set(admins.map((a) => a.id)), guildId: undefined, replyMode: 'reply', ...extra },
  };
}

/** The user questions of a thread's conversation, as the assistant received them. */
async function questionsOf(threadKey: string): Promise<string[]> {
  const sessionId = await sessions.peek(threadKey);
  if (!sessionId) return [];
  return (await client.conversation(sessionId)).filter((m) => m.role === 'user').map((m) => m.content);
}

describe('Discord adapter (reply mode)', () => {
  let fake: FakeDiscord;
  let adapter: DiscordAdapter;
  const ADMIN: FakeUser = { id: '300000000000000001', username: 'ada' };
  const VISITOR: FakeUser = { id: '300000000000000002', username: 'vic' };
  const SECOND: FakeUser = { id: '300000000000000003', username: 'sam' };
  const OTHER_BOT: FakeUser = { id: '300000000000000004', username: 'otherbot', bot: true };
  let MODERATOR: FakeUser;

  beforeAll(async () => {
    fake = await startFakeDiscord();
    MODERATOR = { id: '300000000000000005', username: 'mo', roles: [fake.roles.moderators] };
    adapter = new DiscordAdapter({ config: config(fake, [ADMIN]), logger });
    await adapter.start(bridge);
  });

  afterAll(async () => {
    await adapter.stop();
    await fake.close();
  });

  afterEach(() => {
    emulator.faults.clear();
  });

  /** Messages the bot sent to a channel, after `from` (a length of `fake.sent` taken earlier). */
  const sentTo = (channelId: string, from = 0): SentMessage[] => fake.sent.slice(from).filter((s) => s.channel_id === channelId);
  /** Waits for `n` messages in `channelId` after `from`, and returns them. */
  async function answersIn(channelId: string, from: number, n = 1): Promise<SentMessage[]> {
    await fake.waitFor(() => sentTo(channelId, from).length >= n);
    return sentTo(channelId, from);
  }
  const mention = (text: string): string => `<@${fake.bot.id}> ${text}`;
  /** Waits until the interaction has `n` answer messages (callback message, edits, follow-ups). */
  async function interactionAnswers(interaction: FakeInteraction, n = 1): Promise<SentMessage[]> {
    await fake.waitFor(() => interaction.messages.length >= n);
    return interaction.messages;
  }

  it('connects with the intents it needs and registers every command globally in one bulk overwrite', () => {
    const identify = fake.gateway.identifies[0]!;
    // Guilds | GuildMessages | DirectMessages | MessageContent
    expect(identify.intents).toBe(1 | (1 << 9) | (1 << 12) | (1 << 15));
    expect(fake.commandPuts).toHaveLength(1);
    expect(fake.commandPuts[0]!.guildId).toBeUndefined();
    const registered = fake.commands();
    expect(registered.map((c) => c.name)).toEqual(COMMANDS.map((c) => c.name));
    const byName = new Map(registered.map((c) => [c.name, c as { default_member_permissions: string | null; options: Array<Record<string, unknown>> }]));
    expect(byName.get('kb-add')!.default_member_permissions).toBe('32');
    expect(byName.get('ask')!.default_member_permissions).toBeNull();
    expect(byName.get('kb-upload')!.options[0]).toMatchObject({ name: 'file', type: 11, required: true });
    expect(byName.get('kb-delete')!.options[0]).toMatchObject({ name: 'id', type: 3, autocomplete: true });
    // Without options /kb-add opens a modal, so its options must be optional.
    expect(byName.get('kb-add')!.options.every((o) => o.required === false)).toBe(true);
    expect(adapter.isHealthy()).toBe(true);
  });

  it('registers nothing when a second instance starts with the same definitions', async () => {
    const second = new DiscordAdapter({ config: config(fake, [ADMIN]), logger });
    await second.start(bridge);
    await second.stop();
    expect(fake.commandPuts).toHaveLength(1);
    expect(fake.requests.filter((r) => r.method === 'GET' && r.path === '/applications/' + fake.applicationId + '/commands').length).toBeGreaterThanOrEqual(2);
  });

  it('answers every DM in the DM, with typing and without a reply reference', async () => {
    const from = fake.sent.length;
    fake.userSends({ author: VISITOR, content: 'What are your business hours?' });
    const dm = fake.dmChannelOf(VISITOR);
    const [answer] = await answersIn(dm, from);
    expect(answer!.content).toMatch(/\d/);
    expect(answer!.message_reference).toBeUndefined();
    expect(fake.typing.some((t) => t.channelId === dm)).toBe(true);
    expect(await sessions.peek(`discord:dm:${dm}`)).toMatch(/^dc-/);
  });

  it('answers a mention in a channel as a reply, mention stripped, one session per member', async () => {
    const from = fake.sent.length;
    const question = fake.userSends({ author: VISITOR, channelId: fake.channels.general, content: mention('how do returns work?') });
    const [answer] = await answersIn(fake.channels.general, from);
    expect(answer!.message_reference?.message_id).toBe(question.id);
    expect(answer!.allowed_mentions).toMatchObject({ parse: [], replied_user: false });
    expect(await questionsOf(`discord:${fake.guildId}:${fake.channels.general}:u${VISITOR.id}`)).toEqual(['how do returns work?']);

    // Another member in the same channel has a conversation of their own.
    fake.userSends({ author: SECOND, channelId: fake.channels.general, content: mention('do you ship abroad?') });
    await answersIn(fake.channels.general, from, 2);
    expect(await questionsOf(`discord:${fake.guildId}:${fake.channels.general}:u${SECOND.id}`)).toEqual(['do you ship abroad?']);
    expect(await sessions.peek(`discord:${fake.guildId}:${fake.channels.general}:u${SECOND.id}`)).not.toBe(
      await sessions.peek(`discord:${fake.guildId}:${fake.channels.general}:u${VISITOR.id}`),
    );
  });

  it('takes Manage Server from the member roles as admin on mention messages', async () => {
    const from = fake.sent.length;
    const visitors = fake.userSends({ author: VISITOR, channelId: fake.channels.support, content: mention('/kb-list') });
    const moderators = fake.userSends({ author: MODERATOR, channelId: fake.channels.support, content: mention('/kb-list') });
    await fake.waitFor(() => sentTo(fake.channels.support, from).length >= 2);
    const answerTo = (id: string) => sentTo(fake.channels.support, from).find((m) => m.message_reference?.message_id === id)!;
    expect(answerTo(visitors.id).content).toBe('/kb-list is only for admins of this bot.');
    expect(answerTo(moderators.id).content).not.toContain('only for admins');
  });

  it('answers a reply to its own message without a mention', async () => {
    const from = fake.sent.length;
    fake.userSends({ author: VISITOR, channelId: fake.channels.support, content: mention('what are your business hours?') });
    const [first] = await answersIn(fake.channels.support, from);
    const reply = fake.userSends({ author: VISITOR, channelId: fake.channels.support, content: 'and where do you ship?', replyTo: first!.message });
    const [, second] = await answersIn(fake.channels.support, from, 2);
    expect(second!.message_reference?.message_id).toBe(reply.id);
  });

  it('stays silent without a mention, on @everyone or a role mention only, and for bots and webhooks', async () => {
    const channel = fake.channels.support;
    const from = fake.sent.length;
    // One member, one channel: one thread key, answered in order, so anything answered would come first.
    fake.userSends({ author: SECOND, channelId: channel, content: 'just chatting among ourselves' });
    fake.userSends({ author: SECOND, channelId: channel, content: '@everyone what are your business hours?' });
    fake.userSends({ author: SECOND, channelId: channel, content: `<@&${fake.roles.team}> what are your business hours?` });
    const sentinel = fake.userSends({ author: SECOND, channelId: channel, content: mention('how do returns work?') });
    const answers = await answersIn(channel, from);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.message_reference?.message_id).toBe(sentinel.id);

    // Bots and webhooks, in a thread (one shared thread key), before a person's question.
    const thread = fake.userCreatesThread({ author: SECOND, channelId: channel, name: 'bots' });
    fake.userSends({ author: OTHER_BOT, channelId: thread, content: mention('what are your business hours?') });
    fake.userSends({ author: { id: '300000000000000099', username: 'hook' }, channelId: thread, content: mention('hours?'), webhook: true });
    const person = fake.userSends({ author: SECOND, channelId: thread, content: mention('how do returns work?') });
    const inThread = await answersIn(thread, from);
    expect(inThread).toHaveLength(1);
    expect(inThread[0]!.message_reference?.message_id).toBe(person.id);
    expect(await questionsOf(`discord:${fake.guildId}:${thread}`)).toEqual(['how do returns work?']);
  });

  it('gives everyone in a thread one shared conversation', async () => {
    const thread = fake.userCreatesThread({ author: VISITOR, channelId: fake.channels.general, name: 'Shipping questions' });
    const from = fake.sent.length;
    fake.userSends({ author: VISITOR, channelId: thread, content: mention('do you ship abroad?') });
    await answersIn(thread, from);
    fake.userSends({ author: SECOND, channelId: thread, content: mention('how long does shipping take?') });
    await answersIn(thread, from, 2);
    expect(await questionsOf(`discord:${fake.guildId}:${thread}`)).toEqual(['do you ship abroad?', 'how long does shipping take?']);
  });

  it('never pings: allowed_mentions parse [] on the wire and @everyone defanged in the text', async () => {
    const add = fake.runCommand({ user: ADMIN, channelId: fake.channels.general, name: 'kb-add', options: { title: 'Flash sale', content: 'Flash sale announcement: @everyone gets 50% off on Fridays, tell @here too.' } });
    expect((await interactionAnswers(add))[0]!.content).toMatch(/^Added/);
    const from = fake.sent.length;
    fake.userSends({ author: VISITOR, channelId: fake.channels.general, content: mention('is there a flash sale announcement on fridays?') });
    const [answer] = await answersIn(fake.channels.general, from);
    expect(answer!.content.toLowerCase()).toContain('50%');
    expect(answer!.content).not.toMatch(/@(everyone|here)/);
    expect(answer!.allowed_mentions).toMatchObject({ parse: [] });
  });

  it('defers /ask at once while the assistant takes 4 s, then edits the answer in', async () => {
    emulator.faults.setLatency(4000);
    const ask = fake.runCommand({ user: VISITOR, channelId: fake.channels.general, name: 'ask', options: { question: 'What are your business hours?' } });
    await fake.waitFor(() => ask.callbacks.length > 0);
    // The fake refuses a first response later than 3 s (Discord's 10062), so this one was in time.
    expect(ask.callbacks[0]).toMatchObject({ type: 5 });
    expect(ask.messages).toHaveLength(0); // the assistant had not answered yet
    const [answer] = await interactionAnswers(ask);
    expect(answer!.via).toBe('original');
    expect(answer!.content).toMatch(/\d/);
    expect(answer!.flags & EPHEMERAL).toBe(0);
    expect(ask.callbacks[0]!.seq).toBeLessThan(answer!.seq);
  }, 15_000);

  it('opens a modal for /kb-add without options and adds what the modal submits', async () => {
    const command = fake.runCommand({ user: MODERATOR, channelId: fake.channels.general, name: 'kb-add' });
    await fake.waitFor(() => command.callbacks.length > 0);
    const modal = command.callbacks[0]!;
    expect(modal.type).toBe(9);
    const customId = String(modal.data!.custom_id);
    const inputs = (modal.data!.components as Array<{ components: Array<{ custom_id: string }> }>).map((row) => row.components[0]!.custom_id);
    expect(inputs).toEqual(['title', 'content']);

    const submit = fake.submitModal({
      user: MODERATOR,
      channelId: fake.channels.general,
      customId,
      fields: { title: 'Bike repair', content: 'We repair bicycles every Saturday morning.' },
    });
    const [added] = await interactionAnswers(submit);
    expect(submit.callbacks[0]).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(added!.content).toMatch(/^Added \*\*Bike repair\*\*|^Added Bike repair|Added.*Bike repair/);
  });

  it('refuses /kb-add to a member without Manage Server, ephemerally, without a modal', async () => {
    const command = fake.runCommand({ user: VISITOR, channelId: fake.channels.general, name: 'kb-add' });
    const [refusal] = await interactionAnswers(command);
    expect(command.callbacks.map((c) => c.type)).toEqual([4]);
    expect(refusal!.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(refusal!.content).toBe('/kb-add is only for admins of this bot.');
  });

  it('/kb-upload downloads the attached spreadsheet and adds its rows', async () => {
    const file = fake.attachment('products.csv', Buffer.from('name,description\nKayak,A two-seat sea kayak for rent on weekends\n'), 'text/csv');
    const upload = fake.runCommand({ user: ADMIN, channelId: fake.channels.general, name: 'kb-upload', options: { file } });
    const [answer] = await interactionAnswers(upload);
    expect(answer!.content).toMatch(/1 row processed/);
    expect(answer!.flags & EPHEMERAL).toBe(EPHEMERAL);
  });

  it('a private answer to a public command goes as an ephemeral follow-up, and the placeholder is removed', async () => {
    const history = fake.runCommand({ user: VISITOR, channelId: fake.channels.general, name: 'history', options: { count: 0 } });
    const [usage] = await interactionAnswers(history);
    expect(history.callbacks[0]).toMatchObject({ type: 5 });
    expect(history.callbacks[0]!.data?.flags ?? 0).toBe(0);
    expect(usage!.via).toBe('followup');
    expect(usage!.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(usage!.content).toMatch(/Usage/);
    await fake.waitFor(() => fake.deleted.some((d) => d.interactionId === history.id));
  });

  it('/kb-upload typed in a DM with the file attached downloads it from the attachment URL', async () => {
    const from = fake.sent.length;
    const file = fake.attachment('rentals.csv', Buffer.from('item,details\nCanoe,Canoes are rented by the hour at the lake dock\n'), 'text/csv');
    fake.userSends({ author: ADMIN, content: '/kb-upload', attachments: [file] });
    const [answer] = await answersIn(fake.dmChannelOf(ADMIN), from);
    expect(answer!.content).toMatch(/1 row processed/);
  });

  it('/kb-delete: autocomplete over titles, a confirmation button, then the deletion', async () => {
    const add = fake.runCommand({ user: ADMIN, channelId: fake.channels.general, name: 'kb-add', options: { title: 'Umbrella rental', content: 'Umbrellas can be rented at the front desk.' } });
    await interactionAnswers(add);

    const complete = fake.autocomplete({ user: ADMIN, channelId: fake.channels.general, name: 'kb-delete', options: { id: 'umbrel' }, focused: 'id' });
    await fake.waitFor(() => complete.callbacks.length > 0);
    expect(complete.callbacks[0]!.type).toBe(8);
    const choices = complete.callbacks[0]!.data!.choices as Array<{ name: string; value: string }>;
    expect(choices).toHaveLength(1);
    expect(choices[0]!.name).toContain('Umbrella rental');

    const visitorComplete = fake.autocomplete({ user: VISITOR, channelId: fake.channels.general, name: 'kb-delete', options: { id: '' }, focused: 'id' });
    await fake.waitFor(() => visitorComplete.callbacks.length > 0);
    expect(visitorComplete.callbacks[0]!.data!.choices).toEqual([]);

    const del = fake.runCommand({ user: ADMIN, channelId: fake.channels.general, name: 'kb-delete', options: { id: choices[0]!.value } });
    const [question] = await interactionAnswers(del);
    expect(del.callbacks[0]!.type).toBe(4);
    expect(question!.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(question!.content).toMatch(/cannot be undone/);
    const buttons = (question!.components as Array<{ components: Array<{ custom_id: string; label: string }> }>)[0]!.components;
    expect(buttons.map((b) => b.label)).toEqual(['Confirm', 'Cancel']);
    expect((await client.listKnowledge({ limit: 100 })).some((e) => e.id === choices[0]!.value)).toBe(true);

    const click = fake.clickButton({ user: ADMIN, message: question!, customId: buttons[0]!.custom_id });
    const [done] = await interactionAnswers(click);
    expect(click.callbacks[0]!.type).toBe(6);
    expect(done!.via).toBe('original');
    expect(done!.id).toBe(question!.id);
    expect(done!.content).toMatch(/^Deleted entry/);
    expect(done!.components).toEqual([]);
    expect((await client.listKnowledge({ limit: 100 })).some((e) => e.id === choices[0]!.value)).toBe(false);
  });

  it('Cancel on the confirmation deletes nothing', async () => {
    const [entry] = await client.listKnowledge({ limit: 1 });
    const del = fake.runCommand({ user: ADMIN, channelId: fake.channels.general, name: 'kb-delete', options: { id: entry!.id } });
    const [question] = await interactionAnswers(del);
    const cancel = (question!.components as Array<{ components: Array<{ custom_id: string; label: string }> }>)[0]!.components.find((b) => b.label === 'Cancel')!;
    const click = fake.clickButton({ user: ADMIN, message: question!, customId: cancel.custom_id });
    await interactionAnswers(click);
    expect(click.callbacks[0]).toMatchObject({ type: 7, data: { content: 'Cancelled.', components: [] } });
    expect((await client.listKnowledge({ limit: 100 })).some((e) => e.id === entry!.id)).toBe(true);
  });

  it('/leads answers ephemerally with a CSV attached', async () => {
    fake.userSends({ author: SECOND, content: 'Please write to sam@example.com' });
    await fake.waitFor(() => sentTo(fake.dmChannelOf(SECOND)).length > 0);
    const leads = fake.runCommand({ user: ADMIN, channelId: fake.channels.general, name: 'leads' });
    const [text, file] = await interactionAnswers(leads, 2);
    expect(leads.callbacks[0]).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect(text!.content).toContain('sam@example.com');
    expect(file!.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(file!.files[0]!.name).toBe('leads.csv');
    expect(file!.files[0]!.data.toString()).toContain('sam@example.com');
  });

  it('/leads asked by mention in a channel goes to the DM, with a short public pointer', async () => {
    const from = fake.sent.length;
    fake.userSends({ author: ADMIN, channelId: fake.channels.general, content: mention('/leads') });
    const dm = fake.dmChannelOf(ADMIN);
    await fake.waitFor(() => sentTo(dm, from).some((s) => s.files.length > 0) && sentTo(fake.channels.general, from).length > 0);
    expect(sentTo(dm, from)[0]!.content).toContain('sam@example.com');
    expect(sentTo(fake.channels.general, from)[0]!.content).toMatch(/direct message/);
    expect(sentTo(fake.channels.general, from)[0]!.content).not.toContain('sam@example.com');
  });

  it('splits a long answer under 2,000 characters, in order: the deferred reply first, then follow-ups', async () => {
    const dm = fake.dmChannelOf(SECOND);
    const long = 'Tell me about shipping and returns, please, in detail. '.repeat(12);
    let from = fake.sent.length;
    for (let i = 0; i < 10; i++) {
      fake.userSends({ author: SECOND, content: `Question ${i}: ${long}` });
      await answersIn(dm, from, i + 1);
    }
    from = fake.sent.length;
    const history = fake.runCommand({ user: SECOND, name: 'history', options: { count: 20 } });
    await fake.waitFor(() => history.messages.some((m) => m.content.includes('Question 9:')));
    const chunks = history.messages;
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks[0]!.via).toBe('original');
    expect(chunks.slice(1).every((c) => c.via === 'followup')).toBe(true);
    for (const chunk of chunks) expect(chunk.content.length).toBeLessThanOrEqual(DISCORD_CONTENT_LIMIT);
    const all = chunks.map((c) => c.content).join('\n');
    for (let i = 1; i < 10; i++) expect(all.indexOf(`Question ${i}:`)).toBeGreaterThan(all.indexOf(`Question ${i - 1}:`));
  });

  it('keeps answering across a 429 from Discord (discord.js waits and retries)', async () => {
    fake.failNext(1, 429, { retryAfterSeconds: 1, route: /^POST \/channels\/\d+\/messages$/ });
    const from = fake.sent.length;
    fake.userSends({ author: VISITOR, content: 'How do returns work?' });
    const [answer] = await answersIn(fake.dmChannelOf(VISITOR), from);
    expect(answer!.content.length).toBeGreaterThan(0);
    expect(fake.requests.some((r) => r.status === 429)).toBe(true);
  });

  it('send() posts to its own thread keys and to a bare channel address, without pings', async () => {
    const from = fake.sent.length;
    await adapter.send(`discord:${fake.channels.support}`, 'Team note: @everyone **check** the queue');
    await adapter.send(`discord:dm:${fake.dmChannelOf(VISITOR)}`, 'A person will answer you here soon.');
    await adapter.send(`discord:${fake.guildId}:${fake.channels.general}:u${VISITOR.id}`, 'Back to you in the channel.');
    expect(sentTo(fake.channels.support, from)[0]!.content).not.toMatch(/@everyone/);
    expect(sentTo(fake.channels.support, from)[0]!.allowed_mentions).toEqual({ parse: [] });
    expect(sentTo(fake.dmChannelOf(VISITOR), from)).toHaveLength(1);
    expect(sentTo(fake.channels.general, from)).toHaveLength(1);
    await expect(adapter.send('slack:C123', 'x')).rejects.toThrow(/not a Discord thread key/);
    await expect(adapter.send(`discord:${fake.channels.support}`, 'x', { ephemeral: true })).rejects.toThrow();
  });

  it('resumes after the gateway connection drops and answers what came meanwhile', async () => {
    const sessionId = fake.gateway.resumes.length;
    fake.gateway.drop();
    const from = fake.sent.length;
    // Dispatched while disconnected: Discord replays it on RESUME.
    fake.userSends({ author: VISITOR, content: 'What are your business hours?' });
    await fake.waitFor(() => fake.gateway.resumes.length > sessionId);
    expect(fake.gateway.resumes.at(-1)!.session_id).toBe('fake-session-1');
    expect(fake.gateway.identifies).toHaveLength(2); // this adapter, and the second instance earlier
    const [answer] = await answersIn(fake.dmChannelOf(VISITOR), from);
    expect(answer!.content).toMatch(/\d/);
    await fake.waitFor(() => adapter.isHealthy());
  }, 20_000);
});

describe('Discord adapter (thread mode, guild commands)', () => {
  let fake: FakeDiscord;
  let adapter: DiscordAdapter;
  const VISITOR: FakeUser = { id: '400000000000000002', username: 'tess' };

  beforeAll(async () => {
    fake = await startFakeDiscord();
    adapter = new DiscordAdapter({ config: config(fake, [], { replyMode: 'thread', guildId: fake.guildId }), logger });
    await adapter.start(bridge);
  });

  afterAll(async () => {
    await adapter.stop();
    await fake.close();
  });

  it('registers the commands in DISCORD_GUILD_ID only', () => {
    expect(fake.commandPuts.map((p) => p.guildId)).toEqual([fake.guildId]);
    expect(fake.commands(fake.guildId)).toHaveLength(COMMANDS.length);
    expect(fake.commands()).toHaveLength(0);
  });

  it('registers again when what Discord has differs (an older version of the commands)', async () => {
    // What an older release registered: one command, another description.
    const stale = [{ name: 'ask', description: 'Ask something', type: 1, options: [], integration_types: [0], contexts: [0, 1] }];
    const res = await request(`${fake.apiUrl}/v10/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`, {
      method: 'PUT',
      headers: { authorization: `Bot ${fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(stale),
    });
    await res.body.dump();
    const second = new DiscordAdapter({ config: config(fake, [], { guildId: fake.guildId }), logger });
    await second.start(bridge);
    await second.stop();
    expect(fake.commandPuts).toHaveLength(3); // the first start, the stale list, this start
    expect(fake.commands(fake.guildId).map((c) => c.name)).toEqual(COMMANDS.map((c) => c.name));
  });

  it('opens a thread on the question, answers there, and keeps the conversation in it', async () => {
    const question = fake.userSends({ author: VISITOR, channelId: fake.channels.general, content: `<@${fake.bot.id}> do you ship abroad?` });
    await fake.waitFor(() => fake.sent.some((s) => s.channel_id === question.id));
    expect(fake.threadsStarted).toEqual([expect.objectContaining({ channelId: fake.channels.general, messageId: question.id, name: 'do you ship abroad?' })]);
    expect(fake.sent.filter((s) => s.channel_id === fake.channels.general)).toHaveLength(0);

    // In the bot's own thread no mention is needed, and the session carries on.
    fake.userSends({ author: VISITOR, channelId: question.id, content: 'how long does it take?' });
    await fake.waitFor(() => fake.sent.filter((s) => s.channel_id === question.id).length >= 2);
    expect(await questionsOf(`discord:${fake.guildId}:${question.id}`)).toEqual(['do you ship abroad?', 'how long does it take?']);
    expect(fake.threadsStarted).toHaveLength(1);
  });

  it('answers as a reply in the channel when it may not open a thread', async () => {
    fake.failNext(1, 403, { route: /\/threads$/ });
    const from = fake.sent.length;
    const question = fake.userSends({ author: VISITOR, channelId: fake.channels.support, content: `<@${fake.bot.id}> how do returns work?` });
    await fake.waitFor(() => fake.sent.slice(from).length > 0);
    const [answer] = fake.sent.slice(from);
    expect(answer!.channel_id).toBe(fake.channels.support);
    expect(answer!.message_reference?.message_id).toBe(question.id);
  });
});

describe('Discord adapter, two instances on one token and one store', () => {
  it('answers each message and each command once', async () => {
    const fake = await startFakeDiscord();
    const first = new DiscordAdapter({ config: config(fake, []), logger });
    const second = new DiscordAdapter({ config: config(fake, []), logger });
    const user: FakeUser = { id: '700000000000000001', username: 'twin' };
    try {
      await first.start(bridge);
      await second.start(bridge);
      fake.userSends({ author: user, content: 'What are your business hours?' });
      const help = fake.runCommand({ user, name: 'help' });
      // Both instances get both events; /help's answer comes after the question's (one thread).
      await fake.waitFor(() => help.messages.length > 0);
      expect(fake.sent.filter((m) => m.interactionId === undefined && m.channel_id === fake.dmChannelOf(user))).toHaveLength(1);
      expect(help.callbacks).toHaveLength(1);
      expect(help.messages).toHaveLength(1);
      expect(fake.requests.filter((r) => r.path.startsWith(`/interactions/${help.id}/`)).map((r) => r.status).sort()).toEqual([204, 400]);
    } finally {
      await first.stop();
      await second.stop();
      await fake.close();
    }
  });
});

describe('Discord adapter health', () => {
  it('stays connected on heartbeats: each one acknowledged, no reconnect', async () => {
    const fake = await startFakeDiscord({ heartbeatIntervalMs: 100 });
    const adapter = new DiscordAdapter({ config: config(fake, []), logger });
    try {
      await adapter.start(bridge);
      await fake.waitFor(() => fake.gateway.heartbeats >= 5);
      expect(fake.gateway.identifies).toHaveLength(1);
      expect(fake.gateway.resumes).toHaveLength(0);
      expect(adapter.isHealthy()).toBe(true);
    } finally {
      await adapter.stop();
      await fake.close();
    }
  });

  it('reports the gateway down when Discord closes it for good', async () => {
    const fake = await startFakeDiscord();
    const adapter = new DiscordAdapter({ config: config(fake, []), logger });
    try {
      expect(adapter.isHealthy()).toBe(false); // not started
      await adapter.start(bridge);
      expect(adapter.isHealthy()).toBe(true);
      fake.gateway.drop(4004); // the token was revoked: discord.js does not reconnect
      await fake.waitFor(() => !adapter.isHealthy());
    } finally {
      await adapter.stop();
      await fake.close();
    }
  });
});

describe('Discord adapter start-up failures', () => {
  it('stops with a configuration error when Discord refuses the token', async () => {
    const fake = await startFakeDiscord();
    try {
      const adapter = new DiscordAdapter({ config: { discord: { ...config(fake, []).discord, token: 'not-the-token' } }, logger });
      const failure = await adapter.start(bridge).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ConfigError);
      expect((failure as ConfigError).variable).toBe('DISCORD_BOT_TOKEN');
      expect((failure as Error).message).toMatch(/refused the token/);
    } finally {
      await fake.close();
    }
  });

  it('says to turn on the Message Content intent when Discord refuses it', async () => {
    const fake = await startFakeDiscord({ allowedIntents: 1 | (1 << 9) | (1 << 12) });
    try {
      const adapter = new DiscordAdapter({ config: config(fake, []), logger });
      const failure = await adapter.start(bridge).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ConfigError);
      expect((failure as Error).message).toMatch(/Message Content intent/);
      expect(adapter.isHealthy()).toBe(false);
    } finally {
      await fake.close();
    }
  });
});
