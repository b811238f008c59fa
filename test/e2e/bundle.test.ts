/**
 * The bundle `npm start` runs (`dist/bundle/main.js`, made by scripts/bundle.ts), built afresh
 * into a folder of its own: the demo answers through a pipe on SQLite (the native module outside
 * the bundle), and with Telegram, Slack and Discord on their fakes each platform gets an answer
 * and /healthz reports all three. Other tests run the sources through tsx; this one proves the
 * bundling lost nothing those paths need.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VARIABLES } from '../../src/config.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord-api.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';

// Bundling and starting node take seconds on a busy machine; no time is asserted.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
/** Inside the project, so the bundle finds better-sqlite3 in node_modules as dist/bundle does. */
const outDir = join(root, 'dist', `bundle-test-${process.pid}`);
const main = join(outDir, 'main.js');
/** Every variable of the table cleared, so the machine's own environment cannot leak in. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  ...Object.fromEntries(Object.keys(VARIABLES).map((name) => [name, ''])),
};
let dataDir: string;

beforeAll(async () => {
  await run(process.execPath, ['--import', 'tsx', join(root, 'scripts/bundle.ts'), outDir], { cwd: root });
  dataDir = await mkdtemp(join(tmpdir(), 'bridge-bundle-'));
});

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe('the bundled entry point', () => {
  it('answers through a pipe in demo mode, on SQLite, and exits 0', async () => {
    const child = spawn(process.execPath, [main], { cwd: dataDir, env: { ...CLEAN_ENV, DATA_DIR: dataDir, STORE_URL: `sqlite://${join(dataDir, 'state.sqlite')}` } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end('What are your business hours?\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toContain('Demo mode');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Monday/);
  });

  describe('with Telegram, Slack and Discord on their fakes', () => {
    let emulator: EmulatorHandle;
    let telegram: FakeTelegram;
    let slack: FakeSlack;
    let discord: FakeDiscord;

    beforeAll(async () => {
      [emulator, telegram, slack, discord] = await Promise.all([startEmulator(), startFakeTelegram(), startFakeSlack(), startFakeDiscord()]);
    });

    afterAll(async () => {
      await Promise.all([telegram.close(), slack.close(), discord.close(), emulator.close()]);
    });

    it('answers on each platform and reports all three in /healthz', async () => {
      const child = spawn(process.execPath, [main], {
        cwd: dataDir,
        env: {
          ...CLEAN_ENV,
          ASYNTAI_API_KEY: emulator.apiKey,
          ASYNTAI_API_URL: emulator.url,
          STORE_URL: `sqlite://${join(dataDir, 'platforms.sqlite')}`,
          HTTP_PORT: '0',
          LOG_LEVEL: 'info',
          TELEGRAM_BOT_TOKEN: telegram.token,
          TELEGRAM_API_ROOT: telegram.apiRoot,
          SLACK_BOT_TOKEN: slack.botToken,
          SLACK_SIGNING_SECRET: slack.signingSecret,
          SLACK_API_URL: slack.apiUrl,
          DISCORD_BOT_TOKEN: discord.token,
          DISCORD_API_URL: discord.apiUrl,
        },
      });
      let stderr = '';
      const port = new Promise<number>((resolve, reject) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const listening = /"port":(\d+)[^\n]*"msg":"HTTP server listening"/.exec(stderr);
          if (listening) resolve(Number(listening[1]));
        });
        child.on('close', (code) => reject(new Error(`the bundle exited (${code}): ${stderr}`)));
      });
      try {
        const http = `http://127.0.0.1:${await port}`;
        slack.botUrl = `${http}/slack/events`;
        // Healthy once every adapter has started.
        let health: { parts: Record<string, { ok: boolean }> } | undefined;
        await vi.waitFor(
          async () => {
            const res = await fetch(`${http}/healthz`);
            health = (await res.json()) as typeof health;
            expect(res.status).toBe(200);
          },
          { timeout: 60_000, interval: 200 },
        );
        expect(health!.parts).toMatchObject({ telegram: { ok: true }, slack: { ok: true }, discord: { ok: true } });

        telegram.userSends({ from: { id: 501, first_name: 'Tina' }, text: 'What are your business hours?' });
        const [answer] = await telegram.waitForMessages(1, { chatId: 501, timeoutMs: 30_000 });
        expect(answer!.text).toMatch(/Monday/);

        await slack.userSays({ id: 'U0BUNDLE1', name: 'sam' }, 'D0BUNDLE1', 'What are your business hours?');
        const [posted] = await slack.waitForMessages('D0BUNDLE1', 1);
        expect(JSON.stringify(posted)).toMatch(/Monday/);

        const visitor = { id: '600000000000000077', username: 'vic' };
        discord.userSends({ author: visitor, content: 'What are your business hours?' });
        await discord.waitFor(() => discord.sent.some((m) => m.channel_id === discord.dmChannelOf(visitor)), 30_000);
        expect(discord.sent.find((m) => m.channel_id === discord.dmChannelOf(visitor))!.content).toMatch(/Monday/);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.on('close', resolve));
      }
    });
  });
});
