/**
 * The demo notice around the real core (emulator over HTTP, memory store): the first public
 * answer of each thread carries it, later answers and other replies of the thread do not, an
 * ephemeral answer does not use it up, and the store remembers threads already told.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import type { BridgePort } from '../../src/core/types.js';
import { DEMO_NOTICE, withDemoNotice } from '../../src/demo-notice.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { incoming, recordingReply } from '../fakes/recording-reply.js';

let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;
let demo: BridgePort;

beforeAll(async () => {
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
  store = await openStore('memory://');
  const bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger: createLogger({ level: 'silent' }), userRateLimit: 0 });
  demo = withDemoNotice(bridge, store);
});
afterAll(async () => {
  await client.close();
  await store.close();
  await emulator.close();
});

describe('withDemoNotice', () => {
  it('puts the notice above the first answer of each thread only', async () => {
    const first = recordingReply();
    await demo.handle(incoming('What are your business hours?', { threadKey: 'telegram:1' }), first);
    const second = recordingReply();
    await demo.handle(incoming('Where are you?', { threadKey: 'telegram:1' }), second);
    const other = recordingReply();
    await demo.handle(incoming('What are your business hours?', { threadKey: 'telegram:2' }), other);
    expect(first.texts[0]!.text.startsWith(`${DEMO_NOTICE}\n\n`)).toBe(true);
    expect(first.texts[0]!.text).toMatch(/\d/);
    expect(second.all).not.toContain(DEMO_NOTICE);
    expect(other.texts[0]!.text.startsWith(DEMO_NOTICE)).toBe(true);
  });

  it('leaves ephemeral answers alone and tells the thread in its first public one', async () => {
    const thread = { threadKey: 'slack:T1:C1:u1', isPrivate: false };
    const usage = recordingReply({ ephemeral: { text: true, file: false } });
    await demo.handle(incoming('/usage', thread), usage);
    expect(usage.texts[0]!.options).toEqual({ ephemeral: true });
    expect(usage.all).not.toContain(DEMO_NOTICE);
    const answer = recordingReply({ ephemeral: { text: true, file: false } });
    await demo.handle(incoming('What are your business hours?', thread), answer);
    expect(answer.texts[0]!.text.startsWith(DEMO_NOTICE)).toBe(true);
  });

  it("passes the core's decision through unchanged", () => {
    expect(demo.decide(incoming('/kb-lst'))).toMatchObject({ kind: 'refuse', text: expect.stringContaining('Did you mean /kb-list?') as unknown });
  });
});
