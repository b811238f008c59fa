/**
 * `npm run doctor` against the Asyntai emulator, the Telegram Bot API fake and the Slack Web API
 * fake: every check passes on a healthy setup, each broken piece is a ✗ line saying what to do,
 * and no secret is ever printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { doctor as runWholeDoctor, runDoctor, type CheckResult } from '../../src/doctor.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { FakeSlack } from '../fakes/slack-api.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';

let emulator: EmulatorHandle;
let telegram: FakeTelegram;
let slack: FakeSlack;
let healthyEnv: Record<string, string>;

beforeAll(async () => {
  emulator = await startEmulator();
  telegram = await startFakeTelegram();
  slack = await FakeSlack.start();
  healthyEnv = {
    ASYNTAI_API_KEY: emulator.apiKey,
    ASYNTAI_API_URL: emulator.url,
    STORE_URL: 'memory://',
    ADAPTERS: 'telegram,slack',
    TELEGRAM_BOT_TOKEN: telegram.token,
    TELEGRAM_API_ROOT: telegram.apiRoot,
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_API_URL: slack.apiUrl,
    TEAM_CHANNEL: 'telegram:-1001234567890',
  };
});

afterAll(async () => {
  await slack.close();
  await telegram.close();
  await emulator.close();
});

async function doctor(env: Record<string, string>): Promise<{ results: CheckResult[]; output: string }> {
  const lines: string[] = [];
  const results = await runDoctor(loadConfig(env), (line) => lines.push(line));
  return { results, output: lines.join('\n') };
}

const failed = (results: CheckResult[]) => results.filter((r) => r.ok === false).map((r) => r.name);

describe('doctor', () => {
  it('passes a healthy setup, one ✓ line per check', async () => {
    const { results, output } = await doctor(healthyEnv);
    expect(failed(results), output).toEqual([]);
    expect(output).toMatch(/^✓ Asyntai API key: valid, plan \w+/m);
    expect(output).toMatch(/^✓ Store: memory:\/\/ reachable/m);
    expect(output).toMatch(/^✓ Telegram token: valid: @asyntai_test_bot/m);
    expect(output).toMatch(/^✓ Telegram privacy mode: on: in groups/m);
    expect(output).toMatch(/^✓ Telegram updates: long polling; 0 updates waiting/m);
    expect(output).toMatch(/^✓ Slack bot token: valid/m);
    expect(output).toMatch(/^✓ Slack Socket Mode: app-level token valid/m);
    expect(output).toMatch(/^– Discord: DISCORD_BOT_TOKEN unset/m);
    expect(output).toMatch(/^✓ TEAM_CHANNEL: telegram:-1001234567890/m);
  });

  it('reports each broken piece with what to do, and prints no secret', async () => {
    const env = {
      ...healthyEnv,
      ASYNTAI_API_KEY: 'sk-wrong-key-0123456789',
      TELEGRAM_BOT_TOKEN: '123456:wrong-telegram-token',
      SLACK_BOT_TOKEN: 'xoxb-wrong-slack-token',
      SLACK_APP_TOKEN: 'xapp-wrong-app-token',
      STORE_URL: 'redis://:hunter2@127.0.0.1:1',
    };
    const { results, output } = await doctor(env);
    expect(failed(results)).toEqual(['Asyntai API key', 'Store', 'Telegram token', 'Slack bot token', 'Slack Socket Mode']);
    expect(output).toMatch(/^✗ Asyntai API key: refused \(401\).*→ .*ASYNTAI_API_KEY/m);
    expect(output).toMatch(/^✗ Telegram token: refused \(401\) → .*@BotFather/m);
    expect(output).toMatch(/^✗ Slack bot token: auth.test: invalid_auth → /m);
    for (const secret of ['sk-wrong-key-0123456789', 'wrong-telegram-token', 'xoxb-wrong-slack-token', 'xapp-wrong-app-token', 'hunter2']) {
      expect(output).not.toContain(secret);
    }
  });

  it('finds a website id that does not exist and a webhook secret with no webhook registered', async () => {
    const { results, output } = await doctor({ ...healthyEnv, ASYNTAI_WEBSITE_ID: '987654', ASYNTAI_WEBHOOK_SECRET: 'whsec-unregistered' });
    expect(failed(results)).toEqual(['Asyntai website', 'Asyntai webhooks']);
    expect(output).toMatch(/^✗ Asyntai website: ASYNTAI_WEBSITE_ID 987654 is not one of this account's websites/m);
    expect(output).toMatch(/^✗ Asyntai webhooks: ASYNTAI_WEBHOOK_SECRET is set but no webhook is registered/m);
  });

  it('a configuration that does not load is a ✗ line per bad variable and exit code 1', async () => {
    const lines: string[] = [];
    const code = await runWholeDoctor({ ...healthyEnv, TEAM_CHANNEL: 'discord:123456789012345678', USER_RATE_LIMIT: 'lots' }, (line) => lines.push(line));
    expect(code).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^✗ USER_RATE_LIMIT: /), expect.stringMatching(/^✗ TEAM_CHANNEL: .*discord adapter is not enabled/)]);
    expect(await runWholeDoctor(healthyEnv, () => undefined)).toBe(0);
  });

  it('says when Telegram cannot be reached at all', async () => {
    const { results, output } = await doctor({ ...healthyEnv, ADAPTERS: 'telegram', TELEGRAM_API_ROOT: 'http://127.0.0.1:1', SLACK_BOT_TOKEN: '', SLACK_APP_TOKEN: '' });
    expect(failed(results)).toEqual(['Telegram']);
    expect(output).toMatch(/^✗ Telegram: could not check: .*ECONNREFUSED/m);
    expect(output).not.toContain(telegram.token);
  });
});
