/**
 * All configuration, read once from the environment (and `.env`, loaded by main). Every variable
 * of DESIGN.md is here with its default; a bad value becomes a `ConfigError` whose message is one
 * line naming the variable, which main prints before exiting.
 */
import { z } from 'zod';
import type { PlatformName } from './core/types.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

const PLATFORMS = ['telegram', 'slack', 'discord', 'shell'] as const satisfies readonly PlatformName[];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const httpUrl = z
  .string()
  .trim()
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

const intInRange = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

/** Comma- or space-separated ids; empty means none. */
const idList = z
  .string()
  .optional()
  .transform((s) => new Set((s ?? '').split(/[\s,]+/).filter(Boolean)));

const storeUrl = z
  .string()
  .trim()
  .refine((s) => /^(sqlite:\/\/.+|redis(s)?:\/\/.+|memory:\/\/)$/.test(s), 'must be sqlite://path, redis://host[:port] or memory://');

/** The schema, field by field: each key is the environment variable's name. */
const schema = z.object({
  ASYNTAI_API_KEY: optionalString,
  ASYNTAI_API_URL: httpUrl.default('https://asyntai.com/api/v1/'),
  ASYNTAI_AUTH_HEADER: z.enum(['bearer', 'x-api-key']).default('bearer'),
  ASYNTAI_WEBSITE_ID: intInRange(1, Number.MAX_SAFE_INTEGER).optional(),
  ASYNTAI_CHAT_TIMEOUT_MS: intInRange(100, 600_000).default(30_000),
  ASYNTAI_TIMEOUT_MS: intInRange(100, 600_000).default(10_000),
  ASYNTAI_WEBHOOK_SECRET: optionalString,
  STORE_URL: storeUrl.default('sqlite://data/bridge.sqlite'),
  HTTP_PORT: intInRange(0, 65_535).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).optional(),
  USER_RATE_LIMIT: intInRange(0, 100_000).default(10),
  MAX_MESSAGE_CHARS: intInRange(1, 1_000_000).default(4_000),
  ADAPTERS: z
    .string()
    .trim()
    .optional()
    .transform((s, ctx) => {
      if (!s) return undefined;
      const names = s.split(/[\s,]+/).filter(Boolean);
      for (const n of names) {
        if (!(PLATFORMS as readonly string[]).includes(n)) {
          ctx.addIssue({ code: 'custom', message: `unknown adapter "${n}" (one of ${PLATFORMS.join(', ')})` });
          return z.NEVER;
        }
      }
      return names as PlatformName[];
    }),
  TELEGRAM_BOT_TOKEN: optionalString,
  TELEGRAM_API_ROOT: httpUrl.optional(),
  TELEGRAM_ADMIN_IDS: idList,
  TELEGRAM_WEBHOOK_URL: z.string().trim().url('must be an https URL').optional(),
  TELEGRAM_WEBHOOK_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, _ and -')
    .optional(),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_API_URL: httpUrl.optional(),
  SLACK_ADMIN_IDS: idList,
  DISCORD_BOT_TOKEN: optionalString,
  DISCORD_API_URL: httpUrl.optional(),
  DISCORD_ADMIN_IDS: idList,
});

export interface Config {
  asyntai: {
    /** Absent: demo mode, the emulator runs in-process. */
    apiKey: string | undefined;
    apiUrl: string;
    authHeader: 'bearer' | 'x-api-key';
    websiteId: number | undefined;
    chatTimeoutMs: number;
    timeoutMs: number;
    webhookSecret: string | undefined;
  };
  storeUrl: string;
  /** Undefined when HTTP_PORT is unset: the server then starts only for platform adapters (on 3000). */
  httpPort: number | undefined;
  logLevel: (typeof LOG_LEVELS)[number] | undefined;
  userRateLimit: number;
  maxMessageChars: number;
  adapters: PlatformName[];
  telegram: {
    token: string | undefined;
    apiRoot: string | undefined;
    adminIds: Set<string>;
    webhookUrl: string | undefined;
    webhookSecret: string | undefined;
  };
  slack: {
    botToken: string | undefined;
    signingSecret: string | undefined;
    appToken: string | undefined;
    apiUrl: string | undefined;
    adminIds: Set<string>;
  };
  discord: { token: string | undefined; apiUrl: string | undefined; adminIds: Set<string> };
}

/** The port the HTTP server uses when a platform needs it and HTTP_PORT is unset. */
export const DEFAULT_HTTP_PORT = 3000;

/** Reads and validates the environment. Throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty assignment in .env (`FOO=`) means unset, as most dotenv users expect.
    raw[key] = value === undefined || value.trim() === '' ? undefined : value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? 'config'), issue.message);
  }
  const e = parsed.data;
  const adapters = e.ADAPTERS ?? defaultAdapters(e);
  const config: Config = {
    asyntai: {
      apiKey: e.ASYNTAI_API_KEY,
      apiUrl: e.ASYNTAI_API_URL.endsWith('/') ? e.ASYNTAI_API_URL : `${e.ASYNTAI_API_URL}/`,
      authHeader: e.ASYNTAI_AUTH_HEADER,
      websiteId: e.ASYNTAI_WEBSITE_ID,
      chatTimeoutMs: e.ASYNTAI_CHAT_TIMEOUT_MS,
      timeoutMs: e.ASYNTAI_TIMEOUT_MS,
      webhookSecret: e.ASYNTAI_WEBHOOK_SECRET,
    },
    storeUrl: e.STORE_URL,
    httpPort: e.HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    userRateLimit: e.USER_RATE_LIMIT,
    maxMessageChars: e.MAX_MESSAGE_CHARS,
    adapters,
    telegram: {
      token: e.TELEGRAM_BOT_TOKEN,
      apiRoot: e.TELEGRAM_API_ROOT?.replace(/\/+$/, ''),
      adminIds: e.TELEGRAM_ADMIN_IDS,
      webhookUrl: e.TELEGRAM_WEBHOOK_URL,
      webhookSecret: e.TELEGRAM_WEBHOOK_SECRET,
    },
    slack: {
      botToken: e.SLACK_BOT_TOKEN,
      signingSecret: e.SLACK_SIGNING_SECRET,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL,
      adminIds: e.SLACK_ADMIN_IDS,
    },
    discord: { token: e.DISCORD_BOT_TOKEN, apiUrl: e.DISCORD_API_URL, adminIds: e.DISCORD_ADMIN_IDS },
  };
  requireCredentials(config);
  return config;
}

/** Every platform with credentials; the shell when none has any. */
function defaultAdapters(e: z.infer<typeof schema>): PlatformName[] {
  const names: PlatformName[] = [];
  if (e.TELEGRAM_BOT_TOKEN) names.push('telegram');
  if (e.SLACK_BOT_TOKEN) names.push('slack');
  if (e.DISCORD_BOT_TOKEN) names.push('discord');
  return names.length > 0 ? names : ['shell'];
}

/** An adapter named in ADAPTERS without its credentials is a configuration error, said once. */
function requireCredentials(c: Config): void {
  for (const name of c.adapters) {
    if (name === 'telegram' && !c.telegram.token) throw new ConfigError('TELEGRAM_BOT_TOKEN', 'required by the telegram adapter');
    if (name === 'slack' && !c.slack.botToken) throw new ConfigError('SLACK_BOT_TOKEN', 'required by the slack adapter');
    if (name === 'slack' && !c.slack.appToken && !c.slack.signingSecret)
      throw new ConfigError('SLACK_SIGNING_SECRET', 'required by the slack adapter unless SLACK_APP_TOKEN (Socket Mode) is set');
    if (name === 'discord' && !c.discord.token) throw new ConfigError('DISCORD_BOT_TOKEN', 'required by the discord adapter');
  }
}

/** Every secret value in the config, for the logger to scrub from any line. */
export function secretsOf(c: Config): string[] {
  return [
    c.asyntai.apiKey,
    c.asyntai.webhookSecret,
    c.telegram.token,
    c.telegram.webhookSecret,
    c.slack.botToken,
    c.slack.signingSecret,
    c.slack.appToken,
    c.discord.token,
  ].filter((s): s is string => typeof s === 'string' && s.length >= 4);
}
