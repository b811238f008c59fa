/**
 * The terminal adapter end to end: through streams in-process, and `src/main.ts` as a real
 * process in demo mode (no .env, emulator in-process), the way `printf … | npm start` runs it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShellAdapter } from '../../adapters/shell/shell-adapter.js';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';

const run = promisify(execFile);
let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;
let dir: string;

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
  store = await openStore('memory://');
  dir = await mkdtemp(join(tmpdir(), 'shell-test-'));
});

afterAll(async () => {
  await client.close();
  await store.close();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

async function converse(lines: string[]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const shell = new ShellAdapter({ input, output, downloadDir: dir, interactive: false });
  const bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger: createLogger({ level: 'silent' }) });
  await shell.start(bridge);
  input.end(lines.map((l) => `${l}\n`).join(''));
  await shell.finished;
  return printed;
}

describe('shell adapter', () => {
  it('answers each line in order and finishes at the end of input', async () => {
    const out = await converse(['/kb-add Parking | Free parking behind the store for all customers.', 'Where can I park?']);
    const added = out.indexOf('Added **Parking**');
    expect(added).toBeGreaterThanOrEqual(0);
    expect(out.toLowerCase().indexOf('parking behind the store', added)).toBeGreaterThan(added);
  });

  it('attaches a file named with @ and saves files the bot sends', async () => {
    const csv = join(dir, 'faq.csv');
    await writeFile(csv, 'question,answer\nDo you repair bikes?,Yes on Saturdays\n');
    const out = await converse([`/kb-upload @${csv}`, '/kb-upload @/no/such/file.csv', 'My email is pat@example.com', '/leads']);
    expect(out).toMatch(/1 row processed/);
    expect(out).toMatch(/There is no file at \/no\/such\/file\.csv/);
    expect(out).toMatch(/leads\.csv|Leads as CSV.*saved to/);
  });
});

describe('npm start in demo mode', () => {
  it('answers both questions of the README example from the knowledge base', async () => {
    const input = 'What are your business hours?\n/kb-add Parking | Free parking behind the store for all customers.\nWhere can I park?\n';
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, STORE_URL: 'memory://', ASYNTAI_API_KEY: '', ADAPTERS: '', LOG_LEVEL: 'warn' },
      timeout: 60_000,
    });
    child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(stderr).toMatch(/^Demo mode: .*ASYNTAI_API_KEY/m);
    expect(code).toBe(0);
    const added = stdout.indexOf('Added **Parking**');
    expect(added).toBeGreaterThan(0);
    expect(stdout.slice(0, added)).toMatch(/\d/); // the hours
    expect(stdout.slice(added).toLowerCase()).toContain('parking behind the store');
  });

  it('stops with one line naming a bad variable', async () => {
    const err = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, HTTP_PORT: 'eighty' } }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr.trim()).toBe('asyntai-bridge: HTTP_PORT: must be a whole number');
  });
});
