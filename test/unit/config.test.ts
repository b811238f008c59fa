import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretsOf } from '../../src/config.js';

const load = (env: Record<string, string>) => loadConfig(env);
const problem = (env: Record<string, string>) => {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
};

describe('config', () => {
  it('has the documented defaults and falls back to the shell', () => {
    const c = load({});
    expect(c.asyntai.apiUrl).toBe('https://asyntai.com/api/v1/');
    expect(c.storeUrl).toBe('sqlite://data/bridge.sqlite');
    expect(c.userRateLimit).toBe(10);
    expect(c.maxMessageChars).toBe(4000);
    expect(c.httpPort).toBeUndefined();
    expect(c.adapters).toEqual(['shell']);
  });

  it('enables every platform with credentials', () => {
    const c = load({ TELEGRAM_BOT_TOKEN: '123:abc', TELEGRAM_ADMIN_IDS: '1, 2 3' });
    expect(c.adapters).toEqual(['telegram']);
    expect([...c.telegram.adminIds]).toEqual(['1', '2', '3']);
  });

  it('names the variable in one line', () => {
    expect(problem({ HTTP_PORT: 'eighty' })).toBe('HTTP_PORT: must be a whole number');
    expect(problem({ USER_RATE_LIMIT: '-1' })).toMatch(/^USER_RATE_LIMIT: /);
    expect(problem({ STORE_URL: 'mysql://x' })).toMatch(/^STORE_URL: must be sqlite/);
    expect(problem({ ASYNTAI_API_URL: 'not a url' })).toMatch(/^ASYNTAI_API_URL: /);
    expect(problem({ ADAPTERS: 'telegram,irc' })).toMatch(/^ADAPTERS: unknown adapter "irc"/);
    expect(problem({ ADAPTERS: 'telegram' })).toBe('TELEGRAM_BOT_TOKEN: required by the telegram adapter');
    expect(problem({ TELEGRAM_WEBHOOK_SECRET: 'has spaces' })).toMatch(/^TELEGRAM_WEBHOOK_SECRET: /);
    for (const line of [problem({ HTTP_PORT: '99999' })]) expect(line).not.toContain('\n');
  });

  it('treats an empty assignment as unset and adds the trailing slash to the API URL', () => {
    const c = load({ HTTP_PORT: '', ASYNTAI_API_URL: 'http://127.0.0.1:8787/api/v1' });
    expect(c.httpPort).toBeUndefined();
    expect(c.asyntai.apiUrl).toBe('http://127.0.0.1:8787/api/v1/');
  });

  it('lists the secrets for the logger', () => {
    const c = load({ ASYNTAI_API_KEY: 'key-123456', TELEGRAM_BOT_TOKEN: '123:secret-token' });
    expect(secretsOf(c)).toEqual(['key-123456', '123:secret-token']);
  });
});
