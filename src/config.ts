/**
 * All configuration, read once from the environment (and `.env`, loaded by main). One table,
 * `VARIABLES`, holds every variable with its group, example value, description and validation:
 * `--help` prints it, `.env.example` is checked against it by a unit test (neither can drift),
 * and adding a variable is one entry there plus the line that places it in `Config`.
 *
 * Every bad variable is reported at once: `ConfigError` carries one problem per variable, each a
 * line naming it, which main prints before exiting.
 */
import { dirname } from 'node:path';
import { z } from 'zod';
import type { PlatformName } from './core/types.js';

/** One bad variable and what is wrong with it. */
export interface ConfigProblem {
  variable: string;
  problem: string;
}

/** A configuration that cannot start: `problems` has one entry per bad variable, `message` one line each. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];
  constructor(
    readonly variable: string,
    problem: string,
    more: readonly ConfigProblem[] = [],
  ) {
    const problems = [{ variable, problem }, ...more];
    super(problems.map((p) => `${p.variable}: ${p.problem}`).join('\n'));
    this.problems = problems;
  }
}

const PLATFORMS = ['telegram', 'slack', 'discord', 'shell'] as const satisfies readonly PlatformName[];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

/** A URL whose scheme is one of `schemes` (e.g. `['https:']`). */
const urlWithScheme = (schemes: readonly string[], message: string) =>
  z
    .string()
    .trim()
    .refine((s) => {
      try {
        return schemes.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    }, message);

const httpUrl = urlWithScheme(['http:', 'https:'], 'must be an http(s) URL');

const intInRange = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const flag = (fallback: 'true' | 'false') =>
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], 'must be true or false (or 1/0, yes/no)'))
    .default(fallback)
    .transform((s) => s === 'true' || s === '1' || s === 'yes');

/** Comma- or space-separated ids; empty means none. */
const idList = z
  .string()
  .optional()
  .transform((s) => new Set((s ?? '').split(/[\s,]+/).filter(Boolean)));

const storeUrl = z
  .string()
  .trim()
  .refine((s) => /^(sqlite:\/\/.+|redis(s)?:\/\/.+|memory:\/\/)$/.test(s), 'must be sqlite://path, redis://host[:port] or memory://');

const adapterList = z
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
  });

/** Sections of `--help` and `.env.example`, in order. */
export const GROUPS = {
  asyntai: 'Asyntai',
  bridge: 'Bridge',
  telegram: 'Telegram (BotFather)',
  slack: 'Slack',
  discord: 'Discord',
  emulator: 'Emulator (npm run emulator)',
} as const;

/** A documented variable. */
export interface VariableDoc {
  group: keyof typeof GROUPS;
  /** What `.env.example` assigns: the default where there is one, else empty. */
  example: string;
  /** One sentence or two, for `--help` and `.env.example`. */
  description: string;
}

/** A variable the bridge reads: its documentation and how its raw text is checked and converted. */
interface Variable extends VariableDoc {
  schema: z.ZodType<unknown, string | undefined>;
}

/**
 * Every variable the bridge reads, in `--help` order. The key is the environment variable's
 * name; `schema` gets the raw text (undefined when unset or empty) and applies the default.
 */
export const VARIABLES = {
  ASYNTAI_API_KEY: {
    group: 'asyntai',
    example: '',
    description:
      'Your API key (Asyntai dashboard, paid plan). Required by the Telegram, Slack and Discord adapters (unless DEMO=1); unset with the terminal chat = demo against a built-in emulator.',
    schema: optionalString,
  },
  ASYNTAI_API_URL: {
    group: 'asyntai',
    example: 'https://asyntai.com/api/v1/',
    description: 'API base URL (http or https); point it at `npm run emulator` (http://127.0.0.1:8787/api/v1/) to test offline.',
    schema: httpUrl.default('https://asyntai.com/api/v1/'),
  },
  ASYNTAI_AUTH_HEADER: {
    group: 'asyntai',
    example: 'bearer',
    description: 'How the key is sent: bearer (Authorization: Bearer) or x-api-key (X-API-Key header).',
    schema: z.enum(['bearer', 'x-api-key'], 'must be bearer or x-api-key').default('bearer'),
  },
  ASYNTAI_WEBSITE_ID: {
    group: 'asyntai',
    example: '',
    description: "Website used where no /website binding exists; unset = the account's primary website.",
    schema: intInRange(1, Number.MAX_SAFE_INTEGER).optional(),
  },
  ASYNTAI_CHAT_TIMEOUT_MS: {
    group: 'asyntai',
    example: '30000',
    description: 'Time limit of one /chat/ attempt, in milliseconds.',
    schema: intInRange(100, 600_000).default(30_000),
  },
  ASYNTAI_TIMEOUT_MS: {
    group: 'asyntai',
    example: '10000',
    description: 'Time limit of one attempt at any other endpoint, in milliseconds.',
    schema: intInRange(100, 600_000).default(10_000),
  },
  ASYNTAI_WEBHOOK_SECRET: {
    group: 'asyntai',
    example: '',
    description:
      'Secret of the Asyntai webhook that reaches POST /webhooks/asyntai (escalations and dashboard takeovers, for human handoff); `npm run webhooks -- register <public url>` prints it. Unset: every webhook is refused (401).',
    schema: optionalString,
  },
  STORE_URL: {
    group: 'bridge',
    example: 'sqlite://data/bridge.sqlite',
    description:
      'Where sessions, bindings and de-duplication live: sqlite://path, redis://host:6379 or memory://. Several instances must share one Redis (or one SQLite file on one machine).',
    schema: storeUrl.default('sqlite://data/bridge.sqlite'),
  },
  DATA_DIR: {
    group: 'bridge',
    example: '',
    description:
      "Folder for local files: the demo emulator's knowledge, the terminal's history and log. Default: the folder of a sqlite:// STORE_URL, `data` with redis://, none (nothing written) with memory://.",
    schema: optionalString,
  },
  DEMO: {
    group: 'bridge',
    example: '',
    description:
      '1 = run a platform bot without ASYNTAI_API_KEY against the built-in emulator; the first answer in each thread then says it is a demo.',
    schema: flag('false'),
  },
  HTTP_PORT: {
    group: 'bridge',
    example: '',
    description: 'HTTP server (health, Telegram webhook, Slack events). Default 3000 when a platform adapter is enabled; the terminal alone starts none.',
    schema: intInRange(0, 65_535).optional(),
  },
  LOG_LEVEL: {
    group: 'bridge',
    example: '',
    description: 'fatal, error, warn, info, debug, trace or silent (default info; warn for the terminal chat).',
    schema: z.enum(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(', ')}`).optional(),
  },
  USER_RATE_LIMIT: {
    group: 'bridge',
    example: '10',
    description: 'Questions per user per minute (0 = no limit).',
    schema: intInRange(0, 100_000).default(10),
  },
  MAX_MESSAGE_CHARS: {
    group: 'bridge',
    example: '4000',
    description: 'The longest question accepted, in characters.',
    schema: intInRange(1, 1_000_000).default(4_000),
  },
  ADAPTERS: {
    group: 'bridge',
    example: '',
    description: 'Adapters to run, comma-separated: telegram, slack, discord, shell. Default: every platform with credentials below, else the terminal (shell).',
    schema: adapterList,
  },
  STORE_TIMEOUT_MS: {
    group: 'bridge',
    example: '2000',
    description: 'A Redis call slower than this fails, and the user is told to try again shortly, instead of waiting. (SQLite runs on the calling thread and waits at most 0.5 s for another process\'s write lock.)',
    schema: intInRange(100, 60_000).default(2_000),
  },
  SHUTDOWN_GRACE_SECONDS: {
    group: 'bridge',
    example: '10',
    description: 'On SIGTERM/SIGINT: how long answers already in progress may take before the process exits anyway.',
    schema: intInRange(0, 3_600).default(10),
  },
  METRICS: {
    group: 'bridge',
    example: 'true',
    description: 'Serve Prometheus metrics at GET /metrics on the HTTP server.',
    schema: flag('true'),
  },
  USAGE_CHECK_MINUTES: {
    group: 'bridge',
    example: '60',
    description: "How often the plan's monthly usage is checked; at 80% and 95% one alert goes to the log and TEAM_CHANNEL (0 = never).",
    schema: intInRange(0, 7 * 24 * 60).default(60),
  },
  TEAM_CHANNEL: {
    group: 'bridge',
    example: '',
    description: 'Where alerts for the team go, as <platform>:<id> in that adapter\'s own terms, e.g. slack:C0123456, telegram:-1001234567890, discord:<channel id>.',
    schema: z
      .string()
      .trim()
      .regex(/^(telegram|slack|discord|shell):\S+$/, 'must be <platform>:<id>, e.g. slack:C0123456 or telegram:-1001234567890')
      .optional(),
  },
  HANDOFF_POLL_SECONDS: {
    group: 'bridge',
    example: '5',
    description: 'During a takeover in the Asyntai dashboard: how often the conversation is read to relay what the agent writes.',
    schema: intInRange(1, 3_600).default(5),
  },
  HANDOFF_IDLE_MINUTES: {
    group: 'bridge',
    example: '30',
    description: 'A handoff to a person ends after this long without a message from the team; the assistant answers again.',
    schema: intInRange(1, 7 * 24 * 60).default(30),
  },
  TELEGRAM_BOT_TOKEN: {
    group: 'telegram',
    example: '',
    description: "The bot's token from @BotFather.",
    schema: optionalString,
  },
  TELEGRAM_API_ROOT: {
    group: 'telegram',
    example: '',
    description: 'Another Bot API server (a local telegram-bot-api, or a test fake); default https://api.telegram.org.',
    schema: httpUrl.optional(),
  },
  TELEGRAM_ADMIN_IDS: {
    group: 'telegram',
    example: '',
    description: 'Telegram user ids (numbers) allowed to run admin commands, comma-separated.',
    schema: idList,
  },
  TELEGRAM_WEBHOOK_URL: {
    group: 'telegram',
    example: '',
    description: "Public https URL of this bridge's webhook, e.g. https://bot.example.com/telegram. Unset = long polling.",
    schema: urlWithScheme(['https:'], 'must be an https URL (Telegram sends webhooks over https only)').optional(),
  },
  TELEGRAM_WEBHOOK_SECRET: {
    group: 'telegram',
    example: '',
    description: 'Secret Telegram sends with each webhook call (1-256 of A-Z a-z 0-9 _ -); default derived from the token.',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, _ and -')
      .optional(),
  },
  SLACK_BOT_TOKEN: {
    group: 'slack',
    example: '',
    description: 'Bot User OAuth Token (xoxb-…): Slack app settings → OAuth & Permissions, after installing the app.',
    schema: optionalString,
  },
  SLACK_SIGNING_SECRET: {
    group: 'slack',
    example: '',
    description: 'Signing secret (Basic Information → App Credentials) that checks requests to /slack/events; not needed in Socket Mode.',
    schema: optionalString,
  },
  SLACK_APP_TOKEN: {
    group: 'slack',
    example: '',
    description: 'App-level token (xapp-…, scope connections:write): Socket Mode when set, nothing needs to be reachable from outside.',
    schema: optionalString,
  },
  SLACK_API_URL: {
    group: 'slack',
    example: '',
    description: 'Another Slack Web API base URL (http or https; tests and staging).',
    schema: httpUrl.optional(),
  },
  SLACK_ADMIN_IDS: {
    group: 'slack',
    example: '',
    description: 'Slack member ids (U…) allowed to run admin commands, comma-separated (profile → ⋮ → Copy member ID).',
    schema: idList,
  },
  SLACK_THREAD_FOLLOWUPS: {
    group: 'slack',
    example: 'true',
    description: 'Answer later messages of a thread the bot was mentioned in, without a new mention (remembered in memory: after a restart, mention it once more).',
    schema: flag('true'),
  },
  DISCORD_BOT_TOKEN: {
    group: 'discord',
    example: '',
    description: "The bot's token from the Discord developer portal.",
    schema: optionalString,
  },
  DISCORD_API_URL: {
    group: 'discord',
    example: '',
    description: 'Another Discord REST API base URL (http or https; tests and staging).',
    schema: httpUrl.optional(),
  },
  DISCORD_ADMIN_IDS: {
    group: 'discord',
    example: '',
    description: 'Discord user ids allowed to run admin commands, comma-separated.',
    schema: idList,
  },
  DISCORD_GUILD_ID: {
    group: 'discord',
    example: '',
    description: 'Register slash commands in this guild only (instant; for testing) instead of globally.',
    schema: z.string().trim().regex(/^\d{15,25}$/, 'must be a guild id (a number)').optional(),
  },
  DISCORD_REPLY_MODE: {
    group: 'discord',
    example: 'reply',
    description: 'reply = answer as a reply in the channel; thread = open a thread on the question.',
    schema: z.enum(['reply', 'thread'], 'must be reply or thread').default('reply'),
  },
} as const satisfies Record<string, Variable>;

/** Variables the emulator's command line (`npm run emulator`) falls back to; documented with the rest. */
const EMULATOR_VARIABLES: Readonly<Record<string, VariableDoc>> = {
  EMULATOR_PORT: { group: 'emulator', example: '8787', description: 'Port to listen on.' },
  EMULATOR_API_KEY: { group: 'emulator', example: 'dev-key', description: 'The API key it accepts.' },
  EMULATOR_PLAN: { group: 'emulator', example: 'starter', description: 'Plan limits: free, starter, standard or pro.' },
  EMULATOR_DATA: { group: 'emulator', example: '', description: "File to persist the emulator's state in; unset = memory only." },
  EMULATOR_HOST: { group: 'emulator', example: '127.0.0.1', description: 'Address to listen on.' },
  EMULATOR_ALLOW_PRIVATE_URLS: {
    group: 'emulator',
    example: '',
    description: '1 = let /knowledge/url/ and webhooks reach loopback and private addresses (local testing only).',
  },
};

type Env = { -readonly [K in keyof typeof VARIABLES]: z.output<(typeof VARIABLES)[K]['schema']> };

/** The port the HTTP server uses when a platform needs it and HTTP_PORT is unset. */
export const DEFAULT_HTTP_PORT = 3000;

/** Reads and validates the environment. Throws one `ConfigError` listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: ConfigProblem[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(VARIABLES) as Array<[string, Variable]>) {
    const value = env[name];
    // An empty assignment in .env (`FOO=`) means unset, as most dotenv users expect.
    const parsed = variable.schema.safeParse(value === undefined || value.trim() === '' ? undefined : value);
    if (parsed.success) values[name] = parsed.data;
    else problems.push({ variable: name, problem: parsed.error.issues[0]?.message ?? 'invalid' });
  }
  const e = values as Env;
  // Cross-checks only between values that parsed: a bad ADAPTERS is reported once, as itself.
  if (!problems.some((p) => p.variable === 'ADAPTERS')) problems.push(...missingCredentials(e));
  if (e.TEAM_CHANNEL && !problems.some((p) => p.variable === 'ADAPTERS')) problems.push(...teamChannelProblems(e.TEAM_CHANNEL, e.ADAPTERS ?? defaultAdapters(e)));
  const [first, ...more] = problems;
  if (first) throw new ConfigError(first.variable, first.problem, more);
  return toConfig(e);
}

/** Places the parsed variables in the shape the rest of the code reads. */
function toConfig(e: Env) {
  return {
    asyntai: {
      /** Absent: the terminal demo (or DEMO=1) runs the emulator in-process. */
      apiKey: e.ASYNTAI_API_KEY,
      apiUrl: e.ASYNTAI_API_URL.endsWith('/') ? e.ASYNTAI_API_URL : `${e.ASYNTAI_API_URL}/`,
      authHeader: e.ASYNTAI_AUTH_HEADER,
      websiteId: e.ASYNTAI_WEBSITE_ID,
      chatTimeoutMs: e.ASYNTAI_CHAT_TIMEOUT_MS,
      timeoutMs: e.ASYNTAI_TIMEOUT_MS,
      webhookSecret: e.ASYNTAI_WEBHOOK_SECRET,
    },
    storeUrl: e.STORE_URL,
    /** Local files (demo knowledge, terminal history and log); undefined = write none. */
    dataDir: e.DATA_DIR ?? dataDirOf(e.STORE_URL),
    /** DEMO=1: platform bots may run against the in-process emulator, saying so. */
    demo: e.DEMO,
    /** Undefined when HTTP_PORT is unset: the server then starts only for platform adapters (on 3000). */
    httpPort: e.HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    userRateLimit: e.USER_RATE_LIMIT,
    maxMessageChars: e.MAX_MESSAGE_CHARS,
    adapters: e.ADAPTERS ?? defaultAdapters(e),
    storeTimeoutMs: e.STORE_TIMEOUT_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000,
    metrics: e.METRICS,
    /** 0: the quota watch is off. */
    usageCheckMs: e.USAGE_CHECK_MINUTES * 60_000,
    /** TEAM_CHANNEL: `<platform>:<id>`, a thread key or channel address of that adapter. */
    teamChannel: e.TEAM_CHANNEL,
    /** Human handoff: dashboard takeovers polled every `pollMs`; ended after `idleMs` without the team. */
    handoff: { pollMs: e.HANDOFF_POLL_SECONDS * 1000, idleMs: e.HANDOFF_IDLE_MINUTES * 60_000 },
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
      /** SLACK_THREAD_FOLLOWUPS: answer later messages of a thread the bot answered, without a mention. */
      threadFollowups: e.SLACK_THREAD_FOLLOWUPS,
    },
    discord: {
      token: e.DISCORD_BOT_TOKEN,
      apiUrl: e.DISCORD_API_URL,
      adminIds: e.DISCORD_ADMIN_IDS,
      /** Register slash commands in this guild only (instant; for testing) instead of globally. */
      guildId: e.DISCORD_GUILD_ID,
      /** `reply`: answer as a reply in the channel; `thread`: open a thread on the question. */
      replyMode: e.DISCORD_REPLY_MODE,
    },
  };
}

/** The validated configuration. */
export type Config = ReturnType<typeof toConfig>;

/** The folder of a SQLite store; `data` beside a Redis one; none for memory://. */
function dataDirOf(url: string): string | undefined {
  if (url.startsWith('sqlite://')) return dirname(url.slice('sqlite://'.length));
  if (url.startsWith('redis')) return 'data';
  return undefined;
}

/** Every platform with credentials; the shell when none has any. */
function defaultAdapters(e: Env): PlatformName[] {
  const names: PlatformName[] = [];
  if (e.TELEGRAM_BOT_TOKEN) names.push('telegram');
  if (e.SLACK_BOT_TOKEN) names.push('slack');
  if (e.DISCORD_BOT_TOKEN) names.push('discord');
  return names.length > 0 ? names : ['shell'];
}

/**
 * What enabled adapters need and lack: their tokens, and an API key. Platform bots answer real
 * users, so the emulator's sample shop answers them only when DEMO asks for it.
 */
function missingCredentials(e: Env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const need = (variable: string, problem: string) => problems.push({ variable, problem });
  const adapters = e.ADAPTERS ?? defaultAdapters(e);
  for (const name of adapters) {
    if (name === 'telegram' && !e.TELEGRAM_BOT_TOKEN) need('TELEGRAM_BOT_TOKEN', 'required by the telegram adapter');
    if (name === 'slack' && !e.SLACK_BOT_TOKEN) need('SLACK_BOT_TOKEN', 'required by the slack adapter');
    if (name === 'slack' && !e.SLACK_APP_TOKEN && !e.SLACK_SIGNING_SECRET)
      need('SLACK_SIGNING_SECRET', 'required by the slack adapter unless SLACK_APP_TOKEN (Socket Mode) is set');
    if (name === 'discord' && !e.DISCORD_BOT_TOKEN) need('DISCORD_BOT_TOKEN', 'required by the discord adapter');
  }
  const platforms = adapters.filter((a) => a !== 'shell');
  if (platforms.length > 0 && !e.ASYNTAI_API_KEY && !e.DEMO) {
    const who = `the ${platforms.join(' and ')} adapter${platforms.length > 1 ? 's' : ''}`;
    need('ASYNTAI_API_KEY', `required by ${who}; set it, or DEMO=1 for a demo answered from a built-in sample shop`);
  }
  return problems;
}

/**
 * TEAM_CHANNEL must name a channel of an enabled adapter, in that platform's terms: alerts and
 * handoff relays are posted through it.
 */
function teamChannelProblems(channel: string, adapters: readonly PlatformName[]): ConfigProblem[] {
  const platform = channel.slice(0, channel.indexOf(':')) as PlatformName;
  const id = channel.slice(platform.length + 1);
  const shapes: Partial<Record<PlatformName, [RegExp, string]>> = {
    telegram: [/^-?\d+$/, 'a Telegram chat id is a number, e.g. telegram:-1001234567890 (a private group)'],
    slack: [/^[A-Z0-9]{2,}$/, 'a Slack channel id looks like C0123456 (channel details, at the bottom)'],
    discord: [/^\d{15,25}$/, 'a Discord channel id is a number (Developer Mode, right-click the channel, Copy Channel ID)'],
  };
  const shape = shapes[platform];
  if (shape && !shape[0].test(id)) return [{ variable: 'TEAM_CHANNEL', problem: `"${id}" is not a channel id: ${shape[1]}` }];
  if (!adapters.includes(platform)) {
    return [{ variable: 'TEAM_CHANNEL', problem: `names a ${platform} channel but the ${platform} adapter is not enabled (ADAPTERS, or its token)` }];
  }
  return [];
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

/** Every documented variable (the bridge's and the emulator's), in `.env.example` order. */
export function documentedVariables(): Array<[string, VariableDoc]> {
  return [...Object.entries(VARIABLES), ...Object.entries(EMULATOR_VARIABLES)];
}

/** `--help`: usage and every variable by group, wrapped to `width` columns. */
export function helpText(width = 100): string {
  const lines = [
    ...wrap('asyntai-bridge: an Asyntai AI support assistant in Telegram, Slack, Discord or the terminal.', width),
    '',
    'Usage: asyntai-bridge [--help]',
    '       npm start (npm start --silent through a pipe)',
    '',
    ...wrap('Configured by environment variables, also read from ./.env (real environment variables win). Empty values count as unset. With none set, it chats in the terminal against a built-in demo.', width),
  ];
  const indent = '    ';
  for (const [group, title] of Object.entries(GROUPS)) {
    lines.push('', `${title}:`);
    for (const [name, doc] of documentedVariables()) {
      if (doc.group !== group) continue;
      lines.push(`  ${name}${doc.example === '' ? '' : ` (default ${doc.example})`}`);
      lines.push(...wrap(doc.description, width - indent.length).map((l) => indent + l));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Greedy word wrap; a word longer than `width` gets a line of its own. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(line);
  return out;
}
