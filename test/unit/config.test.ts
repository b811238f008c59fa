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
    const c = load({ TELEGRAM_BOT_TOKEN: '123:abc', TELEGRAM_ADMIN_IDS: '1, 2 3', ASYNTAI_API_KEY: 'key-1' });
    expect(c.adapters).toEqual(['telegram']);
    expect([...c.telegram.adminIds]).toEqual(['1', '2', '3']);
  });

  it('names the variable in one line', () => {
    expect(problem({ HTTP_PORT: 'eighty' })).toBe('HTTP_PORT: must be a whole number');
    expect(problem({ USER_RATE_LIMIT: '-1' })).toMatch(/^USER_RATE_LIMIT: /);
    expect(problem({ STORE_URL: 'mysql://x' })).toMatch(/^STORE_URL: must be sqlite/);
    expect(problem({ ASYNTAI_API_URL: 'not a url' })).toMatch(/^ASYNTAI_API_URL: /);
    expect(problem({ ADAPTERS: 'telegram,irc' })).toMatch(/^ADAPTERS: unknown adapter "irc"/);
    expect(problem({ ADAPTERS: 'telegram', ASYNTAI_API_KEY: 'key-1' })).toBe('TELEGRAM_BOT_TOKEN: required by the telegram adapter');
    expect(problem({ TELEGRAM_WEBHOOK_SECRET: 'has spaces' })).toMatch(/^TELEGRAM_WEBHOOK_SECRET: /);
    for (const line of [problem({ HTTP_PORT: '99999' })]) expect(line).not.toContain('\n');
  });

  it('reports every bad variable at once, one line each', () => {
    const lines = problem({ HTTP_PORT: 'eighty', STORE_URL: 'mysql://x', LOG_LEVEL: 'loud', ADAPTERS: 'discord', SLACK_API_URL: 'ftp://x' }).split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual(['STORE_URL', 'HTTP_PORT', 'LOG_LEVEL', 'SLACK_API_URL', 'DISCORD_BOT_TOKEN', 'ASYNTAI_API_KEY']);
  });

  it('checks URLs by scheme', () => {
    expect(problem({ TELEGRAM_WEBHOOK_URL: 'http://bot.example.com/telegram' })).toMatch(/^TELEGRAM_WEBHOOK_URL: must be an https URL/);
    expect(load({ TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/telegram' }).telegram.webhookUrl).toBe('https://bot.example.com/telegram');
    expect(problem({ ASYNTAI_API_URL: 'ftp://asyntai.com/api/v1/' })).toBe('ASYNTAI_API_URL: must be an http(s) URL');
    expect(problem({ SLACK_API_URL: 'ws://localhost' })).toBe('SLACK_API_URL: must be an http(s) URL');
    expect(problem({ DISCORD_API_URL: 'discord.com/api' })).toBe('DISCORD_API_URL: must be an http(s) URL');
  });

  it('refuses a platform bot without an API key unless DEMO asks for the demo', () => {
    expect(problem({ TELEGRAM_BOT_TOKEN: '123:abc' })).toMatch(/^ASYNTAI_API_KEY: required by the telegram adapter; set it, or DEMO=1/);
    const demo = load({ TELEGRAM_BOT_TOKEN: '123:abc', DEMO: '1' });
    expect(demo.demo).toBe(true);
    expect(demo.asyntai.apiKey).toBeUndefined();
    expect(load({}).demo).toBe(false);
    expect(problem({ DEMO: 'maybe' })).toMatch(/^DEMO: must be true or false/);
  });

  it('keeps local files next to a SQLite store, or in DATA_DIR', () => {
    expect(load({}).dataDir).toBe('data');
    expect(load({ STORE_URL: 'sqlite:///var/lib/bridge/state.sqlite' }).dataDir).toBe('/var/lib/bridge');
    expect(load({ STORE_URL: 'redis://127.0.0.1:6379' }).dataDir).toBe('data');
    expect(load({ STORE_URL: 'memory://' }).dataDir).toBeUndefined();
    expect(load({ STORE_URL: 'memory://', DATA_DIR: '/tmp/x' }).dataDir).toBe('/tmp/x');
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
