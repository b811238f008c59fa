/**
 * `src/main.ts` as a real process with DISCORD_BOT_TOKEN set: the Discord adapter is wired in,
 * answers through the fake Discord, shows in /healthz, and a refused token stops start-up with one
 * line naming the variable.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VARIABLES } from '../../src/config.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord-api.js';

// Each test starts node with tsx: seconds on a busy machine, never a time asserted.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

/** Every variable of the table cleared, so the machine's own environment cannot leak in. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  ...Object.fromEntries(Object.keys(VARIABLES).map((name) => [name, ''])),
  STORE_URL: 'memory://',
};

interface Bridge {
  /** Resolves with the first JSON log line that `match` accepts. */
  logLine(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  ended: Promise<{ code: number | null; stderr: string }>;
  stop(): void;
}

function startBridge(env: NodeJS.ProcessEnv): Bridge {
  const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/main.ts')], { env: { ...CLEAN_ENV, ...env } });
  let stderr = '';
  let pending = '';
  const logged: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop()!;
    for (const text of parts) if (text.startsWith('{')) logged.push(JSON.parse(text) as Record<string, unknown>);
    for (const wake of [...waiters]) wake();
  });
  child.stdout.resume();
  return {
    logLine: (match) =>
      new Promise((resolve) => {
        const check = (): void => {
          const line = logged.find(match);
          if (!line) return;
          waiters.delete(check);
          resolve(line);
        };
        waiters.add(check);
        check();
      }),
    ended: new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr }))),
    stop: () => child.kill('SIGTERM'),
  };
}

let emulator: EmulatorHandle;
let fake: FakeDiscord;

beforeAll(async () => {
  emulator = await startEmulator();
  fake = await startFakeDiscord();
});

afterAll(async () => {
  await fake.close();
  await emulator.close();
});

describe('main with DISCORD_BOT_TOKEN', () => {
  const env = (): NodeJS.ProcessEnv => ({
    ASYNTAI_API_KEY: emulator.apiKey,
    ASYNTAI_API_URL: emulator.url,
    DISCORD_API_URL: fake.apiUrl,
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  });

  it('answers a DM through Discord and reports the gateway in /healthz', async () => {
    const bridge = startBridge({ ...env(), DISCORD_BOT_TOKEN: fake.token });
    try {
      await bridge.logLine((l) => l['msg'] === 'adapter started' && l['adapter'] === 'discord');
      const { port } = await bridge.logLine((l) => l['msg'] === 'HTTP server listening');
      const res = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
      const body = (await res.json()) as { parts: Record<string, { ok: boolean }> };
      expect(body.parts['discord']).toMatchObject({ ok: true });

      const visitor = { id: '600000000000000001', username: 'vera' };
      fake.userSends({ author: visitor, content: 'What are your business hours?' });
      await fake.waitFor(() => fake.sent.some((m) => m.channel_id === fake.dmChannelOf(visitor)), 30_000);
      expect(fake.sent.find((m) => m.channel_id === fake.dmChannelOf(visitor))!.content).toMatch(/\d/);
    } finally {
      bridge.stop();
      await bridge.ended;
    }
  });

  it('stops with one line naming DISCORD_BOT_TOKEN when Discord refuses the token', async () => {
    const bridge = startBridge({ ...env(), DISCORD_BOT_TOKEN: 'a-revoked-token' });
    const run = await bridge.ended;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('asyntai-bridge: DISCORD_BOT_TOKEN: Discord refused the token (401 Unauthorized)');
    expect(run.stderr).not.toContain('a-revoked-token');
  });
});
