/**
 * Human handoff end to end: the real core and handoff, the real grammY bot against the loopback
 * Telegram fake (a customer's private chat and a private team group in TEAM_CHANNEL), the
 * emulator firing signed webhooks over real HTTP to the bridge's receiver, and the emulator-only
 * routes that play the Asyntai dashboard. Also: a restart on the same SQLite store in the middle
 * of a handoff, and a customer on another platform (the terminal) than the team (Telegram).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Message } from 'grammy/types';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ShellAdapter } from '../../adapters/shell/shell-adapter.js';
import { SlackAdapter } from '../../adapters/slack/slack-adapter.js';
import { TelegramAdapter } from '../../adapters/telegram/telegram-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { Bridge } from '../../src/core/bridge.js';
import { Handoff } from '../../src/core/handoff.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import type { Adapter } from '../../src/core/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { ASYNTAI_WEBHOOK_PATH, mountAsyntaiWebhooks, type AsyntaiWebhookReceiver } from '../../src/http/asyntai-webhooks.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { slackVisibleText, startFakeSlack } from '../fakes/slack-api.js';
import { startFakeTelegram, type FakeTelegram, type SentMessage } from '../fakes/telegram-bot-api.js';

const ADMIN = { id: 1001, first_name: 'Ada' };
const AGENT = { id: 4004, first_name: 'Ann' };
const TEAM = { id: -100777, type: 'supergroup' as const, title: 'Support team' };
const TEAM_CHANNEL = `telegram:${TEAM.id}`;
const logger = createLogger({ level: 'silent' });

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let fake: FakeTelegram;

beforeAll(async () => {
  // Loopback webhooks over plain http; quick retries so a refused delivery is retried in time.
  emulator = await startEmulator({ allowPrivateUrls: true, webhookRetryDelaysMs: [50, 200] });
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  // Privacy mode on, as for a new bot: the team group shows the bot only replies to it and commands.
  fake = await startFakeTelegram();
});

afterAll(async () => {
  await client.close();
  await fake.close();
  await emulator.close();
});

afterEach(() => fake.clearRecords());

/** One running bridge: store, core with handoff, Telegram (and maybe the terminal), webhook receiver. */
interface Instance {
  store: StateStore;
  sessions: SessionMap;
  handoff: Handoff;
  close(options?: { keepStore?: boolean }): Promise<void>;
}

async function startBridge(options: {
  storeUrl?: string;
  store?: StateStore;
  idleMs?: number;
  pollMs?: number;
  teamChannel?: string;
  /** Another adapter beside Telegram (the customer's or the team's platform), given the bridge's HTTP server. */
  extra?: (http: HttpServer, port: number) => Adapter;
} = {}): Promise<Instance> {
  const store = options.store ?? (await openStore(options.storeUrl ?? 'memory://'));
  const sessions = new SessionMap(store);
  const handoff = new Handoff({
    store,
    sessions,
    client,
    logger,
    teamChannel: options.teamChannel ?? TEAM_CHANNEL,
    pollMs: options.pollMs ?? 50,
    idleMs: options.idleMs ?? 60_000,
  });
  const bridge = new Bridge({ client, store, sessions, logger, userRateLimit: 0, handoff });
  const http = new HttpServer(logger);
  const port = await http.listen(0, '127.0.0.1');
  const hook = await client.createWebhook({ url: `http://127.0.0.1:${port}${ASYNTAI_WEBHOOK_PATH}`, events: ['escalation.requested', 'takeover.started'] });
  const receiver: AsyntaiWebhookReceiver = mountAsyntaiWebhooks(http, { secret: hook.secret, store, logger, onEvent: (e) => handoff.onEvent(e) });
  const telegram = new TelegramAdapter({
    config: { telegram: { token: fake.token, apiRoot: fake.apiRoot, adminIds: new Set([String(ADMIN.id)]), webhookUrl: undefined, webhookSecret: undefined } },
    logger,
    http: undefined,
  });
  const adapters = [telegram, ...(options.extra ? [options.extra(http, port)] : [])];
  for (const adapter of adapters) {
    handoff.attach(adapter);
    await adapter.start(bridge);
  }
  handoff.start();
  return {
    store,
    sessions,
    handoff,
    async close({ keepStore = false } = {}) {
      await client.deleteWebhook(hook.id);
      await receiver.stop();
      await handoff.stop();
      for (const adapter of adapters) await adapter.stop();
      await http.close();
      if (!keepStore) await store.close();
    },
  };
}

/** The first message the bot sent in `chatId` whose visible text contains `text`. */
function sentWith(chatId: number, text: string): Promise<SentMessage> {
  return fake.waitFor(() => fake.sentMessages.find((m) => m.chat_id === chatId && m.visibleText.includes(text)), { what: `"${text}" in chat ${chatId}` });
}

function countWith(chatId: number, text: string): number {
  return fake.sentMessages.filter((m) => m.chat_id === chatId && m.visibleText.includes(text)).length;
}

/** A customer in a private chat with the bot. */
function customer(id: number, first_name: string) {
  const from = { id, first_name };
  return {
    id,
    says: (text: string) => fake.userSends({ from, text }),
    /** Sends `text` and waits for the bot's next message in the chat. */
    async asks(text: string): Promise<SentMessage> {
      const before = fake.sentMessages.filter((m) => m.chat_id === id).length;
      fake.userSends({ from, text });
      return (await fake.waitForMessages(before + 1, { chatId: id })).at(before)!;
    },
  };
}

/** Ann, in the team group, replying to one of the bot's messages there. */
const agentReplies = (to: Message, text: string) => fake.userSends({ from: AGENT, chat: TEAM, text, reply_to_message: to });

const messagesUsed = async () => (await client.account()).messages_used;

/** Calls an emulator-only route (plays the Asyntai dashboard). */
async function dashboard(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<number> {
  const res = await request(new URL(`/_emulator/${path}`, emulator.url), {
    method,
    headers: { authorization: `Bearer ${emulator.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.body.dump();
  return res.statusCode;
}

describe('human handoff with a Telegram team group', () => {
  let bridge: Instance;

  beforeAll(async () => {
    bridge = await startBridge();
  });
  afterAll(async () => {
    await bridge.close();
  });

  it('escalation: notice, alert, copies until a reply takes over, relay both ways without /chat/, /resume from the team', async () => {
    const carla = customer(3003, 'Carla');
    await carla.asks('What are your business hours?');
    carla.says('I need to talk to a person');

    // The escalation webhook: the customer is told, the team alerted with the last question and the reason.
    await sentWith(carla.id, 'I have asked a person from our team to join');
    const alert = await sentWith(TEAM.id, 'A customer asked for a person');
    expect(alert.visibleText).toContain(`telegram:${carla.id}`);
    expect(alert.visibleText).toContain('"I need to talk to a person"');
    expect(alert.visibleText).toContain('Reason: visitor_requested_human');

    // Nobody has taken it yet: the assistant answers, and the exchange is copied under the alert.
    const answer = await carla.asks('Do you ship abroad?');
    expect(answer.visibleText).not.toMatch(/support\)/);
    const copy = await sentWith(TEAM.id, 'Carla: Do you ship abroad?');
    expect(copy.reply_to_message_id).toBe(alert.message.message_id);
    expect(copy.visibleText).toContain(`Assistant: ${answer.visibleText.split('\n')[0]}`);

    // Ann replies to the alert: she takes over, and her message reaches Carla.
    const used = await messagesUsed();
    agentReplies(alert.message, "Hi Carla, I'm Ann. Let me check your order.");
    await sentWith(carla.id, 'Ann from our team has joined the conversation.');
    await sentWith(carla.id, "Ann (support): Hi Carla, I'm Ann. Let me check your order.");
    await sentWith(TEAM.id, 'Ann took over');

    // Carla's messages now go to the team, not to /chat/; Ann answers by replying to the relay.
    carla.says('My order number is 1234.');
    const relayed = await sentWith(TEAM.id, 'Carla: My order number is 1234.');
    agentReplies(relayed.message, 'Found it: it ships today.');
    await sentWith(carla.id, 'Ann (support): Found it: it ships today.');
    carla.says('Great, thank you!');
    await sentWith(TEAM.id, 'Carla: Great, thank you!');
    expect(await messagesUsed()).toBe(used);
    expect(countWith(carla.id, 'Carla:')).toBe(0);
    // Telegram refuses the relay (the customer blocked the bot): the team member is told.
    fake.failNext('sendMessage', 1, { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    agentReplies(relayed.message, 'Are you still there?');
    await sentWith(TEAM.id, 'That did not reach the customer');
    expect(countWith(carla.id, 'Are you still there?')).toBe(0);
    expect(countWith(TEAM.id, 'Ann (support)')).toBe(0);

    // /resume, as a reply in the team group: both sides are told and the assistant answers again.
    agentReplies(alert.message, '/resume');
    await sentWith(TEAM.id, 'Handoff ended by Ann');
    await sentWith(carla.id, 'You are talking with the assistant again.');
    const back = await carla.asks('What are your business hours?');
    expect(back.visibleText).toMatch(/\d/);
    expect(await messagesUsed()).toBe(used + 1);

    // A late reply to the old alert is not relayed.
    agentReplies(alert.message, 'Anything else?');
    await sentWith(TEAM.id, 'This handoff has already ended');
    expect(countWith(carla.id, 'Anything else?')).toBe(0);
  });

  it('/human: the notice is its answer; the alert names the customer, their last question and the reason', async () => {
    const dora = customer(3004, 'Dora');
    await dora.asks('How do returns work?');
    expect((await dora.asks('/human my parcel arrived damaged')).visibleText).toContain('I have asked a person from our team to join');
    const alert = await sentWith(TEAM.id, 'Customer: Dora');
    expect(alert.visibleText).toContain('Last question: "How do returns work?"');
    expect(alert.visibleText).toContain('Reason: my parcel arrived damaged');

    expect((await dora.asks('/human')).visibleText).toContain('has already been asked to join');
    // On the customer's side only an admin may end it.
    expect((await dora.asks('/resume')).visibleText).toContain('Only an admin');
    agentReplies(alert.message, '/resume');
    await sentWith(TEAM.id, 'Handoff ended by Ann');
    await sentWith(dora.id, 'You are talking with the assistant again.');
  });

  it('an admin ends a handoff in their own conversation with /resume', async () => {
    const ada = customer(ADMIN.id, ADMIN.first_name);
    await ada.asks('/human testing the handoff');
    const alert = await sentWith(TEAM.id, 'Reason: testing the handoff');
    expect((await ada.asks('/resume')).visibleText).toBe('You are talking with the assistant again. Ask me anything.');
    await sentWith(TEAM.id, 'Handoff ended by Ada');
    expect((await ada.asks('/resume')).visibleText).toContain('There is no handoff in this conversation');
    // A /resume in the team group that replies to nothing names no handoff.
    fake.userSends({ from: AGENT, chat: TEAM, text: '/resume' });
    await sentWith(TEAM.id, 'There is no handoff in this conversation');
    expect(alert.message.message_id).toBeGreaterThan(0);
  });

  it('an escalation in a session the bridge did not make only alerts the team', async () => {
    await client.chat({ message: 'Hello from the website widget', sessionId: 'widget-visitor-1' });
    expect(await dashboard('POST', 'sessions/widget-visitor-1/escalate', { reason: 'refund_dispute' })).toBe(200);
    const alert = await sentWith(TEAM.id, 'outside this bridge');
    expect(alert.visibleText).toContain('widget-visitor-1');
    expect(alert.visibleText).toContain('Reason: refund_dispute');
    agentReplies(alert.message, 'I will take this one');
    await sentWith(TEAM.id, 'answer it in the Asyntai dashboard');
  });

  it('dashboard takeover: /chat/ goes on silently and each agent message is relayed once', async () => {
    const eve = customer(3005, 'Eve');
    const before = await eve.asks('Where can I park?');
    const sessionId = (await bridge.sessions.peek(`telegram:${eve.id}`))!;
    expect(await dashboard('POST', `sessions/${sessionId}/takeover`)).toBe(200);
    await sentWith(eve.id, 'A member of our team has joined the conversation.');

    // The customer's message still goes to /chat/, which answers nothing while the agent has it.
    eve.says('Is anyone there?');
    await expect.poll(async () => (await client.conversation(sessionId)).some((m) => m.content === 'Is anyone there?')).toBe(true);

    expect(await dashboard('POST', `sessions/${sessionId}/messages`, { content: 'Hi Eve, Sam here from the shop.' })).toBe(200);
    await sentWith(eve.id, 'Hi Eve, Sam here from the shop.');
    expect(await dashboard('POST', `sessions/${sessionId}/messages`, { content: 'The car park is behind the building.' })).toBe(200);
    await sentWith(eve.id, 'The car park is behind the building.');
    // Several polls have run meanwhile: each agent message was relayed once, nothing from before the takeover.
    expect(countWith(eve.id, 'Hi Eve, Sam here from the shop.')).toBe(1);
    expect(countWith(eve.id, before.visibleText)).toBe(1);
    expect(fake.sentMessages.filter((m) => m.chat_id === eve.id).map((m) => m.visibleText)).toEqual([
      before.visibleText,
      'A member of our team has joined the conversation.',
      'Hi Eve, Sam here from the shop.',
      'The car park is behind the building.',
    ]);

    // The agent hands back in the dashboard; until /resume, answers the bridge delivered itself
    // are not relayed again by the poll.
    expect(await dashboard('DELETE', `sessions/${sessionId}/takeover`)).toBe(200);
    const answer = await eve.asks('How do returns work?');
    expect(answer.visibleText).not.toBe('');
    expect(await dashboard('POST', `sessions/${sessionId}/messages`, { content: 'Anything else, Eve?' })).toBe(200);
    await sentWith(eve.id, 'Anything else, Eve?');
    expect(countWith(eve.id, answer.visibleText)).toBe(1);
  });
});

describe('idle expiry', () => {
  it('ends a handoff without a message from the team, telling both sides', async () => {
    const bridge = await startBridge({ idleMs: 400 });
    try {
      const finn = customer(3006, 'Finn');
      await finn.asks('/human please call me');
      const alert = await sentWith(TEAM.id, 'Customer: Finn');
      agentReplies(alert.message, 'On it.');
      await sentWith(finn.id, 'Ann (support): On it.');
      await sentWith(finn.id, 'Our team member has left the conversation.');
      await sentWith(TEAM.id, 'without a message from the team');
      const back = await finn.asks('What are your business hours?');
      expect(back.visibleText).toMatch(/\d/);
    } finally {
      await bridge.close();
    }
  });
});

describe('a restart in the middle of a handoff', () => {
  it('keeps relaying both ways from the state in the SQLite store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'handoff-'));
    const storeUrl = `sqlite://${join(dir, 'bridge.sqlite')}`;
    try {
      const gina = customer(3007, 'Gina');
      const first = await startBridge({ storeUrl });
      await gina.asks('/human where is my refund?');
      const alert = await sentWith(TEAM.id, 'Customer: Gina');
      agentReplies(alert.message, 'Checking your refund now.');
      await sentWith(gina.id, 'Ann (support): Checking your refund now.');
      await first.close();

      const second = await startBridge({ storeUrl });
      try {
        const used = await messagesUsed();
        gina.says('Any news?');
        const relayed = await sentWith(TEAM.id, 'Gina: Any news?');
        agentReplies(relayed.message, 'Refunded this morning.');
        await sentWith(gina.id, 'Ann (support): Refunded this morning.');
        expect(await messagesUsed()).toBe(used);
        agentReplies(alert.message, '/resume');
        await sentWith(gina.id, 'You are talking with the assistant again.');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the customer on another platform than the team', () => {
  it('opens a Slack thread on the alert for Telegram customers; replies in it are relayed', async () => {
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
    const inThread = (ts: string, text: string) => slack.waitFor(() => slack.messagesIn('C0TEAM', ts).find((m) => slackVisibleText(m.text).includes(text)), { what: `"${text}" in the alert's thread` });
    try {
      const hana = customer(3008, 'Hana');
      await hana.asks('/human the wrong size was delivered');
      const [alert] = await slack.waitForMessages('C0TEAM', 1);
      expect(slackVisibleText(alert!.text)).toContain('Customer: Hana');
      expect(slackVisibleText(alert!.text)).toContain('Reason: the wrong size was delivered');

      // The assistant still answers; the exchange is copied into the alert's thread.
      await hana.asks('Do you ship abroad?');
      await inThread(alert!.ts, 'Hana: Do you ship abroad?');

      // A reply in the thread, without a mention, takes over; the relay is signed with the
      // display name the event's user_profile carries.
      const profile = { user_profile: { display_name: 'Sam S.', real_name: 'Sam Smith', name: 'sam' } };
      await slack.userSays(sam, 'C0TEAM', 'Hi Hana, we will send the right size today.', { thread_ts: alert!.ts, extra: profile });
      await sentWith(hana.id, 'Sam S. (support): Hi Hana, we will send the right size today.');
      hana.says('Thank you!');
      await inThread(alert!.ts, 'Hana: Thank you!');
      await slack.userSays(sam, 'C0TEAM', '/human', { thread_ts: alert!.ts });
      await inThread(alert!.ts, "This is the team's thread of a handoff");
      // Slack will not send a slash command from a thread: the alert's button ends it, answered in the thread.
      await slack.clickButton(sam, alert!, 'asyntai_resume');
      await inThread(alert!.ts, 'Handoff ended by sam');
      await sentWith(hana.id, 'You are talking with the assistant again.');
    } finally {
      await bridge.close();
      await slack.close();
    }
  });

  it('relays between the terminal and the Telegram team group', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const shell = new ShellAdapter({ input, output, interactive: false });
    const bridge = await startBridge({ extra: () => shell });
    const shellSays = (line: string) => input.write(`${line}\n`);
    const waitPrinted = (text: string) => vi.waitFor(() => expect(printed).toContain(text), { timeout: 5_000 });
    try {
      shellSays('/human I prefer a person');
      await waitPrinted('I have asked a person from our team to join');
      const alert = await sentWith(TEAM.id, 'conversation shell:local');
      agentReplies(alert.message, 'Hello from Telegram!');
      await waitPrinted('Ann (support): Hello from Telegram!');
      shellSays('Hello from the terminal');
      await sentWith(TEAM.id, 'you: Hello from the terminal');
      agentReplies(alert.message, '/resume');
      await waitPrinted('You are talking with the assistant again.');
    } finally {
      input.end();
      await bridge.close();
    }
  });
});

describe('configuration', () => {
  const problem = (env: Record<string, string>) => {
    try {
      loadConfig({ ASYNTAI_API_KEY: 'key', ...env });
      return undefined;
    } catch (err) {
      return err instanceof ConfigError ? err.message : String(err);
    }
  };

  it('takes TEAM_CHANNEL only as a channel id of an enabled adapter', () => {
    expect(problem({ TELEGRAM_BOT_TOKEN: '1:x', TEAM_CHANNEL: 'telegram:-1001234567890' })).toBeUndefined();
    expect(problem({ TELEGRAM_BOT_TOKEN: '1:x', TEAM_CHANNEL: 'telegram:support-team' })).toMatch(/^TEAM_CHANNEL: "support-team" is not a channel id: a Telegram chat id is a number/);
    expect(problem({ TELEGRAM_BOT_TOKEN: '1:x', TEAM_CHANNEL: 'slack:C0123456' })).toBe('TEAM_CHANNEL: names a slack channel but the slack adapter is not enabled (ADAPTERS, or its token)');
    expect(problem({ TELEGRAM_BOT_TOKEN: '1:x', TEAM_CHANNEL: 'discord:general' })).toMatch(/a Discord channel id is a number/);
  });

  it('reads HANDOFF_POLL_SECONDS and HANDOFF_IDLE_MINUTES, defaulting to 5 s and 30 min', () => {
    expect(loadConfig({}).handoff).toEqual({ pollMs: 5_000, idleMs: 30 * 60_000 });
    expect(loadConfig({ HANDOFF_POLL_SECONDS: '2', HANDOFF_IDLE_MINUTES: '90' }).handoff).toEqual({ pollMs: 2_000, idleMs: 90 * 60_000 });
    expect(problem({ HANDOFF_IDLE_MINUTES: '0' })).toBe('HANDOFF_IDLE_MINUTES: must be between 1 and 10080');
  });
});
