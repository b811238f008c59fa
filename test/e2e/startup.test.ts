/**
 * `src/main.ts` as a real process: what it says and does at start-up. `--help`; every bad
 * variable at once; a platform bot refused without an API key unless DEMO=1 (and then it says it
 * is a demo, once per thread); the key checked against an emulator that refuses it; an API out
 * of reach reported by /healthz; the demo emulator's knowledge kept in the data folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VARIABLES } from '../../src/config.js';
import { DEMO_NOTICE } from '../../src/demo-notice.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';

// Each test starts node with tsx at least once: seconds on a busy machine, never a time asserted.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

/** Every variable of the table cleared, so the machine's own environment cannot leak in. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  ...Object.fromEntries(Object.keys(VARIABLES).map((name) => [name, ''])),
  STORE_URL: 'memory://',
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running bridge: its output so far, a way to wait for a line, and its end. */
interface Bridge {
  stdout(): string;
  stderr(): string;
  /** Resolves with the first JSON log line that `match` accepts. */
  logLine(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  stdin: NodeJS.WritableStream;
  ended: Promise<Run>;
  kill(): void;
}

/** Starts main with `env` over the clean environment (cwd: a fresh folder, so no .env is read). */
function startBridge(env: NodeJS.ProcessEnv, args: string[] = [], cwd = process.cwd()): Bridge {
  const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/main.ts'), ...args], {
    env: { ...CLEAN_ENV, ...env },
    cwd,
  });
  let stdout = '';
  let stderr = '';
  /** JSON log lines complete so far, and who waits for one. */
  const logged: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  let pending = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    const parts = (pending + c.toString()).split('\n');
    pending = parts.pop()!;
    for (const text of parts) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      logged.push(line);
      for (const w of waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  const ended = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    logLine: (match) =>
      new Promise((resolve) => {
        const seen = logged.find(match);
        if (seen) resolve(seen);
        else waiters.push({ match, resolve });
      }),
    stdin: child.stdin,
    ended,
    kill: () => child.kill('SIGTERM'),
  };
}

/** Runs main to its end with `input` on stdin. */
function runBridge(env: NodeJS.ProcessEnv, input = '', args: string[] = [], cwd?: string): Promise<Run> {
  const bridge = startBridge(env, args, cwd);
  bridge.stdin.end(input);
  return bridge.ended;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

let emulator: EmulatorHandle;
let dir: string;
beforeAll(async () => {
  emulator = await startEmulator({ apiKeys: ['the-right-key'] });
  dir = await mkdtemp(join(tmpdir(), 'startup-test-'));
});
afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the command line', () => {
  it('--help lists every variable by group and starts nothing', async () => {
    const run = await runBridge({}, '', ['--help']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    for (const heading of ['Asyntai:', 'Bridge:', 'Telegram (BotFather):', 'Slack:', 'Discord:']) expect(run.stdout).toContain(`\n${heading}\n`);
    for (const name of Object.keys(VARIABLES)) expect(run.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  });

  it('reports every bad variable at once, one line each, and exits 1', async () => {
    const run = await runBridge({ HTTP_PORT: 'eighty', LOG_LEVEL: 'loud', TELEGRAM_WEBHOOK_URL: 'http://bot.example.com/telegram' });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([
      'asyntai-bridge: HTTP_PORT: must be a whole number',
      'asyntai-bridge: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      'asyntai-bridge: TELEGRAM_WEBHOOK_URL: must be an https URL (Telegram sends webhooks over https only)',
    ]);
  });
});

describe('demo mode only where it is meant', () => {
  it('refuses a platform bot without an API key, in one line saying what to set', async () => {
    const run = await runBridge({ TELEGRAM_BOT_TOKEN: '123:abc' });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      'asyntai-bridge: ASYNTAI_API_KEY: required by the telegram adapter; set it, or DEMO=1 for a demo answered from a built-in sample shop',
    );
  });

  describe('with DEMO=1', () => {
    let fake: FakeTelegram;
    let bridge: Bridge;
    beforeAll(async () => {
      fake = await startFakeTelegram();
      bridge = startBridge({ DEMO: '1', TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, HTTP_PORT: '0' });
      await bridge.logLine((l) => l['msg'] === 'adapter started');
    });
    afterAll(async () => {
      bridge.kill();
      await bridge.ended;
      await fake.close();
    });

    it('says so above the first answer in each thread, and only there', async () => {
      const alice = { id: 501, first_name: 'Alice' };
      const bob = { id: 502, first_name: 'Bob' };
      fake.userSends({ from: alice, text: 'What are your business hours?' });
      const [first] = await fake.waitForMessages(1, { chatId: alice.id });
      fake.userSends({ from: alice, text: 'Do you ship abroad?' });
      const [, second] = await fake.waitForMessages(2, { chatId: alice.id });
      fake.userSends({ from: bob, text: 'What are your business hours?' });
      const [other] = await fake.waitForMessages(1, { chatId: bob.id });
      const notice = DEMO_NOTICE.replace(/_/g, '');
      expect(first!.visibleText.startsWith(notice)).toBe(true);
      expect(first!.visibleText).toMatch(/\d/); // the hours follow
      expect(second!.visibleText).not.toContain(notice);
      expect(other!.visibleText.startsWith(notice)).toBe(true);
      expect(bridge.stderr()).toMatch(/^Demo mode: every bot answers from the built-in Asyntai emulator/m);
    });
  });

  it("keeps the demo emulator's knowledge in the data folder across restarts", async () => {
    const data = join(dir, 'demo-data');
    const env = { DATA_DIR: data };
    const taught = await runBridge(env, '/kb-add Bike repairs | We repair bicycles every Saturday morning.\n');
    expect(taught.stdout).toMatch(/^Added Bike repairs/);
    const asked = await runBridge(env, 'Do you repair bicycles?\n');
    expect(asked.code).toBe(0);
    expect(asked.stdout.toLowerCase()).toContain('saturday morning');
    expect(JSON.parse(await readFile(join(data, 'demo-emulator.json'), 'utf8'))).toBeTruthy();
  });
});

/** util-linux `script` runs a command on a pseudo-terminal: the way to be a terminal without node-pty. */
const hasScript = spawnSync('script', ['--version']).status === 0;

describe('the terminal chat on a terminal', () => {
  it.skipIf(!hasScript)('writes log lines to a file in the data folder and says where, never into the chat', async () => {
    const data = join(dir, 'tty-data');
    const child = spawn('script', ['-qec', `${process.execPath} --import tsx src/main.ts`, '/dev/null'], {
      env: { ...CLEAN_ENV, DATA_DIR: data, LOG_LEVEL: 'info' },
    });
    let screen = '';
    child.stdout.on('data', (c: Buffer) => (screen += c.toString()));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    // A question (the terminal keeps it until the chat reads it); Ctrl-D once it is answered.
    child.stdin.write('What are your business hours?\r');
    await vi.waitFor(() => expect(screen).toMatch(/business hours are .*\d[\s\S]*you> /), { timeout: 60_000, interval: 100 });
    child.stdin.write('\x04');
    const code = await closed;
    child.stdin.end();
    expect(code).toBe(0);
    expect(screen).toContain(`(Warnings and errors go to ${join(data, 'bridge.log')}.)`);
    expect(screen).toContain('you> ');
    expect(screen).toMatch(/business hours are .*\d/);
    expect(screen).not.toContain('{"level"');
    expect(await readFile(join(data, 'bridge.log'), 'utf8')).toContain('"msg":"adapter started"');
    expect(await readFile(join(data, 'shell-history'), 'utf8')).toBe('What are your business hours?\n');
  });
});

describe('the API key at start-up', () => {
  it('stops with one line naming ASYNTAI_API_KEY when the API refuses the key', async () => {
    const run = await runBridge({ ASYNTAI_API_KEY: 'a-wrong-key', ASYNTAI_API_URL: emulator.url }, 'hello\n');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim()).toBe('asyntai-bridge: ASYNTAI_API_KEY: the Asyntai API refused this key (HTTP 401)');
    expect(run.stderr).not.toContain('a-wrong-key');
  });

  it('starts with the right key and answers', async () => {
    const run = await runBridge({ ASYNTAI_API_KEY: 'the-right-key', ASYNTAI_API_URL: emulator.url }, 'What are your business hours?\n');
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/\d/);
  });

  it('goes on when the API cannot be reached: a warning, and /healthz says why', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/api/v1/`;
    const bridge = startBridge({ ASYNTAI_API_KEY: 'some-key', ASYNTAI_API_URL: url, HTTP_PORT: '0', LOG_LEVEL: 'info' });
    const warning = await bridge.logLine((l) => l['msg'] === 'Asyntai API not reachable at start-up; starting anyway');
    expect(warning['detail']).toMatch(/^network/);
    const { port } = await bridge.logLine((l) => l['msg'] === 'HTTP server listening');
    const res = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
    const body = (await res.json()) as { ok: boolean; parts: Record<string, { ok: boolean; detail?: string }> };
    expect(res.status).toBe(503);
    expect(body.parts['asyntai']).toMatchObject({ ok: false, detail: expect.stringMatching(/^network/) as unknown });
    // The terminal still answers, in words: nothing reaches the assistant yet.
    bridge.stdin.end('hello\n');
    const run = await bridge.ended;
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('The assistant is not reachable right now.');
  });
});
