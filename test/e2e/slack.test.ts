/**
 * The Slack adapter end to end in HTTP mode: real Bolt (with the bridge's own receiver on the
 * bridge's HttpServer) against the loopback fake of Slack, with the real core and the emulator
 * behind it. Socket Mode, refused tokens and restarts are in slack-lifecycle.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SLACK_MESSAGE_LIMIT, SlackAdapter, TYPING_REACTION, type SlackAdapterDeps } from '../../adapters/slack/slack-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { COMMANDS } from '../../src/core/index.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { slackTextPings, slackVisibleText, startFakeSlack, typedBySlack, type FakeSlack, type PostedMessage, type SlackUser } from '../fakes/slack-api.js';

const ADMIN: SlackUser = { id: 'U0ADMIN', name: 'ada' };
const VISITOR: SlackUser = { id: 'U0VISIT', name: 'vic' };
const CHANNEL = 'C0GENERAL';
const ADMIN_DM = 'D0ADMIN';
const logger = createLogger({ level: 'silent' });

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;
let sessions: SessionMap;
let fake: FakeSlack;
let http: HttpServer;
let adapter: SlackAdapter;

/** What the adapter gets from main, pointed at the fake; fast WebClient retries for the fault tests. */
function deps(overrides: Partial<SlackAdapterDeps['config']['slack']> = {}): SlackAdapterDeps {
  return {
    config: {
      slack: {
        botToken: fake.botToken,
        signingSecret: fake.signingSecret,
        appToken: undefined,
        apiUrl: fake.apiUrl,
        adminIds: new Set([ADMIN.id]),
        threadFollowups: true,
        ...overrides,
      },
    },
    logger,
    http,
    retryConfig: { retries: 2, minTimeout: 10, maxTimeout: 50 },
  };
}

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  store = await openStore('memory://');
  sessions = new SessionMap(store);
  const bridge = new Bridge({ client, store, sessions, logger, userRateLimit: 0, typingDelayMs: 0 }); // typing at once: these tests check each platform's indicator
  fake = await startFakeSlack();
  http = new HttpServer(logger);
  const port = await http.listen(0, '127.0.0.1');
  fake.botUrl = `http://127.0.0.1:${port}/slack/events`;
  adapter = new SlackAdapter(deps());
  await adapter.start(bridge);
});

afterAll(async () => {
  await adapter.stop();
  await http.close();
  await fake.close();
  await client.close();
  await store.close();
  await emulator.close();
});

afterEach(() => {
  emulator.faults.clear();
  fake.clearRecords();
});

let channelCounter = 0;
/** A fresh DM channel per test, so counts are not disturbed by earlier tests. */
function freshDm(): string {
  channelCounter += 1;
  return `D0TEST${channelCounter}`;
}

/** The questions a thread's session holds, as the assistant received them. */
async function questionsIn(threadKey: string): Promise<string[]> {
  const sessionId = await sessions.peek(threadKey);
  if (!sessionId) return [];
  return (await client.conversation(sessionId)).filter((m) => m.role === 'user').map((m) => m.content);
}

const mention = (text: string) => `<@${fake.botUserId}> ${text}`;
const publicIn = (channel: string, threadTs?: string): PostedMessage[] =>
  fake.messagesIn(channel, threadTs).filter((m) => m.visibleTo === undefined);

describe('receiving', () => {
  it('answers url_verification with the challenge, signed', async () => {
    const body = JSON.stringify({ token: 'x', challenge: 'c-123', type: 'url_verification' });
    const res = await fake.postToBot(body, 'application/json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ challenge: 'c-123' });
    expect((await fake.postToBot(body, 'application/json', { signature: 'bad' })).status).toBe(401);
    const sslCheck = await fake.postToBot('ssl_check=1&token=x', 'application/x-www-form-urlencoded');
    expect([sslCheck.status, sslCheck.text]).toEqual([200, '']);
    expect(adapter.isHealthy()).toBe(true);
  });

  it('refuses bad, stale and missing signatures with 401 and processes nothing', async () => {
    const dm = freshDm();
    for (const signature of ['bad', 'stale', 'missing'] as const) {
      const { results } = await fake.userSays(VISITOR, dm, `forged ${signature}: what are your business hours?`, { signature });
      expect(results.map((r) => r.status)).toEqual([401]);
      const command = await fake.slashCommand(ADMIN, CHANNEL, '/kb-add', `Forged ${signature} | This must never be added to the knowledge base.`, { signature });
      expect(command.status).toBe(401);
    }
    // The thread is answered in order: had a forged message got through, it would be answered first.
    await fake.userSays(VISITOR, dm, 'How do returns work?');
    const [answer] = await fake.waitForMessages(dm, 1);
    expect(answer!.text.toLowerCase()).toContain('return');
    expect(fake.messagesIn(dm)).toHaveLength(1);
    expect(await questionsIn(`slack:${fake.teamId}:${dm}`)).toEqual(['How do returns work?']);
    expect((await client.listKnowledge({ limit: 100 })).some((k) => k.title.startsWith('Forged'))).toBe(false);
    expect(fake.views).toHaveLength(0);
  });
});

describe('conversations', () => {
  it('answers a mention in the thread of the mention, with a reaction while working', async () => {
    const { ts, results } = await fake.userSays(VISITOR, CHANNEL, mention('What are your business hours?'));
    expect(results.map((r) => r.status)).toEqual([200, 200]); // app_mention and message.channels
    const [answer] = await fake.waitForMessages(CHANNEL, 1, ts);
    expect(answer!.thread_ts).toBe(ts);
    expect(answer!.text).toMatch(/\d/);
    // The mention is stripped before the question reaches the assistant.
    expect(await questionsIn(`slack:${fake.teamId}:${CHANNEL}:${ts}`)).toEqual(['What are your business hours?']);
    const reaction = `${CHANNEL}/${ts}/${TYPING_REACTION}`;
    expect(fake.reactionsAdded).toContain(reaction);
    await fake.waitFor(() => !fake.reactions.has(reaction), { what: 'the typing reaction to be removed' });
  });

  it('continues a thread it was mentioned in without a new mention, and ignores other chatter', async () => {
    const { ts: root } = await fake.userSays(VISITOR, CHANNEL, mention('Where do you ship?'));
    await fake.waitForMessages(CHANNEL, 1, root);
    // Not for the bot: a plain channel message, and a reply in a thread it was never mentioned in.
    const { ts: chatter } = await fake.userSays(VISITOR, CHANNEL, 'lunch anyone?');
    await fake.userSays(ADMIN, CHANNEL, 'me!', { thread_ts: chatter });
    await fake.userSays(VISITOR, CHANNEL, 'And how long does delivery take?', { thread_ts: root });
    const answers = await fake.waitForMessages(CHANNEL, 2, root);
    expect(answers.every((m) => m.thread_ts === root)).toBe(true);
    expect(await questionsIn(`slack:${fake.teamId}:${CHANNEL}:${root}`)).toEqual(['Where do you ship?', 'And how long does delivery take?']);
    expect(fake.messagesIn(CHANNEL, chatter)).toHaveLength(0);
    expect(fake.messagesIn(CHANNEL).filter((m) => m.thread_ts !== root)).toHaveLength(0);
  });

  it('answers every DM message, outside threads, one session per DM', async () => {
    const dm = freshDm();
    await fake.userSays(VISITOR, dm, 'What are your business hours?');
    await fake.userSays(VISITOR, dm, 'And where do you ship?');
    const answers = await fake.waitForMessages(dm, 2);
    expect(answers.map((m) => m.thread_ts)).toEqual([undefined, undefined]);
    expect(await questionsIn(`slack:${fake.teamId}:${dm}`)).toEqual(['What are your business hours?', 'And where do you ship?']);
  });

  it('ignores bots, itself, edits, deletions and joins', async () => {
    const dm = freshDm();
    const base = { channel: dm, channel_type: 'im', team: fake.teamId };
    await fake.deliverEvent({ ...base, type: 'message', subtype: 'bot_message', bot_id: 'B0OTHER', text: 'I am a bot', ts: fake.nextTs() });
    await fake.deliverEvent({ ...base, type: 'message', user: 'U0OTHERBOT', bot_id: 'B0OTHER', text: 'bot with a user', ts: fake.nextTs() });
    await fake.deliverEvent({ ...base, type: 'message', user: fake.botUserId, text: 'my own words', ts: fake.nextTs() });
    await fake.deliverEvent({ ...base, type: 'message', subtype: 'message_changed', message: { user: VISITOR.id, text: 'edited' }, ts: fake.nextTs() });
    await fake.deliverEvent({ ...base, type: 'message', subtype: 'message_deleted', deleted_ts: '1.000001', ts: fake.nextTs() });
    await fake.deliverEvent({ ...base, type: 'message', subtype: 'channel_join', user: VISITOR.id, text: 'joined', ts: fake.nextTs() });
    await fake.userSays(VISITOR, dm, 'How do returns work?');
    await fake.waitForMessages(dm, 1);
    expect(fake.messagesIn(dm)).toHaveLength(1);
    expect(await questionsIn(`slack:${fake.teamId}:${dm}`)).toEqual(['How do returns work?']);
  });

  it('answers a message once: retries and the app_mention + message twin', async () => {
    const ts = fake.nextTs();
    const event = { type: 'app_mention', user: VISITOR.id, text: mention('How do returns work?'), ts, event_ts: ts, channel: CHANNEL, team: fake.teamId };
    await fake.deliverEvent(event, { eventId: 'Ev0TWIN1' });
    await fake.deliverEvent({ ...event, type: 'message', channel_type: 'channel' }, { eventId: 'Ev0TWIN2' });
    await fake.deliverEvent(event, { eventId: 'Ev0TWIN1', retryNum: 1, retryReason: 'http_timeout' });
    await fake.deliverEvent(event, { eventId: 'Ev0TWIN1', retryNum: 2, retryReason: 'http_timeout' });
    await fake.waitForMessages(CHANNEL, 1, ts);
    // A later message of the same thread is answered after the first: had a duplicate been answered, it would show now.
    await fake.userSays(VISITOR, CHANNEL, 'thanks, and shipping?', { thread_ts: ts });
    await fake.waitForMessages(CHANNEL, 2, ts);
    expect(fake.messagesIn(CHANNEL, ts)).toHaveLength(2);
    expect(await questionsIn(`slack:${fake.teamId}:${CHANNEL}:${ts}`)).toEqual(['How do returns work?', 'thanks, and shipping?']);
  });

  it('answers a retry of a message whose answer could not be posted', async () => {
    const dm = freshDm();
    // The answer cannot be posted: the core frees its claim on the message.
    fake.failNext('chat.postMessage', { error: 'fatal_error' });
    const ts = fake.nextTs();
    const event = { type: 'message', channel_type: 'im', user: VISITOR.id, text: 'What are your business hours?', ts, event_ts: ts, channel: dm, team: fake.teamId };
    await fake.deliverEvent(event, { eventId: 'Ev0FAIL' });
    // The typing reaction comes off once the core has given up on the message.
    await fake.waitFor(() => fake.calls.filter((c) => c.method === 'chat.postMessage' && !c.ok).length === 1 && fake.calls.some((c) => c.method === 'reactions.remove'), {
      what: 'the failed attempt to finish',
    });
    expect(fake.messagesIn(dm)).toHaveLength(0);
    await fake.deliverEvent(event, { eventId: 'Ev0FAIL', retryNum: 1, retryReason: 'http_error' });
    const [answer] = await fake.waitForMessages(dm, 1);
    expect(answer!.text).toMatch(/\d/);
  });

  it('acknowledges at once while the assistant takes 4 s, and answers afterwards', async () => {
    const dm = freshDm();
    emulator.faults.setLatency(4_000);
    const { results } = await fake.userSays(VISITOR, dm, 'What are your business hours?');
    const command = await fake.slashCommand(VISITOR, CHANNEL, '/ask', 'How do returns work?');
    // Both acknowledgements arrived while /chat/ was still pending: no answer exists yet.
    expect(results.map((r) => r.status)).toEqual([200]);
    expect(command.status).toBe(200);
    expect(command.text).toBe('');
    expect(fake.messages).toHaveLength(0);
    await fake.waitForMessages(dm, 1);
    const asked = await fake.waitFor(() => fake.messages.find((m) => m.responseUrl !== undefined && command.responseUrl.endsWith(m.responseUrl)), {
      what: 'the /ask answer',
      timeoutMs: 10_000,
    });
    expect(asked.visibleTo).toBe(VISITOR.id);
    expect(asked.text.toLowerCase()).toContain('return');
  });

  it('retries Slack 429 (Retry-After) and 5xx and still answers', async () => {
    const dm = freshDm();
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    fake.failNext('chat.postMessage', { status: 503 });
    await fake.userSays(VISITOR, dm, 'What are your business hours?');
    await fake.waitForMessages(dm, 1);
    expect(fake.calls.filter((c) => c.method === 'chat.postMessage').map((c) => c.status ?? 200)).toEqual([429, 503, 200]);
  });

  it('splits a long answer into parts under the limit, in order, all in the thread', async () => {
    const { ts: root } = await fake.userSays(ADMIN, CHANNEL, mention('Question 0: tell me about shipping.'));
    await fake.waitForMessages(CHANNEL, 1, root);
    // Twelve long questions: their history is longer than one Slack message can be.
    const filler = 'Tell me about shipping and returns, please, in detail. '.repeat(60);
    for (let i = 1; i <= 12; i++) await fake.userSays(ADMIN, CHANNEL, `Question ${i}: ${filler}`, { thread_ts: root });
    await fake.waitForMessages(CHANNEL, 13, root);
    const before = fake.messagesIn(CHANNEL, root).length;
    await fake.userSays(ADMIN, CHANNEL, mention('/history 50'), { thread_ts: root });
    await fake.userSays(ADMIN, CHANNEL, mention('/help'), { thread_ts: root });
    await fake.waitFor(() => fake.messagesIn(CHANNEL, root).slice(before).some((m) => m.text.includes('/ask')), { what: '/help after /history' });
    const parts = fake.messagesIn(CHANNEL, root).slice(before, -1);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) {
      expect(part.thread_ts).toBe(root);
      expect(part.text.length).toBeLessThanOrEqual(SLACK_MESSAGE_LIMIT);
    }
    const all = parts.map((p) => p.text).join('\n');
    const positions = [0, 1, 6, 12].map((i) => all.indexOf(`Question ${i}:`));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });
});

describe('slash command answers longer than a response_url takes', () => {
  it('goes on with ephemeral posts after the five response_url uses, in order', async () => {
    const dm = freshDm();
    const filler = 'Tell me about shipping and returns, please, in detail. '.repeat(60);
    for (let i = 0; i < 12; i++) await fake.userSays(VISITOR, dm, `Question ${i}: ${filler}`);
    await fake.waitForMessages(dm, 12);
    const res = await fake.slashCommand(VISITOR, dm, '/history', '50');
    const parts = await fake.waitFor(() => {
      const found = fake.messagesIn(dm).slice(12);
      return found.some((m) => m.text.includes('Question 11:')) ? found : undefined;
    }, { what: 'the whole history' });
    expect(parts.length).toBeGreaterThan(5);
    expect(parts.slice(0, 5).every((m) => m.via === 'response_url' && res.responseUrl.endsWith(`/${m.responseUrl}`))).toBe(true);
    expect(parts.slice(5).every((m) => m.via === 'chat.postEphemeral' && m.visibleTo === VISITOR.id)).toBe(true);
    const all = parts.map((m) => m.text).join('\n');
    const positions = [0, 5, 11].map((i) => all.indexOf(`Question ${i}:`));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
  });
});

describe('escaping', () => {
  it('answers with knowledge full of pings without pinging anyone', async () => {
    const content = 'Ping policy: we never use <!channel>, <!here>, <!everyone>, @here, @channel or <@U0ADMIN> for parcel alerts & <b>tags</b>.';
    // Typed in Slack's message box, `<` and `&` arrive escaped; the bridge stores them literally.
    const added = await fake.slashCommand(ADMIN, CHANNEL, '/kb-add', typedBySlack(`Parcel alert pings | ${content}`));
    expect(added.status).toBe(200);
    await fake.waitFor(() => fake.messages.find((m) => m.text.includes('Added')), { what: 'the /kb-add answer' });
    const { ts } = await fake.userSays(VISITOR, CHANNEL, mention('What is your ping policy for parcel alerts?'));
    const [answer] = await fake.waitForMessages(CHANNEL, 1, ts);
    expect(answer!.text.toLowerCase()).toContain('ping policy');
    // The knowledge holds the tokens literally, and the user sees them literally.
    expect(slackVisibleText(answer!.text)).toContain('<!channel>, <!here>, <!everyone>');
    for (const message of fake.messages) expect(slackTextPings(message.text), message.text).toBe(false);
    expect(fake.calls.filter((c) => c.method === 'chat.postMessage').every((c) => c.params.link_names === undefined && c.params.parse === undefined)).toBe(true);
  });
});

/** The fields a view_submission answer marks as wrong (`response_action: 'errors'`), or undefined. */
function errorsOf(body: unknown): string[] | undefined {
  const answer = body as { response_action?: string; errors?: Record<string, string> } | undefined;
  return answer?.response_action === 'errors' ? Object.keys(answer.errors ?? {}) : undefined;
}

describe('slash commands', () => {
  /** What a user sees after a slash command: its ack body, and what came through its response_url. */
  async function run(user: SlackUser, name: string, text = '') {
    const res = await fake.slashCommand(user, CHANNEL, `/${name}`, text);
    expect(res.status).toBe(200);
    return res;
  }
  const viaResponseUrl = (responseUrl: string) => fake.messages.filter((m) => m.responseUrl !== undefined && responseUrl.endsWith(`/${m.responseUrl}`));

  /** Arguments that make each command do its work. */
  const ARGS: Record<string, string> = { ask: 'What are your business hours?', website: '1', 'kb-url': 'http://127.0.0.1:9/private-page', 'kb-delete': 'no-such-id' };

  it.each(COMMANDS.filter((c) => c.adminOnly).map((c) => c.name))('refuses /%s to a visitor at once, privately, in the acknowledgement', async (name) => {
    const res = await run(VISITOR, name, ARGS[name] ?? '');
    expect(res.body).toMatchObject({ response_type: 'ephemeral', text: `/${name} is only for admins of this bot.` });
    expect(fake.views).toHaveLength(0);
    expect(viaResponseUrl(res.responseUrl)).toHaveLength(0);
  });

  it.each(COMMANDS.map((c) => c.name))('runs /%s for an admin, to the admin alone', async (name) => {
    const res = await run(ADMIN, name, ARGS[name] ?? '');
    // Each command shows something: an answer, a modal, or a confirmation question.
    const outcome = await fake.waitFor(
      () => viaResponseUrl(res.responseUrl)[0] ?? fake.views.find((v) => v.trigger_id === res.triggerId) ?? (res.body as { blocks?: unknown } | undefined)?.blocks,
      { what: `an outcome of /${name}` },
    );
    expect(outcome).toBeDefined();
    for (const message of fake.messages) expect(message.visibleTo ?? (message.channel.startsWith('D') ? 'dm' : undefined)).toBeDefined();
  });

  it.each(COMMANDS.filter((c) => !c.adminOnly).map((c) => c.name))('runs /%s for a visitor', async (name) => {
    const res = await run(VISITOR, name, ARGS[name] ?? '');
    const [first] = await fake.waitFor(() => (viaResponseUrl(res.responseUrl).length > 0 ? viaResponseUrl(res.responseUrl) : undefined), { what: `the answer to /${name}` });
    expect(first!.visibleTo).toBe(VISITOR.id);
    expect(first!.text).not.toMatch(/only for admins/);
  });

  it('/kb-add with text adds at once', async () => {
    const res = await run(ADMIN, 'kb-add', 'Bike repair | We repair bicycles every Saturday morning.');
    const [answer] = await fake.waitFor(() => (viaResponseUrl(res.responseUrl).length > 0 ? viaResponseUrl(res.responseUrl) : undefined));
    expect(answer!.text).toMatch(/Added .*Bike repair/);
    expect((await client.listKnowledge({ limit: 100 })).some((k) => k.title === 'Bike repair')).toBe(true);
  });

  it('/kb-add without text opens a modal that checks the fields in place, then adds', async () => {
    const res = await run(ADMIN, 'kb-add');
    const opened = await fake.waitFor(() => fake.views.find((v) => v.trigger_id === res.triggerId), { what: 'the modal' });
    const countBefore = (await client.listKnowledge({ limit: 100 })).length;

    const tooShort = await fake.submitView(ADMIN, opened, { title: 'Gift wrap', content: 'free' });
    expect(errorsOf(tooShort.body)).toEqual(['content']);
    expect(opened.errors?.content).toMatch(/at least 10/i);
    const empty = await fake.submitView(ADMIN, opened, { title: '   ', content: 'We wrap gifts for free at the counter.' });
    expect(errorsOf(empty.body)).toEqual(['title']);
    expect(opened.closed).toBe(false);
    expect((await client.listKnowledge({ limit: 100 })).length).toBe(countBefore);

    const ok = await fake.submitView(ADMIN, opened, { title: 'Gift wrap', content: 'We wrap gifts for free at the counter.' });
    expect(ok.status).toBe(200);
    expect(opened.closed).toBe(true);
    const [answer] = await fake.waitFor(() => (viaResponseUrl(res.responseUrl).length > 0 ? viaResponseUrl(res.responseUrl) : undefined));
    expect(answer!.text).toMatch(/Added .*Gift wrap/);
    expect(answer!.visibleTo).toBe(ADMIN.id);
    expect((await client.listKnowledge({ limit: 100 })).some((k) => k.title === 'Gift wrap')).toBe(true);
  });

  it('/kb-upload opens a file modal; the file is downloaded with the bot token and added', async () => {
    const res = await run(ADMIN, 'kb-upload');
    const opened = await fake.waitFor(() => fake.views.find((v) => v.trigger_id === res.triggerId), { what: 'the upload modal' });
    const none = await fake.submitView(ADMIN, opened, {});
    expect(errorsOf(none.body)).toEqual(['file']);
    const text = fake.userUploads('notes.txt', Buffer.from('just some notes'), 'text/plain');
    const wrong = await fake.submitView(ADMIN, opened, { file: [text] });
    expect(errorsOf(wrong.body)).toEqual(['file']);
    expect(opened.errors?.file).toMatch(/csv/i);
    expect(fake.downloads).toHaveLength(0);

    const csv = fake.userUploads('faq.csv', Buffer.from('question,answer\nDo you sell gift cards?,Yes: gift cards from 10 to 500 euros.\n'));
    const ok = await fake.submitView(ADMIN, opened, { file: [csv] });
    expect(ok.status).toBe(200);
    const [answer] = await fake.waitFor(() => (viaResponseUrl(res.responseUrl).length > 0 ? viaResponseUrl(res.responseUrl) : undefined));
    expect(answer!.text).toMatch(/Added .*1 row processed/);
    expect(fake.downloads).toEqual([{ fileId: csv.id, authorized: true }]);
  });

  it('/kb-delete asks for confirmation with a button before deleting', async () => {
    const entry = await client.addKnowledgeText({ title: 'Temporary entry', content: 'This entry is about to be deleted again.' });
    await run(ADMIN, 'kb-delete', entry.id);
    const prompt = fake.messages.find((m) => m.via === 'ack' && m.blocks !== undefined)!;
    expect(prompt.visibleTo).toBe(ADMIN.id);
    expect(prompt.text).toMatch(/cannot be undone/);
    expect((await client.listKnowledge({ limit: 100 })).some((k) => k.id === entry.id)).toBe(true);

    // A visitor who somehow clicks is refused; nothing is deleted.
    await fake.clickButton(VISITOR, prompt, 'asyntai_confirm');
    const refused = await fake.waitFor(() => fake.messages.find((m) => m.visibleTo === VISITOR.id));
    expect(refused.text).toMatch(/only for admins/);

    await fake.clickButton(ADMIN, prompt, 'asyntai_cancel');
    const cancelled = await fake.waitFor(() => fake.messages.find((m) => /Cancelled/.test(m.text)));
    expect(cancelled.replaceOriginal).toBe(true);
    expect((await client.listKnowledge({ limit: 100 })).some((k) => k.id === entry.id)).toBe(true);

    await fake.clickButton(ADMIN, prompt, 'asyntai_confirm');
    const done = await fake.waitFor(() => fake.messages.find((m) => /Deleted entry/.test(m.text)));
    expect(done.replaceOriginal).toBe(true);
    expect(done.visibleTo).toBe(ADMIN.id);
    expect((await client.listKnowledge({ limit: 100 })).some((k) => k.id === entry.id)).toBe(false);
  });
});

describe('personal data', () => {
  it('never shows leads in public: ephemeral list, CSV in the admin DM', async () => {
    const dm = freshDm();
    await fake.userSays(VISITOR, dm, 'Please write to <mailto:vic.lead@example.com|vic.lead@example.com> about my order');
    await fake.waitForMessages(dm, 1);

    const { ts } = await fake.userSays(ADMIN, CHANNEL, mention('/leads'));
    const list = await fake.waitFor(() => fake.messages.find((m) => m.text.includes('vic.lead@example.com')), { what: 'the leads list' });
    expect(list.visibleTo).toBe(ADMIN.id);
    expect(list.thread_ts).toBe(ts);
    const csv = await fake.waitFor(() => fake.files.find((f) => f.name === 'leads.csv'), { what: 'the CSV' });
    expect(csv.channel).toBe(ADMIN_DM);
    expect(csv.bytes.toString()).toContain('vic.lead@example.com');

    const slash = await fake.slashCommand(ADMIN, CHANNEL, '/leads');
    await fake.waitFor(() => fake.files.filter((f) => f.name === 'leads.csv').length === 2, { what: 'the second CSV' });
    expect(fake.files.every((f) => f.channel === ADMIN_DM)).toBe(true);
    expect(fake.messages.some((m) => slash.responseUrl.endsWith(`/${m.responseUrl}`) && m.text.includes('vic.lead@example.com'))).toBe(true);
    for (const message of publicIn(CHANNEL)) expect(message.text).not.toContain('vic.lead@example.com');
  });
});

describe('openThread', () => {
  it('posts an alert and delivers every message of its thread without a mention', async () => {
    const threadKey = await adapter.openThread('slack:C0TEAM', 'A customer asks for a person: **take it** by replying here.');
    const [alert] = await fake.waitForMessages('C0TEAM', 1);
    expect(alert!.thread_ts).toBeUndefined();
    expect(threadKey).toBe(`slack:${fake.teamId}:C0TEAM:${alert!.ts}`);
    await fake.userSays(ADMIN, 'C0TEAM', 'What are your business hours?', { thread_ts: alert!.ts });
    await fake.waitForMessages('C0TEAM', 2);
    expect(await questionsIn(threadKey)).toEqual(['What are your business hours?']);
    await expect(adapter.openThread(`slack:${fake.teamId}:C0TEAM:${alert!.ts}`, 'no')).rejects.toThrow(/channel address/);
  });
});

describe('send', () => {
  it('posts to a bare channel, a thread and a slash-command conversation; rejects what Slack refuses', async () => {
    await adapter.send('slack:C0TEAM', 'Handoff: **a human** is needed');
    const [bare] = await fake.waitForMessages('C0TEAM', 1);
    expect(bare!.text).toContain('a human');
    await adapter.send(`slack:${fake.teamId}:C0TEAM:1712345678.000100`, 'in the thread');
    expect(fake.messagesIn('C0TEAM', '1712345678.000100')).toHaveLength(1);
    await adapter.send(`slack:${fake.teamId}:C0TEAM:u${VISITOR.id}`, 'just for you');
    expect(fake.messagesIn('C0TEAM').at(-1)).toMatchObject({ visibleTo: VISITOR.id, text: 'just for you' });
    fake.failNext('chat.postMessage', { error: 'channel_not_found' });
    await expect(adapter.send('slack:C0GONE', 'hello')).rejects.toThrow(/channel_not_found/);
    await expect(adapter.send('telegram:42', 'hello')).rejects.toThrow(/not a Slack thread key/);
  });
});
