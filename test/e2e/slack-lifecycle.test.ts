/**
 * The Slack adapter's connection and lifetime, end to end against the loopback fake: Socket Mode
 * (hello, envelopes, acks, reconnection and health), tokens Slack refuses, and a restart on the
 * same SQLite store that keeps a thread's session and its de-duplication.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackAdapter, type SlackAdapterDeps } from '../../adapters/slack/slack-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { ConfigError } from '../../src/config.js';
import { Bridge } from '../../src/core/bridge.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { startFakeSlack, type FakeSlack, type SlackUser } from '../fakes/slack-api.js';

const ADMIN: SlackUser = { id: 'U0ADMIN', name: 'ada' };
const VISITOR: SlackUser = { id: 'U0VISIT', name: 'vic' };
const CHANNEL = 'C0GENERAL';
const logger = createLogger({ level: 'silent' });

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let fake: FakeSlack;

function slackConfig(overrides: Partial<SlackAdapterDeps['config']['slack']> = {}): SlackAdapterDeps['config'] {
  return {
    slack: {
      botToken: fake.botToken,
      signingSecret: fake.signingSecret,
      appToken: undefined,
      apiUrl: fake.apiUrl,
      adminIds: new Set([ADMIN.id]),
      threadFollowups: true,
      ...overrides,
    },
  };
}

async function questionsIn(sessions: SessionMap, threadKey: string): Promise<string[]> {
  const sessionId = await sessions.peek(threadKey);
  if (!sessionId) return [];
  return (await client.conversation(sessionId)).filter((m) => m.role === 'user').map((m) => m.content);
}

/** Resolves once `check` holds, polling; rejects after a few seconds. */
async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  fake = await startFakeSlack();
});

afterAll(async () => {
  await fake.close();
  await client.close();
  await emulator.close();
});

describe('Socket Mode', () => {
  let store: StateStore;
  let sessions: SessionMap;
  let adapter: SlackAdapter;

  beforeAll(async () => {
    store = await openStore('memory://');
    sessions = new SessionMap(store);
    fake.transport = 'socket';
    adapter = new SlackAdapter({ config: slackConfig({ appToken: fake.appToken, signingSecret: undefined }), logger, http: undefined });
    await adapter.start(new Bridge({ client, store, sessions, logger, userRateLimit: 0 }));
  });

  afterAll(async () => {
    await adapter.stop();
    fake.transport = 'http';
    await store.close();
  });

  it('connects with the app token after hello and is healthy', () => {
    expect(fake.socketConnections).toBe(1);
    expect(fake.calls.find((c) => c.method === 'apps.connections.open')?.ok).toBe(true);
    expect(adapter.isHealthy()).toBe(true);
  });

  it('acknowledges events by envelope id and answers them once, retries included', async () => {
    const dm = 'D0SOCKET';
    const ts = fake.nextTs();
    const event = { type: 'message', channel_type: 'im', user: VISITOR.id, text: 'What are your business hours?', ts, event_ts: ts, channel: dm, team: fake.teamId };
    const first = await fake.deliverEvent(event, { eventId: 'Ev0SOCK' });
    const retry = await fake.deliverEvent(event, { eventId: 'Ev0SOCK', retryNum: 1, retryReason: 'timeout' });
    expect([first.status, retry.status]).toEqual([200, 200]);
    await fake.waitForMessages(dm, 1);
    await fake.userSays(VISITOR, dm, 'And where do you ship?');
    const answers = await fake.waitForMessages(dm, 2);
    expect(answers).toHaveLength(2);
    expect(await questionsIn(sessions, `slack:${fake.teamId}:${dm}`)).toEqual(['What are your business hours?', 'And where do you ship?']);
    expect(fake.socketAcks.length).toBeGreaterThanOrEqual(3);
  });

  it('answers slash commands and modals in the acknowledgement payload', async () => {
    const refused = await fake.slashCommand(VISITOR, CHANNEL, '/usage');
    expect(refused.body).toMatchObject({ response_type: 'ephemeral', text: '/usage is only for admins of this bot.' });
    const form = await fake.slashCommand(ADMIN, CHANNEL, '/kb-add');
    const opened = await fake.waitFor(() => fake.views.find((v) => v.trigger_id === form.triggerId), { what: 'the modal' });
    const invalid = await fake.submitView(ADMIN, opened, { title: 'Socket', content: 'short' });
    expect(invalid.body).toMatchObject({ response_action: 'errors' });
    expect(Object.keys(opened.errors ?? {})).toEqual(['content']);
    await fake.submitView(ADMIN, opened, { title: 'Socket entry', content: 'Added through a modal over Socket Mode.' });
    const added = await fake.waitFor(() => fake.messages.find((m) => m.text.includes('Socket entry')), { what: 'the answer' });
    expect(added.visibleTo).toBe(ADMIN.id);
  });

  it('reconnects when Slack asks, through failing apps.connections.open calls, with health down meanwhile', async () => {
    fake.failNext('apps.connections.open', { status: 503 }, 2);
    const opens = fake.calls.filter((c) => c.method === 'apps.connections.open' && c.ok).length;
    fake.disconnectSockets();
    await until(() => !adapter.isHealthy());
    await fake.waitFor(() => fake.socketConnections === 1 && fake.calls.filter((c) => c.method === 'apps.connections.open' && c.ok).length === opens + 1, {
      what: 'a new connection',
      timeoutMs: 15_000,
    });
    // The client is connected once hello arrives; an event answered proves it.
    await fake.userSays(VISITOR, 'D0AFTER', 'How do returns work?');
    await fake.waitForMessages('D0AFTER', 1);
    expect(adapter.isHealthy()).toBe(true);
  });
});

describe('draining', () => {
  it('refuses new requests with 503 once it stops receiving, and reports itself down', async () => {
    const store = await openStore('memory://');
    const http = new HttpServer(logger);
    fake.botUrl = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}/slack/events`;
    const adapter = new SlackAdapter({ config: slackConfig(), logger, http });
    await adapter.start(new Bridge({ client, store, sessions: new SessionMap(store), logger, userRateLimit: 0 }));
    expect(adapter.isHealthy()).toBe(true);
    await adapter.stopReceiving();
    expect(adapter.isHealthy()).toBe(false);
    const { results } = await fake.userSays(VISITOR, 'D0DRAIN', 'What are your business hours?');
    expect(results.map((r) => r.status)).toEqual([503]);
    await adapter.stop();
    await http.close();
    await store.close();
  });
});

describe('refused tokens', () => {
  it('stops start-up with one line naming SLACK_BOT_TOKEN', async () => {
    const store = await openStore('memory://');
    const http = new HttpServer(logger);
    const adapter = new SlackAdapter({ config: slackConfig({ botToken: 'xoxb-revoked' }), logger, http });
    const started = adapter.start(new Bridge({ client, store, sessions: new SessionMap(store), logger }));
    await expect(started).rejects.toThrow(ConfigError);
    await expect(started).rejects.toThrow('SLACK_BOT_TOKEN: Slack refused the token (invalid_auth)');
    expect(adapter.isHealthy()).toBe(false);
    await store.close();
  });

  it('stops start-up with one line naming SLACK_APP_TOKEN', async () => {
    const store = await openStore('memory://');
    const adapter = new SlackAdapter({ config: slackConfig({ appToken: 'xapp-1-revoked', signingSecret: undefined }), logger, http: undefined });
    const started = adapter.start(new Bridge({ client, store, sessions: new SessionMap(store), logger }));
    await expect(started).rejects.toThrow('SLACK_APP_TOKEN: Slack refused the token (invalid_auth)');
    expect(adapter.isHealthy()).toBe(false);
    await adapter.stop();
    await store.close();
  });
});

describe('restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slack-restart-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** One bridge process: store, core, HTTP server and adapter. */
  async function boot() {
    const store = await openStore(`sqlite://${join(dir, 'bridge.sqlite')}`);
    const sessions = new SessionMap(store);
    const http = new HttpServer(logger);
    const port = await http.listen(0, '127.0.0.1');
    fake.botUrl = `http://127.0.0.1:${port}/slack/events`;
    const adapter = new SlackAdapter({ config: slackConfig(), logger, http });
    await adapter.start(new Bridge({ client, store, sessions, logger, userRateLimit: 0 }));
    return {
      sessions,
      stop: async () => {
        await adapter.stop();
        await http.close();
        await store.close();
      },
    };
  }

  it('keeps the thread’s session, its answered messages and its follow-ups without a mention across a restart', async () => {
    const first = await boot();
    const root = fake.nextTs();
    const question = { type: 'app_mention', user: VISITOR.id, text: `<@${fake.botUserId}> Where do you ship?`, ts: root, event_ts: root, channel: CHANNEL, team: fake.teamId };
    await fake.deliverEvent(question, { eventId: 'Ev0BEFORE' });
    await fake.waitForMessages(CHANNEL, 1, root);
    const threadKey = `slack:${fake.teamId}:${CHANNEL}:${root}`;
    const sessionBefore = await first.sessions.peek(threadKey);
    await first.stop();

    const second = await boot();
    try {
      // A follow-up without a mention, first thing: the new process has no memory of the thread, the store has.
      await fake.userSays(VISITOR, CHANNEL, 'And how long does delivery take?', { thread_ts: root });
      await fake.waitForMessages(CHANNEL, 2, root);
      // Slack retries the first message after the restart: it was answered, so it stays answered once.
      await fake.deliverEvent(question, { eventId: 'Ev0BEFORE', retryNum: 1, retryReason: 'http_timeout' });
      await fake.userSays(VISITOR, CHANNEL, `<@${fake.botUserId}> Thanks!`, { thread_ts: root });
      const answers = await fake.waitForMessages(CHANNEL, 3, root);
      expect(answers).toHaveLength(3);
      expect(await second.sessions.peek(threadKey)).toBe(sessionBefore);
      expect(await questionsIn(second.sessions, threadKey)).toEqual(['Where do you ship?', 'And how long does delivery take?', 'Thanks!']);
    } finally {
      await second.stop();
    }
  });
});
