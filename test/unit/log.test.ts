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
