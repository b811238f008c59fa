/**
 * Every command, allowed and refused, through `Bridge.handle` against the emulator.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { COMMANDS } from '../../src/core/commands/registry.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import type { Attachment, Incoming } from '../../src/core/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { incoming, recordingReply, type RecordingReplyOptions } from '../fakes/recording-reply.js';

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;
let bridge: Bridge;
/** A bridge whose API is unreachable: any call it made would turn into an error answer. */
let offline: { bridge: Bridge; client: AsyntaiClient; store: StateStore };

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
  store = await openStore('memory://');
  const logger = createLogger({ level: 'silent' });
  bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger, userRateLimit: 0 });

  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const deadClient = new AsyntaiClient({ apiKey: 'k', baseUrl: `http://127.0.0.1:${port}/api/v1/`, retries: 0 });
  const deadStore = await openStore('memory://');
  offline = {
    client: deadClient,
    store: deadStore,
    bridge: new Bridge({ client: deadClient, store: deadStore, sessions: new SessionMap(deadStore), logger, userRateLimit: 0 }),
  };
});

afterAll(async () => {
  await client.close();
  await offline.client.close();
  await store.close();
  await offline.store.close();
  await emulator.close();
});

async function run(text: string, overrides: Partial<Incoming> = {}, replyOptions: RecordingReplyOptions = {}, target = bridge) {
  const reply = recordingReply(replyOptions);
  await target.handle(incoming(text, overrides), reply);
  return reply;
}

const user = { sender: { id: 'visitor', isAdmin: false } };

function fileAttachment(name: string, data: Buffer): Attachment {
  return { name, size: data.length, download: () => Promise.resolve(data) };
}

describe('anyone', () => {
  it('/ask asks the assistant', async () => {
    const reply = await run('/ask What are your business hours?', user);
    expect(reply.texts).toHaveLength(1);
    expect(reply.all).not.toMatch(/usage/i);
  });

  it('/ask without a question answers with the usage line', async () => {
    expect((await run('/ask', user)).all).toContain('Usage: `/ask <question>`');
  });

  it('/help lists only what the user may run', async () => {
    const forUser = (await run('/help', user)).all;
    expect(forUser).toContain('/ask');
    expect(forUser).not.toContain('/leads');
    const forAdmin = (await run('/help')).all;
    for (const c of COMMANDS) expect(forAdmin).toContain(c.usage);
  });

  it('commands come in Telegram spelling too, and unknown ones get a hint', async () => {
    expect((await run('/kb_list')).all).toMatch(/Knowledge base/);
    expect((await run('/frobnicate')).all).toMatch(/don't know the command \/frobnicate.*\/help/s);
  });
});

describe('admin commands refused to others, with no API call', () => {
  const adminOnly = COMMANDS.filter((c) => c.adminOnly);
  it.each(adminOnly.map((c) => [c.name]))('/%s', async (name) => {
    const reply = await run(`/${name} 1`, user, {}, offline.bridge);
    expect(reply.all).toBe(`/${name} is only for admins of this bot.`);
  });

  it('the refusal is ephemeral where the platform can', async () => {
    const reply = await run('/usage', user, { ephemeral: { text: true, file: false } }, offline.bridge);
    expect(reply.texts[0]!.options?.ephemeral).toBe(true);
  });

  it('is decided before any await, so an adapter can refuse within its deadline', () => {
    expect(offline.bridge.decide(incoming('/usage', user))).toEqual({ kind: 'refuse', text: '/usage is only for admins of this bot.' });
    expect(offline.bridge.decide(incoming('/usage'))).toEqual({ kind: 'run', command: 'usage', ephemeral: true });
  });
});

describe('leads (personal data)', () => {
  it('shows leads and a CSV to an admin in private', async () => {
    await run('Call me on +44 20 7946 0018 or mail sam@example.net', { threadKey: 'shell:lead' });
    const reply = await run('/leads 5');
    expect(reply.all).toContain('sam@example.net');
    const csv = reply.files[0]!.file;
    expect(csv.name).toBe('leads.csv');
    expect(csv.data.toString()).toMatch(/^session_id,email,phone,page_url,started_at\r\n/);
    expect(csv.data.toString()).toContain('sam@example.net');
  });

  it('refuses in a public channel without ephemeral answers, with no API call', async () => {
    const reply = await run('/leads', { isPrivate: false }, {}, offline.bridge);
    expect(reply.all).toMatch(/only answer it in a private chat/);
    expect(reply.files).toEqual([]);
  });

  it('answers ephemerally in public where the platform can, text and file (Discord interactions)', async () => {
    const reply = await run('/leads', { isPrivate: false }, { ephemeral: { text: true, file: true } });
    expect(reply.all).toContain('sam@example.net');
    expect(reply.texts.every((t) => t.options?.ephemeral)).toBe(true);
    expect(reply.files.map((f) => f.options?.ephemeral)).toEqual([true]);
  });

  it('sends the CSV to the DM where only text can be ephemeral (Slack)', async () => {
    const reply = await run('/leads', { isPrivate: false }, { ephemeral: { text: true, file: false }, withDm: true });
    expect(reply.all).toContain('sam@example.net');
    expect(reply.texts.every((t) => t.options?.ephemeral)).toBe(true);
    expect(reply.files).toEqual([]);
    expect(reply.dm!.files[0]!.file.name).toBe('leads.csv');
  });

  it('leaves the CSV out, saying so, where only text can be private and there is no DM', async () => {
    const reply = await run('/leads', { isPrivate: false }, { ephemeral: { text: true, file: false } });
    expect(reply.files).toEqual([]);
    expect(reply.texts.every((t) => t.options?.ephemeral)).toBe(true);
    expect(reply.all).toMatch(/CSV file is not available here/);
  });

  it('goes to the DM with a short public pointer where nothing can be ephemeral (a mention)', async () => {
    const reply = await run('/leads', { isPrivate: false }, { withDm: true });
    expect(reply.all).not.toContain('sam@example.net');
    expect(reply.all).toMatch(/direct message/);
    expect(reply.dm!.all).toContain('sam@example.net');
    expect(reply.dm!.files[0]!.file.name).toBe('leads.csv');
  });

  it('refuses when the DM cannot be opened', async () => {
    const reply = recordingReply({});
    reply.directMessage = () => Promise.reject(new Error('the user blocks DMs'));
    await offline.bridge.handle(incoming('/leads', { isPrivate: false }), reply);
    expect(reply.all).toMatch(/only answer it in a private chat/);
  });

  it('bad count → usage line', async () => {
    expect((await run('/leads many')).all).toContain('Usage: `/leads [count]`');
    expect((await run('/leads 500')).all).toMatch(/between 1 and 100/);
  });
});

describe('knowledge base', () => {
  it('/kb-add with "|" then the assistant knows it; /kb-list shows it; /kb-delete removes it', async () => {
    const added = await run('/kb-add Parking | Free parking behind the store for all customers.');
    const id = /id `([^`]+)`/.exec(added.all)?.[1];
    expect(id).toBeDefined();
    expect((await run('Where can I park?', { threadKey: 'shell:park' })).all.toLowerCase()).toContain('parking behind the store');
    expect((await run('/kb-list 100')).all).toContain(id);
    expect((await run(`/kb-delete ${id}`)).all).toContain(`Deleted entry \`${id}\``);
    expect((await run('/kb-list 100')).all).not.toContain(id);
  });

  it('/kb-add with title on the first line', async () => {
    expect((await run('/kb-add Gift wrapping\nWe wrap gifts for free at the counter.')).all).toMatch(/Added \*\*Gift wrapping\*\*/);
  });

  it('/kb-add argument errors', async () => {
    expect((await run('/kb-add just a title')).all).toContain('Usage: `/kb-add <title> | <content>`');
    expect((await run('/kb-add Title | short')).all).toMatch(/at least 10 characters/);
  });

  it('/kb-add without arguments: a form where the platform has forms, else the usage line', async () => {
    const decision = bridge.decide(incoming('/kb-add'), { forms: true });
    expect(decision).toMatchObject({ kind: 'form', form: { command: 'kb-add', fields: [{ id: 'title' }, { id: 'content' }] } });
    // A form decision is the adapter's to act on: handling it answers nothing.
    const reply = recordingReply();
    await bridge.handle(incoming('/kb-add'), reply, decision);
    expect(reply.texts).toEqual([]);
    expect(bridge.decide(incoming('/kb-add Title | Some content here'), { forms: true })).toMatchObject({ kind: 'run', command: 'kb-add' });
    expect((await run('/kb-add')).all).toContain('Usage: `/kb-add <title> | <content>`');
  });

  it('/kb-add from named values (a form or Discord options), not joined and parsed again', async () => {
    const values = { title: 'Pipes | and lines', content: 'A title with a bar\nand content on two lines.' };
    const added = await run('', { command: { name: 'kb-add', args: '', values } });
    expect(added.all).toMatch(/Added \*\*Pipes \| and lines\*\*/);
    const short = await run('', { command: { name: 'kb-add', args: '', values: { title: 'T', content: 'short' } } });
    expect(short.all).toMatch(/at least 10 characters/);
  });

  it('a single-argument command takes its named value', async () => {
    expect((await run('', { command: { name: 'history', args: '', values: { count: 'many' } } })).all).toContain('Usage: `/history [count]`');
  });

  it('/kb-delete autocompletes over titles, for admins only, without the queue', async () => {
    await run('/kb-add Returns policy | Returns are free within 30 days of delivery.');
    const request = { platform: 'shell' as const, spaceKey: 'shell:test', command: 'kb-delete', argument: 'id', partial: 'return' };
    const choices = await bridge.complete({ ...request, sender: { id: 'u1', isAdmin: true } });
    expect(choices.length).toBeGreaterThan(0);
    expect(choices[0]!.name).toMatch(/Returns policy/);
    expect(choices.length).toBeLessThanOrEqual(25);
    expect(await bridge.complete({ ...request, sender: { id: 'v', isAdmin: false } })).toEqual([]);
    expect(await offline.bridge.complete({ ...request, sender: { id: 'u1', isAdmin: true } })).toEqual([]);
  });

  it('an unknown command suggests the closest one', async () => {
    expect((await run('/kb-ad x')).all).toMatch(/Did you mean \/kb-add\?/);
    expect((await run('/zzzzzz')).all).not.toMatch(/Did you mean/);
  });

  it('/kb-delete of an unknown id', async () => {
    expect((await run('/kb-delete nope-123')).all).toMatch(/no knowledge entry with id `nope-123`/);
  });

  it('/kb-url refuses what is not a web address, with no API call', async () => {
    expect((await run('/kb-url ftp://example.com/x', {}, {}, offline.bridge)).all).toMatch(/Only http and https/);
    expect((await run('/kb-url', {}, {}, offline.bridge)).all).toContain('Usage: `/kb-url <url>`');
  });

  it('/kb-upload adds a CSV and an XLSX', async () => {
    const csv = await run('/kb-upload', { attachments: [fileAttachment('faq.csv', Buffer.from('question,answer\nDo you sell gift cards?,Yes\nDo you rent tents?,No\n'))] });
    expect(csv.all).toMatch(/2 rows processed/);
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Products');
    sheet.addRow(['name', 'price']);
    sheet.addRow(['Lantern', '25']);
    const xlsx = Buffer.from(await book.xlsx.writeBuffer());
    expect((await run('/kb-upload', { attachments: [fileAttachment('products.xlsx', xlsx)] })).all).toMatch(/1 row processed/);
  });

  it('/kb-upload refuses a wrong file type, a missing file and an oversized one before any API call', async () => {
    expect((await run('/kb-upload', { attachments: [fileAttachment('notes.pdf', Buffer.from('%PDF'))] }, {}, offline.bridge)).all).toMatch(/send a \.csv or \.xlsx/);
    expect((await run('/kb-upload', {}, {}, offline.bridge)).all).toContain('Usage:');
    const huge: Attachment = { name: 'big.csv', size: 50 * 1024 * 1024, download: () => Promise.reject(new Error('must not download')) };
    expect((await run('/kb-upload', { attachments: [huge] }, {}, offline.bridge)).all).toMatch(/too large/);
  });
});

describe('account and websites', () => {
  it('/usage shows used / limit, a bar and the percentage', async () => {
    const all = (await run('/usage')).all;
    expect(all).toMatch(/Messages:\*\* [\d,]+ \/ 2,500 \(\d+%\)/);
    expect(all).toMatch(/[█░]{20}/);
    expect(all).toMatch(/days left this month/);
  });

  it('/websites marks the one in use; /website binds this space and scopes the knowledge commands', async () => {
    const websites = await client.websites();
    const other = websites.find((w) => !w.is_primary)!;
    const space = { spaceKey: 'shell:space-b', threadKey: 'shell:space-b' };
    expect((await run('/websites', space)).all).toMatch(new RegExp(`▶ \`${websites.find((w) => w.is_primary)!.id}\``));
    expect((await run(`/website ${other.id}`, space)).all).toContain(`now uses \`${other.id}\``);
    expect((await run('/websites', space)).all).toMatch(new RegExp(`▶ \`${other.id}\``));
    await run('/kb-add Only on B | This fact lives only on the second website.', space);
    expect((await run('/kb-list 100', space)).all).toContain('Only on B');
    expect((await run('/kb-list 100')).all).not.toContain('Only on B');
    expect((await run('/website 99999', space)).all).toMatch(/no website with id `99999`/);
    expect((await run('/website abc', space)).all).toContain('Usage: `/website <id>`');
  });

  it('/sessions lists recent conversations', async () => {
    await run('What are your business hours?', { threadKey: 'shell:sessions' });
    expect((await run('/sessions 5')).all).toMatch(/Recent conversations/);
  });
});
