/**
 * The contract every adapter passes: the same conversations, driven through each adapter's real
 * transport (the shell's streams, grammY against the fake Bot API), with the real core and the
 * emulator behind. A new adapter adds a driver here.
 */
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordAdapter } from '../../adapters/discord/discord-adapter.js';
import { ShellAdapter } from '../../adapters/shell/shell-adapter.js';
import { SLACK_MESSAGE_LIMIT, SlackAdapter } from '../../adapters/slack/slack-adapter.js';
import { TELEGRAM_TEXT_LIMIT, TelegramAdapter } from '../../adapters/telegram/telegram-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { SessionMap } from '../../src/core/session-map.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { slackTextPings, slackVisibleText, startFakeSlack, typedBySlack } from '../fakes/slack-api.js';
import { allowsPings, DISCORD_CONTENT_LIMIT, hasLiveMention, startFakeDiscord, visibleText, type FakeUser } from '../fakes/discord-api.js';
import { startFakeTelegram } from '../fakes/telegram-bot-api.js';

/** Drives one adapter as a user of its platform would, in one private conversation per user. */
interface AdapterDriver {
  /** The command as this platform's users type it (`/kb_add` on Telegram). */
  command(name: string, args?: string): string;
  /** Sends `text` as the admin or a visitor, without waiting for an answer. */
  send(text: string, asAdmin: boolean): void;
  /** The visible text of every answer so far in that user's conversation. */
  answers(asAdmin: boolean): readonly string[];
  /** Resolves once `check` holds (re-checked after each answer); rejects after a few seconds. */
  waitUntil(check: () => boolean): Promise<void>;
  stop(): Promise<void>;
  /**
   * Runs a command the way the platform delivers it (a slash command with named options, an
   * interaction), not as typed text; absent where commands are only typed (the shell). The answer
   * shows in `answers(asAdmin)`.
   */
  platformCommand?: (name: string, values: Readonly<Record<string, string>>, asAdmin: boolean) => void;
  /**
   * Sends the command with no arguments, expects the platform's form to open (before any API
   * call: nothing is asked of the assistant to open it), fills it with `values` and submits it.
   * Resolves with the ids of the fields the form showed. Absent where the platform has no forms.
   */
  submitForm?: (name: string, values: Readonly<Record<string, string>>, asAdmin: boolean) => Promise<string[]>;
  /** Sends `text` where others can read it (a group, a channel with a mention). */
  sendPublic?: (text: string, asAdmin: boolean) => void;
  /** Every message others can read (not ephemeral, not in a DM), as sent on the wire. */
  publicMessages?: () => readonly string[];
  /**
   * Whether any message sent so far could have notified people who were not addressed: a mass
   * mention allowed on the wire, or a mention token (`<!channel>`, `<@U…>`) left unescaped.
   */
  pingedAnyone?: () => boolean;
  /**
   * How many messages the bot has sent anywhere, private ones included: where personal data asked
   * for in public is answered privately only (Slack's ephemeral messages), nothing public follows.
   */
  sentCount?: () => number;
}

type DriverFactory = (bridge: Bridge) => Promise<AdapterDriver>;

/** What the contract needs to know of a platform before it starts. */
interface Platform {
  name: string;
  /** Longest answer the platform takes in one message. */
  limit: number;
  /** Whether the platform can have a user who is not an admin (the shell's user always is). */
  hasNonAdmins: boolean;
  /** Whether commands arrive parsed by the platform with named options (driver: `platformCommand`). */
  platformCommands?: boolean;
  /** Whether the platform has forms (driver: `submitForm`). */
  forms?: boolean;
  /** Whether a message can notify people by mass or user mentions (driver: `pingedAnyone`). */
  mentionsCanPing?: boolean;
  create: DriverFactory;
}

/** The driver's optional capability, which the platform's flags promise. */
function needs<T>(capability: T | undefined, what: string): T {
  if (capability === undefined) throw new Error(`the driver lacks ${what}, which its platform flags promise`);
  return capability;
}

const logger = createLogger({ level: 'silent' });

const shellDriver: DriverFactory = async (bridge) => {
  const input = new PassThrough();
  const answers: string[] = [];
  const waiters = new Set<() => void>();
  // The shell writes each answer in one write, followed by a blank line.
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      answers.push(chunk.toString().replace(/\n\n$/, ''));
      for (const wake of waiters) wake();
      done();
    },
  });
  const shell = new ShellAdapter({ input, output, interactive: false });
  await shell.start(bridge);
  return {
    command: (name, args) => `/${name}${args ? ` ${args}` : ''}`,
    send: (text) => void input.write(`${text}\n`),
    answers: () => answers,
    waitUntil: (check) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; answers so far:\n${answers.join('\n---\n')}`)), 5_000);
        const poll = () => {
          if (!check()) return;
          waiters.delete(poll);
          clearTimeout(timer);
          resolve();
        };
        waiters.add(poll);
        poll();
      }),
    stop: async () => {
      input.end();
      await shell.finished;
    },
  };
};

const telegramDriver: DriverFactory = async (bridge) => {
  const fake = await startFakeTelegram({ token: '7000000077:AAH-contract-bot' });
  const admin = { id: 501, first_name: 'Admin' };
  const visitor = { id: 502, first_name: 'Visitor' };
  const adapter = new TelegramAdapter({
    config: { telegram: { token: fake.token, apiRoot: fake.apiRoot, adminIds: new Set([String(admin.id)]), webhookUrl: undefined, webhookSecret: undefined } },
    logger,
    http: undefined,
  });
  await adapter.start(bridge);
  const group = { id: -100777, type: 'supergroup' as const, title: 'Contract group' };
  return {
    command: (name, args) => `/${name.replace(/-/g, '_')}${args ? ` ${args}` : ''}`,
    send: (text, asAdmin) => void fake.userSends({ from: asAdmin ? admin : visitor, text }),
    sendPublic: (text, asAdmin) => void fake.userSends({ from: asAdmin ? admin : visitor, chat: group, text }),
    publicMessages: () => fake.sentMessages.filter((m) => m.chat_id === group.id).map((m) => m.text),
    answers: (asAdmin) => fake.sentMessages.filter((m) => m.chat_id === (asAdmin ? admin : visitor).id).map((m) => m.visibleText),
    waitUntil: async (check) => {
      await fake.waitFor(check);
    },
    stop: async () => {
      await adapter.stop();
      await fake.close();
    },
  };
};

const slackDriver: DriverFactory = async (bridge) => {
  const fake = await startFakeSlack();
  const http = new HttpServer(logger);
  fake.botUrl = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}/slack/events`;
  const admin = { id: 'U0CADMIN', name: 'admin' };
  const visitor = { id: 'U0CVISIT', name: 'visitor' };
  const dmOf = (asAdmin: boolean) => `D${(asAdmin ? admin : visitor).id.slice(1)}`;
  const channel = 'C0CONTRACT';
  const adapter = new SlackAdapter({
    config: { slack: { botToken: fake.botToken, signingSecret: fake.signingSecret, appToken: undefined, apiUrl: fake.apiUrl, adminIds: new Set([admin.id]), threadFollowups: true } },
    logger,
    http,
  });
  await adapter.start(bridge);
  // In Slack, a message box starting with `/` runs the slash command rather than posting text.
  const deliver = (text: string, asAdmin: boolean, where: string) => {
    const user = asAdmin ? admin : visitor;
    const command = /^(\/[\w-]+)(?:\s+([\s\S]*))?$/.exec(text);
    if (command && where.startsWith('D')) void fake.slashCommand(user, where, command[1]!, typedBySlack(command[2] ?? ''));
    else void fake.userSays(user, where, where.startsWith('D') ? typedBySlack(text) : `<@${fake.botUserId}> ${typedBySlack(text)}`);
  };
  return {
    command: (name, args) => `/${name}${args ? ` ${args}` : ''}`,
    send: (text, asAdmin) => deliver(text, asAdmin, dmOf(asAdmin)),
    sendPublic: (text, asAdmin) => deliver(text, asAdmin, channel),
    // Everything the user sees in the DM: posts, and what only they see (response_url, ephemeral).
    answers: (asAdmin) => fake.messagesIn(dmOf(asAdmin)).map((m) => slackVisibleText(m.text)),
    publicMessages: () => fake.messagesIn(channel).filter((m) => m.visibleTo === undefined).map((m) => m.text),
    pingedAnyone: () =>
      fake.messages.some((m) => slackTextPings(m.text)) ||
      fake.calls.some((c) => c.params.link_names !== undefined || c.params.parse === 'full'),
    sentCount: () => fake.messages.length,
    submitForm: async (name, values, asAdmin) => {
      const user = asAdmin ? admin : visitor;
      const res = await fake.slashCommand(user, dmOf(asAdmin), `/${name}`);
      const opened = await fake.waitFor(() => fake.views.find((v) => v.trigger_id === res.triggerId), { what: `the /${name} form` });
      const fields = (opened.view.blocks ?? []).filter((b) => b.type === 'input').map((b) => String(b.block_id));
      await fake.submitView(user, opened, { ...values });
      return fields;
    },
    waitUntil: async (check) => {
      await fake.waitFor(check);
    },
    stop: async () => {
      await adapter.stop();
      await http.close();
      await fake.close();
    },
  };
};

const discordDriver: DriverFactory = async (bridge) => {
  const fake = await startFakeDiscord();
  const admin: FakeUser = { id: '500000000000000001', username: 'admin' };
  const visitor: FakeUser = { id: '500000000000000002', username: 'visitor' };
  // Public messages come from other accounts of the same people: what the bot sends to their DMs
  // as a result (leads) then stays out of the private conversations the contract reads.
  const publicAdmin: FakeUser = { id: '500000000000000003', username: 'admin-in-public' };
  const publicVisitor: FakeUser = { id: '500000000000000004', username: 'visitor-in-public' };
  const adapter = new DiscordAdapter({
    config: { discord: { token: fake.token, apiUrl: fake.apiUrl, adminIds: new Set([admin.id, publicAdmin.id]), guildId: undefined, replyMode: 'reply' } },
    logger,
  });
  await adapter.start(bridge);
  const user = (asAdmin: boolean): FakeUser => (asAdmin ? admin : visitor);
  const dms = new Set([admin, visitor, publicAdmin, publicVisitor].map((u) => fake.dmChannelOf(u)));
  const isPublic = (m: { channel_id: string; flags: number }): boolean => !dms.has(m.channel_id) && (m.flags & 64) === 0;
  return {
    command: (name, args) => `/${name}${args ? ` ${args}` : ''}`,
    // The DM: every message there is for the bot.
    send: (text, asAdmin) => void fake.userSends({ author: user(asAdmin), content: text }),
    sendPublic: (text, asAdmin) =>
      void fake.userSends({ author: asAdmin ? publicAdmin : publicVisitor, channelId: fake.channels.general, content: `<@${fake.bot.id}> ${text}` }),
    publicMessages: () => fake.sent.filter(isPublic).map((m) => m.content),
    answers: (asAdmin) => fake.sent.filter((m) => m.channel_id === fake.dmChannelOf(user(asAdmin))).map((m) => visibleText(m.content)),
    platformCommand: (name, values, asAdmin) => void fake.runCommand({ user: user(asAdmin), name, options: { ...values } }),
    submitForm: async (name, values, asAdmin) => {
      const command = fake.runCommand({ user: user(asAdmin), name });
      await fake.waitFor(() => command.callbacks.length > 0);
      const modal = command.callbacks[0]!;
      if (modal.type !== 9) throw new Error(`expected a modal (callback type 9), got type ${modal.type}`);
      const rows = modal.data!.components as Array<{ components: Array<{ custom_id: string }> }>;
      fake.submitModal({ user: user(asAdmin), customId: String(modal.data!.custom_id), fields: { ...values } });
      return rows.map((row) => row.components[0]!.custom_id);
    },
    pingedAnyone: () => fake.sent.some((m) => hasLiveMention(m.content) || allowsPings(m.allowed_mentions)),
    waitUntil: async (check) => {
      await fake.waitFor(check);
    },
    stop: async () => {
      await adapter.stop();
      await fake.close();
    },
  };
};

const PLATFORMS: Platform[] = [
  { name: 'shell', limit: Number.POSITIVE_INFINITY, hasNonAdmins: false, create: shellDriver },
  { name: 'telegram', limit: TELEGRAM_TEXT_LIMIT, hasNonAdmins: true, create: telegramDriver },
  {
    name: 'discord',
    limit: DISCORD_CONTENT_LIMIT,
    hasNonAdmins: true,
    platformCommands: true,
    forms: true,
    mentionsCanPing: true,
    create: discordDriver,
  },
  { name: 'slack', limit: SLACK_MESSAGE_LIMIT, hasNonAdmins: true, forms: true, mentionsCanPing: true, create: slackDriver },
];

let emulator: EmulatorHandle;
let client: AsyntaiClient;

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
});

afterAll(async () => {
  await client.close();
  await emulator.close();
});

describe.each(PLATFORMS)('$name adapter contract', (platform) => {
  let store: StateStore;
  let driver: AdapterDriver;

  beforeAll(async () => {
    store = await openStore('memory://');
    const bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger, userRateLimit: 0 });
    driver = await platform.create(bridge);
  });

  afterAll(async () => {
    await driver.stop();
    await store.close();
  });

  /** Sends `text` and resolves with the next `count` answers. */
  async function say(text: string, { asAdmin = true, count = 1 } = {}): Promise<string[]> {
    const before = driver.answers(asAdmin).length;
    driver.send(text, asAdmin);
    await driver.waitUntil(() => driver.answers(asAdmin).length >= before + count);
    return driver.answers(asAdmin).slice(before, before + count);
  }

  it('answers a question from the knowledge base', async () => {
    const [answer] = await say('What are your business hours?');
    expect(answer).toMatch(/\d/);
  });

  it('stays silent on a blank message', async () => {
    // The thread is answered in order: had the blank been answered, that answer would come first.
    driver.send('   ', true);
    const [next] = await say(driver.command('help'));
    expect(next).toMatch(/^Ask me anything/);
  });

  it('adds knowledge with /kb-add and answers from it', async () => {
    const [added] = await say(driver.command('kb-add', 'Bike repair | We repair bicycles every Saturday morning.'));
    expect(added).toMatch(/Added.*Bike repair/);
    const [answer] = await say('Do you repair bikes?');
    expect(answer!.toLowerCase()).toContain('saturday');
  });

  it('shows hostile characters literally', async () => {
    const [added] = await say(driver.command('kb-add', '<b>Tags</b> & <i>more</i> | Plain text with <script> & ampersands.'));
    expect(added).toContain('<b>Tags</b> & <i>more</i>');
  });

  if (platform.hasNonAdmins) {
    it('refuses admin commands to visitors', async () => {
      const [refused] = await say(driver.command('usage'), { asAdmin: false });
      expect(refused).toBe('/usage is only for admins of this bot.');
    });
  }

  it('splits a long answer under the platform limit without losing anything', async () => {
    const long = 'Tell me about shipping and returns, please, in detail. '.repeat(12);
    for (let i = 0; i < 12; i++) await say(`Question ${i}: ${long}`);
    const before = driver.answers(true).length;
    driver.send(driver.command('history', '24'), true);
    // The thread is answered in order: once /help is answered, every chunk of /history is out.
    driver.send(driver.command('help'), true);
    await driver.waitUntil(() => driver.answers(true).slice(before).some((a) => a.startsWith('Ask me anything')));
    const history = driver.answers(true).slice(before, -1);
    if (Number.isFinite(platform.limit)) expect(history.length).toBeGreaterThan(1);
    for (const chunk of history) expect(chunk.length).toBeLessThanOrEqual(platform.limit);
    const all = history.join('\n');
    expect(all).toContain('Question 0:');
    expect(all).toContain('Question 11:');
  });

  if (platform.hasNonAdmins) {
    it('never shows leads in public: not in the channel, not in a message others can read', async () => {
      const email = `lead-${platform.name}@contract.example`;
      await say(`Please email me at ${email}`, { asAdmin: false });
      const publicMessages = needs(driver.publicMessages, 'publicMessages');
      const before = publicMessages().length;
      const sentBefore = driver.sentCount?.() ?? 0;
      needs(driver.sendPublic, 'sendPublic')(driver.command('leads'), true);
      await driver.waitUntil(() => publicMessages().length > before || (driver.sentCount?.() ?? 0) > sentBefore);
      // Whatever went to the admin privately may follow; give it the time of one more answer.
      await say(driver.command('help'));
      expect(publicMessages().join('\n')).not.toContain(email);
    });
  }

  if (platform.platformCommands) {
  it('runs commands delivered as platform commands, with named values', async () => {
    const before = driver.answers(true).length;
    needs(driver.platformCommand, 'platformCommand')('kb-add', { title: 'Gift cards | vouchers', content: 'Gift cards are sold at the till in any amount.' }, true);
    await driver.waitUntil(() => driver.answers(true).length > before);
    expect(driver.answers(true).slice(before).join('\n')).toMatch(/Added.*Gift cards \| vouchers/);
  });
  }

  if (platform.forms) {
  it('opens a form for /kb-add without arguments and adds what is submitted', async () => {
    const before = driver.answers(true).length;
    const fields = await needs(driver.submitForm, 'submitForm')('kb-add', { title: 'Loyalty card', content: 'Every tenth coffee is free with the loyalty card.' }, true);
    expect(fields).toEqual(['title', 'content']);
    await driver.waitUntil(() => driver.answers(true).length > before);
    expect(driver.answers(true).slice(before).join('\n')).toMatch(/Added.*Loyalty card/);
  });
  }

  if (platform.mentionsCanPing) {
  it('pings nobody, whatever the answer says', async () => {
    await say(driver.command('kb-add', 'Flash sale | Tell @everyone and @here and <!channel> <!here> <@U0123ABC> <@&123456> about the flash sale.'));
    const [answer] = await say('Tell me about the flash sale');
    expect(answer!.toLowerCase()).toContain('flash sale');
    expect(needs(driver.pingedAnyone, 'pingedAnyone')()).toBe(false);
  });
  }

  it('/reset starts a new conversation', async () => {
    const [reset] = await say(driver.command('reset'));
    expect(reset).toMatch(/new conversation/i);
    const [history] = await say(driver.command('history'));
    expect(history).toMatch(/no conversation in this thread yet/);
  });
});
