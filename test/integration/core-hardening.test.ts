/**
 * Core regressions found by hostile testing: a STORE_URL whose folder cannot be created fails
 * start-up with a StoreOpenError instead of hanging it, and a usage error quotes a short excerpt of
 * a huge argument rather than echoing it back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { parseCount, UsageError } from '../../src/core/commands/command.js';
import { SessionMap } from '../../src/core/session-map.js';
import { MESSAGES } from '../../src/core/user-messages.js';
import { openStore, StoreOpenError, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { incoming, recordingReply } from '../fakes/recording-reply.js';

describe('openStore', () => {
  it('fails with StoreOpenError, not a hang, when the folder cannot be created (/proc/x)', async () => {
    await expect(openStore('sqlite:///proc/x/db.sqlite')).rejects.toThrow(StoreOpenError);
    await expect(openStore('sqlite:///proc/x/y/db.sqlite')).rejects.toThrow(/Cannot open store/);
  });
});

describe('usage errors', () => {
  it('quote at most a short excerpt of a 9,000-character argument', () => {
    const huge = `x${'y'.repeat(9_000)}`;
    let problem = '';
    try {
      parseCount(huge, 10);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      problem = (err as Error).message;
    }
    expect(problem).toMatch(/is not a number/);
    expect(problem).toContain('xyyy');
    const answer = MESSAGES.usage('/history [count]', problem);
    expect(answer.length).toBeLessThan(200);
  });
});

describe('commands given a 9,000-character argument', () => {
  let emulator: EmulatorHandle;
  let client: AsyntaiClient;
  let store: StateStore;
  let bridge: Bridge;
  beforeAll(async () => {
    emulator = await startEmulator();
    client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
    store = await openStore('memory://');
    bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger: createLogger({ level: 'silent' }), userRateLimit: 0 });
  });
  afterAll(async () => {
    await client.close();
    await store.close();
    await emulator.close();
  });

  it.each(['history', 'kb-url', 'website'])('/%s answers in one short message', async (name) => {
    const reply = recordingReply();
    await bridge.handle(incoming(`/${name} ${'z'.repeat(9_000)}`), reply);
    expect(reply.texts).toHaveLength(1);
    expect(reply.all.length).toBeLessThan(200);
    expect(reply.all).toContain('zzzz');
  });

  it('/website with 9,000 digits answers in one short message', async () => {
    const reply = recordingReply();
    await bridge.handle(incoming(`/website ${'9'.repeat(9_000)}`), reply);
    expect(reply.texts).toHaveLength(1);
    expect(reply.all.length).toBeLessThan(200);
  });
});
