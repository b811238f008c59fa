/**
 * The terminal adapter end to end: through streams in-process (as a pipe, and as a terminal with
 * line editing, history, spinner and width), and `src/main.ts` as a real process in demo mode
 * (no .env, emulator in-process), the way `printf … | npm start --silent` runs it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ShellAdapter, type ShellAdapterOptions } from '../../adapters/shell/shell-adapter.js';
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

/** A terminal stand-in: a stream with a width, as a TTY's stdout has. */
function terminalOutput(columns: number): PassThrough & { columns: number } {
  return Object.assign(new PassThrough(), { columns });
}

/** Starts a shell on in-memory streams; `printed()` is everything it wrote so far. */
async function startShell(options: Partial<ShellAdapterOptions> = {}) {
  const input = new PassThrough();
  const output = options.output ?? new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const shell = new ShellAdapter({ input, downloadDir: dir, interactive: false, ...options, output });
  const bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger: createLogger({ level: 'silent' }), userRateLimit: 0 });
  await shell.start(bridge);
  return { shell, input, printed: () => printed };
}

async function converse(lines: string[], options: Partial<ShellAdapterOptions> = {}): Promise<string> {
  const { shell, input, printed } = await startShell(options);
  input.end(lines.map((l) => `${l}\n`).join(''));
  await shell.finished;
  return printed();
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

describe('shell adapter', () => {
  it('answers each line in order and finishes at the end of input', async () => {
    const out = await converse(['/kb-add Parking | Free parking behind the store for all customers.', 'Where can I park?']);
    const added = out.indexOf('Added Parking');
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

describe('shell adapter rendering', () => {
  const TABLE = '| Plan | Messages |\n|---|---:|\n| Starter | 2,500 |\n| Pro | 50,000 |';
  const LIST = 'Opening hours:\n\n- **Monday** to Friday: 9 to 6\n- Saturday: 10 to 4';

  it('shows a table as aligned columns and a list as bullets, plain through a pipe', async () => {
    const { shell, input, printed } = await startShell();
    await shell.send('shell:local', TABLE);
    await shell.send('shell:local', LIST);
    input.end();
    await shell.finished;
    const out = printed();
    expect(out).not.toMatch(ANSI);
    expect(out).not.toContain('|---');
    expect(out).not.toContain('**');
    const rows = out.split('\n').filter((l) => /Starter|Pro\b|Plan/.test(l));
    expect(rows).toHaveLength(3);
    // Right-aligned column: the numbers end in the same column.
    const ends = rows.slice(1).map((r) => r.trimEnd().length);
    expect(new Set(ends).size).toBe(1);
    expect(out).toMatch(/^\s*[•*-] Monday to Friday: 9 to 6$/m);
    expect(out).toMatch(/^\s*[•*-] Saturday: 10 to 4$/m);
  });

  it('styles answers with ANSI and wraps them to the terminal width on a terminal', async () => {
    const output = terminalOutput(40);
    const long = 'We repair bicycles every Saturday morning, and we also sell spare parts, helmets, lights and locks for every kind of bike.';
    const out = await converse([], { interactive: true, ansi: true, output, notices: ['(Warnings and errors go to data/bridge.log.)'] });
    expect(out).toContain('Type a question, or /help for commands. Ctrl+D quits.\n(Warnings and errors go to data/bridge.log.)\n');
    const { shell, input, printed } = await startShell({ interactive: true, ansi: true, output: terminalOutput(40) });
    await shell.send('shell:local', `**Repairs**: ${long}`);
    input.end();
    await shell.finished;
    expect(printed()).toMatch(ANSI);
    const answerLines = printed().replace(ANSI, '').split('\n').filter((l) => /repair|helmet|bike|Repairs/.test(l));
    expect(answerLines.length).toBeGreaterThan(2);
    for (const line of answerLines) expect(line.length, line).toBeLessThanOrEqual(40);
  });

  it('shows the terminal way to attach a file in /help and usage lines, and counts the commands', async () => {
    const out = await converse(['/help', '/kb-upload']);
    expect(out).toContain('/kb-upload @file.csv');
    expect(out).not.toContain('with a .csv or .xlsx file attached');
    const count = Number(/one of these (\d+) commands:/.exec(out)?.[1]);
    const listed = out.split('\n').filter((l) => /^\s*\/[a-z-]+.* — /.test(l));
    expect(listed).toHaveLength(count);
    expect(out).toMatch(/Attach a \.csv or \.xlsx file to the command\.\nUsage: \/kb-upload @file\.csv/);
  });

  it('answers an unknown command with the closest one', async () => {
    expect(await converse(['/kb-lst'])).toContain("I don't know the command /kb-lst. Did you mean /kb-list?");
  });
});

describe('shell adapter on a terminal', () => {
  afterEach(() => emulator.faults.setLatency(0));

  it('keeps the history in a file and offers it again after a restart', async () => {
    const historyFile = join(dir, 'shell-history');
    await converse(['/kb-list 1', '', 'What are your business hours?'], { interactive: true, historyFile });
    expect(await readFile(historyFile, 'utf8')).toBe('/kb-list 1\nWhat are your business hours?\n');
    // Next run: arrow up twice recalls the older line; Enter sends it again.
    const { shell, input, printed } = await startShell({ interactive: true, historyFile, output: terminalOutput(80) });
    input.write('\x1b[A\x1b[A\r');
    input.end();
    await shell.finished;
    expect(printed()).toMatch(/Knowledge base|entries|entry/i);
    expect(await readFile(historyFile, 'utf8')).toBe('/kb-list 1\nWhat are your business hours?\n/kb-list 1\n');
  });

  it('shows "thinking…" while the answer is pending and removes it before the answer', async () => {
    emulator.faults.setLatency(400);
    const out = await converse(['What are your business hours?'], { interactive: true, output: terminalOutput(80) });
    const thinking = out.indexOf('thinking…');
    expect(thinking).toBeGreaterThan(0);
    const cleared = out.indexOf('\r\x1b[K', thinking);
    expect(cleared).toBeGreaterThan(thinking);
    expect(out.slice(cleared + '\r\x1b[K'.length).split('\n')[0]).toMatch(/\d/); // the answer (the hours) right after
  });

  it('prints a message sent outside a request above the prompt and keeps the line being typed', async () => {
    const { shell, input, printed } = await startShell({ interactive: true, output: terminalOutput(80) });
    input.write('where is');
    await new Promise((r) => setImmediate(r));
    await shell.send('shell:local', 'A person from the team joined the conversation.');
    const afterSend = printed().slice(printed().indexOf('A person from the team'));
    input.end();
    await shell.finished;
    expect(printed()).toContain('\r\x1b[KA person from the team joined the conversation.\n');
    expect(afterSend).toMatch(/you> .*where is/);
  });

  it('shows no prompt, greeting or spinner through a pipe', async () => {
    emulator.faults.setLatency(300);
    const out = await converse(['What are your business hours?']);
    expect(out).not.toContain('you>');
    expect(out).not.toContain('thinking');
    expect(out).not.toContain('Ctrl+D');
  });
});

// Starting node with tsx takes seconds on a busy machine; no time is asserted.
describe('npm start in demo mode', { timeout: 90_000 }, () => {
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
    // stdout is the conversation and nothing else: no log line, no demo line, no prompt.
    expect(stdout).not.toMatch(/^\{|Demo mode|you>/m);
    const added = stdout.indexOf('Added Parking');
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
