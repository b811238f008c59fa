/**
 * The fault injector of the programmatic handle: injected statuses with Retry-After, malformed
 * 200 bodies, dropped connections and latency, all counted after auth and free of side effects.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AccountResponse, ChatResponse, ErrorBody, WebsitesResponse } from '../../src/asyntai/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { call } from './emulator-helpers.js';

let emu: EmulatorHandle;
const api = (method: string, path: string, body?: unknown) => call(emu.url, emu.apiKey, method, path, { body });
const used = async (): Promise<number> => AccountResponse.parse((await api('GET', 'account/')).body).account.messages_used;

beforeAll(async () => {
  emu = await startEmulator();
});
afterEach(() => {
  emu.faults.clear();
});
afterAll(async () => {
  await emu.close();
});

describe('faults', () => {
  it('failNext answers the status with the error body and Retry-After, then recovers', async () => {
    emu.faults.failNext(2, 503, { retryAfterSeconds: 3 });
    for (let i = 0; i < 2; i++) {
      const res = await api('POST', 'chat/', { message: 'What are your business hours?' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('3');
      expect(ErrorBody.parse(res.body).error).toMatch(/unavailable/);
    }
    expect(await used()).toBe(0); // no answer was produced, nothing counted
    const ok = await api('POST', 'chat/', { message: 'What are your business hours?' });
    ChatResponse.parse(ok.body);
    expect(await used()).toBe(1);
  });

  it('failNext uses a custom error text and any status, and only counts authenticated requests', async () => {
    emu.faults.failNext(1, 429, { error: 'Slow down' });
    expect((await call(emu.url, 'wrong-key', 'GET', 'websites/')).status).toBe(401);
    const res = await api('GET', 'websites/');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(ErrorBody.parse(res.body).error).toBe('Slow down');
    expect((await api('GET', 'websites/')).status).toBe(200);
  });

  it('malformNext answers 200 with a body that matches no documented shape', async () => {
    emu.faults.malformNext(1);
    const res = await api('POST', 'chat/', { message: 'hello', session_id: 'malformed' });
    expect(res.status).toBe(200);
    expect(ChatResponse.safeParse(res.body).success).toBe(false);
    expect(ErrorBody.safeParse(res.body).success).toBe(false);
    WebsitesResponse.parse((await api('GET', 'websites/')).body);
  });

  it('dropNext destroys the connection without a response', async () => {
    emu.faults.dropNext(1);
    await expect(api('GET', 'websites/')).rejects.toThrow();
    expect((await api('GET', 'websites/')).status).toBe(200);
  });

  it('setLatency delays every answer until cleared', async () => {
    emu.faults.setLatency(5_000);
    await expect(call(emu.url, emu.apiKey, 'GET', 'websites/', { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    emu.faults.setLatency(0);
    expect((await call(emu.url, emu.apiKey, 'GET', 'websites/', { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
  });

  it('clear removes every pending fault', async () => {
    emu.faults.failNext(5, 500);
    emu.faults.malformNext(5);
    emu.faults.dropNext(5);
    emu.faults.setLatency(5_000);
    emu.faults.clear();
    const res = await call(emu.url, emu.apiKey, 'GET', 'websites/', { signal: AbortSignal.timeout(5_000) });
    WebsitesResponse.parse(res.body);
  });
});
