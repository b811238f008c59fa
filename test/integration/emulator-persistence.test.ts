/**
 * State persistence with dataPath across a restart, and the CLI: flags, its printed base URL and
 * key, a clean exit on SIGTERM, and exit code 2 on a bad flag.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountResponse,
  ChatResponse,
  ConversationResponse,
  CreateWebhookResponse,
  KnowledgeListResponse,
  KnowledgeTextResponse,
  LeadsResponse,
  WebhooksResponse,
} from '../../src/asyntai/types.js';
import { startEmulator } from '../../src/emulator/server.js';
import { call } from './emulator-helpers.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'emulator-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dataPath persistence', () => {
  it('keeps knowledge, sessions, leads, webhooks and usage across a restart', async () => {
    const dataPath = join(dir, 'nested', 'state.json');
    const first = await startEmulator({ dataPath });
    const seeded = KnowledgeListResponse.parse((await call(first.url, first.apiKey, 'GET', 'knowledge/')).body).entries.length;
    const added = KnowledgeTextResponse.parse(
      (await call(first.url, first.apiKey, 'POST', 'knowledge/text/', { body: { title: 'Parking', content: 'Parking: free parking behind the store' } })).body,
    );
    await call(first.url, first.apiKey, 'POST', 'chat/', { body: { message: 'Mail me at kim@example.com', session_id: 'keep-1' } });
    const hook = CreateWebhookResponse.parse(
      (await call(first.url, first.apiKey, 'POST', 'webhooks/', { body: { url: 'https://example.com/hook', events: ['message.received'] } })).body,
    );
    await first.close();
    expect(JSON.parse(await readFile(dataPath, 'utf8'))).toMatchObject({ version: 1 });

    const second = await startEmulator({ dataPath });
    try {
      const api = (method: string, path: string, body?: unknown) => call(second.url, second.apiKey, method, path, { body });
      const entries = KnowledgeListResponse.parse((await api('GET', 'knowledge/')).body).entries;
      expect(entries).toHaveLength(seeded + 1); // loaded, not seeded again
      expect(entries[0]?.id).toBe(added.id);
      expect(ChatResponse.parse((await api('POST', 'chat/', { message: 'Where can I park?' })).body).response).toMatch(/behind the store/);
      const conv = ConversationResponse.parse((await api('GET', 'conversations/?session_id=keep-1')).body);
      expect(conv.messages[0]?.content).toBe('Mail me at kim@example.com');
      expect(LeadsResponse.parse((await api('GET', 'leads/')).body).leads[0]?.email).toBe('kim@example.com');
      expect(WebhooksResponse.parse((await api('GET', 'webhooks/')).body).webhooks.map((w) => w.id)).toEqual([hook.webhook.id]);
      expect(AccountResponse.parse((await api('GET', 'account/')).body).account.messages_used).toBe(2);
    } finally {
      await second.close();
    }
  });

  it('refuses to start on a file that is not emulator state', async () => {
    const dataPath = join(dir, 'other.json');
    await writeFile(dataPath, '{"hello": "world"}');
    await expect(startEmulator({ dataPath })).rejects.toThrow(/not an emulator state file/);
  });
});

/** Runs the CLI; resolves with its output once `until` matches stdout or the process exits. */
function runCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/emulator/cli.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const printed = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (pattern.test(stdout)) resolve(stdout);
      };
      child.stdout.on('data', check);
      void exited.then(() => reject(new Error(`CLI exited early: ${stderr}`)));
    });
  return { child, exited, printed, output: () => ({ stdout, stderr }) };
}

describe('CLI', () => {
  it('prints its base URL and key, serves, and exits cleanly on SIGTERM', async () => {
    const cli = runCli(['--port', '0', '--plan', 'pro', '--data', join(dir, 'cli.json')], { EMULATOR_API_KEY: 'cli-key' });
    const out = await cli.printed(/API key: cli-key/);
    const url = /(http:\/\/\S+\/api\/v1\/)/.exec(out)?.[1];
    if (url === undefined) throw new Error(`no URL in: ${out}`);
    const { account } = AccountResponse.parse((await call(url, 'cli-key', 'GET', 'account/')).body);
    expect(account.plan).toBe('pro');
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'cli.json'), 'utf8'))).toMatchObject({ version: 1 });
  });

  it('exits with 2 and one clear line on a bad flag or value', async () => {
    for (const args of [['--bogus'], ['--plan', 'gold'], ['--port', 'eighty']]) {
      const cli = runCli(args);
      expect(await cli.exited, args.join(' ')).toBe(2);
      expect(cli.output().stderr.trim().split('\n')).toHaveLength(1);
      expect(cli.output().stderr).toMatch(/^emulator: /);
    }
  });
});
