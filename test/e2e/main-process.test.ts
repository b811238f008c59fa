/**
 * The real entry point as a process (through tsx): a SQLite store that cannot be created stops
 * start-up with one line and exit 1, and SIGTERM shuts a running bridge down with exit 0.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const tsx = join(root, 'node_modules/.bin/tsx');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bridge-main-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts main with `env` (and nothing from the outer environment's bridge variables). */
function startMain(env: Record<string, string>) {
  const child = spawn(tsx, [join(root, 'src/main.ts')], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir, LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, stderr: () => stderr };
}

describe('main process', () => {
  it('a SQLite store that cannot be created: one line naming STORE_URL, exit 1', async () => {
    const main = startMain({ STORE_URL: 'sqlite:///etc/passwd/bridge.sqlite', DATA_DIR: dir, ASYNTAI_API_KEY: 'key-not-used', ASYNTAI_API_URL: 'http://127.0.0.1:1/' });
    expect(await main.exited).toBe(1);
    expect(main.stderr()).toMatch(/^asyntai-bridge: STORE_URL: Cannot open store sqlite:\/\/\/etc\/passwd\/bridge.sqlite: .+\n$/);
  }, 60_000);

  it('SIGTERM: shuts down gracefully and exits 0', async () => {
    const main = startMain({ STORE_URL: 'memory://', HTTP_PORT: '0', USAGE_CHECK_MINUTES: '0' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not started: ${main.stderr()}`)), 50_000);
      main.child.stderr.on('data', () => {
        if (main.stderr().includes('adapter started')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    main.child.kill('SIGTERM');
    expect(await main.exited).toBe(0);
    expect(main.stderr()).toMatch(/shutting down: no new events/);
  }, 60_000);
});
