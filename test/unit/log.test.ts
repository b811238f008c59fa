import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

describe('logger', () => {
  it('never writes a secret, wherever it hides', () => {
    const lines: string[] = [];
    const log = createLogger({ secrets: ['sk-live-abcdef', '123456:AAE-token'], destination: { write: (l: string) => lines.push(l) } });
    log.info({ headers: { authorization: 'Bearer sk-live-abcdef' } }, 'request');
    log.error({ err: new Error('GET https://api.telegram.org/bot123456:AAE-token/getMe failed') }, 'boom');
    log.info({ apiKey: 'other-key-value' }, 'config');
    const out = lines.join('');
    expect(out).not.toContain('sk-live-abcdef');
    expect(out).not.toContain('123456:AAE-token');
    expect(out).not.toContain('other-key-value');
    expect(out).toContain('[redacted]');
    expect(out).toContain('getMe failed');
  });
});

describe('logger secrets that JSON escapes', () => {
  it('scrubs a secret holding " and \\ in its escaped form, and the line stays JSON', () => {
    const secret = 'sk"quote\\slash-1234';
    const lines: string[] = [];
    const log = createLogger({ secrets: [secret], destination: { write: (l: string) => lines.push(l) } });
    log.error({ err: new Error(`refused key ${secret}`), detail: `key=${secret}` }, `bad key ${secret}`);
    const out = lines.join('');
    expect(out).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(out).not.toContain('quote');
    expect(out).toContain('[redacted]');
    expect((): unknown => JSON.parse(out)).not.toThrow();
  });
});
