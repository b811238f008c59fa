/**
 * A Redis that refuses writes (`maxmemory` reached, noeviction) must not swallow messages: the
 * user gets the "try again" words, and once Redis takes writes again the same message (as a
 * platform redelivery) is answered. Runs against a Redis of its own, started on a free port.
 */
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { Bridge } from '../../src/core/bridge.js';
import { SessionMap } from '../../src/core/session-map.js';
import { openStore, type StateStore } from '../../src/core/state-store.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';
import { incoming, recordingReply } from '../fakes/recording-reply.js';
import { RedisProcess } from './redis-process.js';

let redis: RedisProcess;
let url: string;
let emulator: EmulatorHandle;
let client: AsyntaiClient;
let store: StateStore;

beforeAll(async () => {
  redis = await RedisProcess.start();
  url = redis.url;
  store = await openStore(url);
  emulator = await startEmulator();
  client = new AsyntaiClient({ apiKey: emulator.apiKey, baseUrl: emulator.url });
});

afterAll(async () => {
  await store?.close();
  await client?.close();
  await emulator?.close();
  await redis?.stop();
});

async function setMaxMemory(value: string): Promise<void> {
  const admin = createClient({ url });
  await admin.connect();
  await admin.configSet('maxmemory', value);
  await admin.quit();
}

describe('a store that refuses writes', () => {
  it('tells the user to try again, and answers the redelivered message once writes work again', async () => {
    const logger = createLogger({ level: 'silent' });
    const bridge = new Bridge({ client, store, sessions: new SessionMap(store), logger, userRateLimit: 0 });
    const message = incoming('What are your business hours?', { threadKey: 'shell:oom' });

    await setMaxMemory('1');
    const refused = recordingReply();
    await bridge.handle(message, refused);
    expect(refused.all).toMatch(/try again shortly/);

    await setMaxMemory('0');
    const answered = recordingReply();
    await bridge.handle(message, answered);
    expect(answered.all).toMatch(/\d/);
    expect(answered.all).not.toMatch(/try again/);
  });
});
