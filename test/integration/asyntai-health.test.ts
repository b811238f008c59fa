/**
 * The start-up check of the API key and the `asyntai` part of /healthz, against the emulator over
 * real HTTP: a refused key is a ConfigError naming ASYNTAI_API_KEY; an API out of reach is down
 * with a reason and turns up once a background re-check succeeds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AsyntaiClient } from '../../src/asyntai/client.js';
import { checkAsyntai, type AsyntaiHealth } from '../../src/asyntai-health.js';
import { ConfigError } from '../../src/config.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { createLogger } from '../../src/log.js';

let emulator: EmulatorHandle;
const clients: AsyntaiClient[] = [];
let health: AsyntaiHealth | undefined;
const logged: Array<Record<string, unknown>> = [];
const logger = createLogger({ level: 'info', destination: { write: (line: string) => logged.push(JSON.parse(line) as Record<string, unknown>) } });

beforeAll(async () => {
  emulator = await startEmulator({ apiKeys: ['good-key'] });
});
afterEach(() => {
  health?.stop();
  emulator.faults.clear();
  logged.length = 0;
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await emulator.close();
});

function client(apiKey = 'good-key'): AsyntaiClient {
  const c = new AsyntaiClient({ apiKey, baseUrl: emulator.url, retryBaseMs: 1 });
  clients.push(c);
  return c;
}

const report = async (h: AsyntaiHealth) => h.check.healthy();

describe('checkAsyntai', () => {
  it('is up at once when the key is accepted', async () => {
    health = await checkAsyntai(client(), logger);
    expect(health.problem).toBeUndefined();
    expect(await report(health)).toEqual({ ok: true, detail: 'key accepted (plan starter)' });
    expect(health.check.name).toBe('asyntai');
  });

  it('throws a ConfigError naming ASYNTAI_API_KEY when the key is refused', async () => {
    const attempt = checkAsyntai(client('bad-key'), logger);
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow('ASYNTAI_API_KEY: the Asyntai API refused this key (HTTP 401)');
  });

  it('counts a spent monthly limit as a working key', async () => {
    emulator.faults.failNext(1, 429, { error: 'Monthly message limit reached' });
    health = await checkAsyntai(client(), logger);
    expect(await report(health)).toMatchObject({ ok: true });
  });

  it('is down with the reason while the API is out of reach, and up after a later check succeeds', async () => {
    // Three dropped connections: the first check and both of the client's own retries.
    emulator.faults.dropNext(3);
    health = await checkAsyntai(client(), logger, { retryMinMs: 20, retryMaxMs: 40 });
    expect(health.problem).toMatch(/^network: /);
    expect(await report(health)).toMatchObject({ ok: false, detail: expect.stringMatching(/^network: /) as unknown });
    expect(logged.map((l) => l['msg'])).toContain('Asyntai API not reachable at start-up; starting anyway');
    const h = health;
    await vi.waitFor(async () => expect(await report(h)).toMatchObject({ ok: true }), { timeout: 5_000, interval: 20 });
    expect(health.problem).toBeUndefined();
    expect(logged.map((l) => l['msg'])).toContain('Asyntai API reachable');
  });

  it('keeps re-checking, with the wait doubling up to its cap', async () => {
    emulator.faults.failNext(12, 503); // four checks of three attempts each
    health = await checkAsyntai(client(), logger, { retryMinMs: 10, retryMaxMs: 40 });
    const h = health;
    await vi.waitFor(async () => expect(await report(h)).toMatchObject({ ok: true }), { timeout: 5_000, interval: 20 });
    const waits = logged.filter((l) => l['msg'] === 'Asyntai API still not reachable').map((l) => l['retryInSeconds']);
    expect(waits).toEqual([0.02, 0.04, 0.04]);
  });
});
