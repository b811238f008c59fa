/**
 * `npm run doctor`: checks the configuration against the live services, one line per check (✓
 * fine, ✗ broken with what to do, – not configured), and exits 1 when a check fails. Plain HTTP
 * calls to each platform's API (the configured URL overrides included), not the SDKs, so it runs
 * in a second and changes nothing: no webhook set, no socket opened. Secrets are never printed.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { ConfigError, loadConfig, secretsOf, type Config } from './config.js';
import { openStore } from './core/state-store.js';
import { scrubSecrets } from './log.js';

/** The outcome of one check: `ok` undefined means not configured (not a failure). */
export interface CheckResult {
  name: string;
  ok: boolean | undefined;
  text: string;
}

/** A check's HTTP answer. */
interface Answer {
  status: number;
  body: unknown;
}

const TIMEOUT_MS = 10_000;
/** Discord application flags: the Message Content intent, enabled or (under 100 servers) limited. */
const GATEWAY_MESSAGE_CONTENT = 1 << 18;
const GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19;

/**
 * Runs every check for `config`; `write` gets each line as it is decided. Resolves with the
 * results; the run passed when none has `ok === false`.
 */
export async function runDoctor(config: Config, write: (line: string) => void): Promise<CheckResult[]> {
  const secrets = secretsOf(config);
  const results: CheckResult[] = [];
  const report = (name: string, ok: boolean | undefined, text: string) => {
    const result = { name, ok, text: scrubSecrets(text, secrets) };
    results.push(result);
    write(`${ok === undefined ? '–' : ok ? '✓' : '✗'} ${name}: ${result.text}`);
  };
  /** Runs a check; a service out of reach is a ✗ naming the variable that points at it. */
  const guard = async (name: string, urlVariable: string, check: () => Promise<void>) => {
    try {
      await check();
    } catch (err) {
      report(name, false, `could not check: ${reasonOf(err)} → check the network, or ${urlVariable}`);
    }
  };

  await guard('Asyntai API key', 'ASYNTAI_API_URL', () => checkAsyntai(config, report));
  await guard('Store', 'STORE_URL', () => checkStore(config, report));
  if (config.telegram.token) await guard('Telegram', 'TELEGRAM_API_ROOT', () => checkTelegram(config, report));
  else report('Telegram', undefined, 'TELEGRAM_BOT_TOKEN unset');
  if (config.slack.botToken) await guard('Slack', 'SLACK_API_URL', () => checkSlack(config, report));
  else report('Slack', undefined, 'SLACK_BOT_TOKEN unset');
  if (config.discord.token) await guard('Discord', 'DISCORD_API_URL', () => checkDiscord(config, report));
  else report('Discord', undefined, 'DISCORD_BOT_TOKEN unset');
  checkTeamChannel(config, report);
  return results;
}

type Report = (name: string, ok: boolean | undefined, text: string) => void;

async function checkAsyntai(config: Config, report: Report): Promise<void> {
  const { apiKey, apiUrl, authHeader, websiteId, webhookSecret } = config.asyntai;
  if (!apiKey) {
    report('Asyntai API key', undefined, 'ASYNTAI_API_KEY unset: demo mode (the built-in emulator answers)');
    return;
  }
  const headers: Record<string, string> = authHeader === 'x-api-key' ? { 'x-api-key': apiKey } : { authorization: `Bearer ${apiKey}` };
  const get = (path: string) => call(new URL(path, apiUrl).href, { headers });
  const account = await get('account/');
  if (account.status === 401 || account.status === 403) {
    report('Asyntai API key', false, `refused (${account.status}) by ${apiUrl} → create a key in the Asyntai dashboard (API section) and set ASYNTAI_API_KEY`);
    return;
  }
  if (account.status !== 200) {
    report('Asyntai API key', false, `GET account/ answered ${account.status} → check ASYNTAI_API_URL (${apiUrl})`);
    return;
  }
  const { plan, messages_used: used, messages_limit: limit } = (field(account.body, 'account') ?? {}) as { plan?: string; messages_used?: number; messages_limit?: number };
  const usage = typeof used === 'number' && typeof limit === 'number' && limit > 0 ? `, ${used}/${limit} messages this month (${Math.floor((used / limit) * 100)}%)` : '';
  report('Asyntai API key', true, `valid, plan ${plan ?? 'unknown'}${usage}`);

  const websites = await get('websites/');
  const list = (field(websites.body, 'websites') ?? []) as Array<{ id?: unknown; name?: unknown }>;
  if (websiteId === undefined) report('Asyntai website', true, `ASYNTAI_WEBSITE_ID unset: the account's primary website answers (${list.length} website${list.length === 1 ? '' : 's'})`);
  else {
    const found = list.find((w) => String(w.id) === String(websiteId));
    if (found) report('Asyntai website', true, `ASYNTAI_WEBSITE_ID ${websiteId} exists (${String(found.name)})`);
    else report('Asyntai website', false, `ASYNTAI_WEBSITE_ID ${websiteId} is not one of this account's websites (${list.map((w) => String(w.id)).join(', ') || 'none'}) → fix or unset it`);
  }

  if (!webhookSecret) {
    report('Asyntai webhooks', undefined, 'ASYNTAI_WEBHOOK_SECRET unset: no webhook relay');
    return;
  }
  const hooks = (field((await get('webhooks/')).body, 'webhooks') ?? []) as Array<{ url?: unknown; events?: unknown }>;
  if (hooks.length === 0) report('Asyntai webhooks', false, 'ASYNTAI_WEBHOOK_SECRET is set but no webhook is registered → register this bridge\'s URL (POST /webhooks/) and keep the secret it returns');
  else report('Asyntai webhooks', true, `secret set; ${hooks.length} registered: ${hooks.map((h) => String(h.url)).join(', ')}`);
}

async function checkStore(config: Config, report: Report): Promise<void> {
  try {
    const store = await openStore(config.storeUrl, { timeoutMs: config.storeTimeoutMs });
    await store.close();
    report('Store', true, `${config.storeUrl.replace(/\/\/[^@/]*@/, '//***@')} reachable`);
  } catch (err) {
    report('Store', false, `${reasonOf(err)} → check STORE_URL`);
  }
}

async function checkTelegram(config: Config, report: Report): Promise<void> {
  const root = (config.telegram.apiRoot ?? 'https://api.telegram.org').replace(/\/+$/, '');
  const method = (name: string) => call(`${root}/bot${config.telegram.token}/${name}`, { method: 'POST' });
  const me = await method('getMe');
  if (me.status === 401 || me.status === 404) {
    report('Telegram token', false, `refused (${me.status}) → get the token from @BotFather (/token) and set TELEGRAM_BOT_TOKEN`);
    return;
  }
  const bot = field(me.body, 'result') as { username?: string; can_read_all_group_messages?: boolean } | undefined;
  if (me.status !== 200 || !bot) {
    report('Telegram token', false, `getMe answered ${me.status}`);
    return;
  }
  report('Telegram token', true, `valid: @${bot.username}`);
  report(
    'Telegram privacy mode',
    true,
    bot.can_read_all_group_messages
      ? 'off: the bot reads every group message'
      : 'on: in groups the bot sees only commands, mentions and replies to it (@BotFather /setprivacy to change; re-add the bot to groups after)',
  );
  const info = field((await method('getWebhookInfo')).body, 'result') as
    | { url?: string; pending_update_count?: number; last_error_date?: number; last_error_message?: string }
    | undefined;
  const pending = info?.pending_update_count ?? 0;
  const wanted = config.telegram.webhookUrl;
  if (!wanted) {
    report('Telegram updates', true, `long polling${info?.url ? ' (the webhook set now is deleted at start)' : ''}; ${pending} update${pending === 1 ? '' : 's'} waiting`);
    return;
  }
  if (info?.url !== wanted) {
    report('Telegram webhook', false, `Telegram has ${info?.url ? `another URL (${info.url})` : 'no webhook'}; the bridge sets ${wanted} at start → start it, and check the URL reaches this bridge`);
    return;
  }
  if (info.last_error_message) {
    const when = info.last_error_date ? new Date(info.last_error_date * 1000).toISOString() : 'recently';
    report('Telegram webhook', false, `last delivery failed (${when}): ${info.last_error_message}; ${pending} waiting → check the proxy forwards ${new URL(wanted).pathname} to the bridge`);
    return;
  }
  report('Telegram webhook', true, `set to ${wanted}; ${pending} update${pending === 1 ? '' : 's'} waiting, no delivery error`);
}

async function checkSlack(config: Config, report: Report): Promise<void> {
  const base = config.slack.apiUrl ?? 'https://slack.com/api/';
  const slack = (name: string, token: string) =>
    call(new URL(name, base.endsWith('/') ? base : `${base}/`).href, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  const auth = (await slack('auth.test', config.slack.botToken!)).body as { ok?: boolean; error?: string; team?: string; user?: string };
  if (!auth.ok) report('Slack bot token', false, `auth.test: ${auth.error ?? 'failed'} → reinstall the app and copy the Bot User OAuth Token (xoxb-…) into SLACK_BOT_TOKEN`);
  else report('Slack bot token', true, `valid: @${auth.user} in ${auth.team}`);
  const appToken = config.slack.appToken;
  if (!appToken) {
    report('Slack Socket Mode', undefined, `SLACK_APP_TOKEN unset: events over HTTP${config.slack.signingSecret ? ' (signing secret set)' : ''}`);
    return;
  }
  const open = (await slack('apps.connections.open', appToken)).body as { ok?: boolean; error?: string };
  if (open.ok) report('Slack Socket Mode', true, 'app-level token valid');
  else report('Slack Socket Mode', false, `apps.connections.open: ${open.error ?? 'failed'} → create an app-level token with connections:write (xapp-…) and turn Socket Mode on`);
}

async function checkDiscord(config: Config, report: Report): Promise<void> {
  const api = `${(config.discord.apiUrl ?? 'https://discord.com/api').replace(/\/+$/, '')}/v10`;
  const get = (path: string) => call(`${api}${path}`, { headers: { authorization: `Bot ${config.discord.token}` } });
  const me = await get('/users/@me');
  if (me.status === 401) {
    report('Discord token', false, 'refused (401) → Developer Portal → Bot → Reset Token, and set DISCORD_BOT_TOKEN');
    return;
  }
  report('Discord token', me.status === 200, me.status === 200 ? `valid: ${String(field(me.body, 'username'))}` : `GET /users/@me answered ${me.status}`);
  if (me.status !== 200) return;
  const app = await get('/applications/@me');
  const flags = Number(field(app.body, 'flags') ?? 0);
  if (app.status !== 200) report('Discord intents', false, `GET /applications/@me answered ${app.status}`);
  else if (flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED)) report('Discord intents', true, 'Message Content intent enabled');
  else report('Discord intents', false, 'Message Content intent off: the gateway refuses the bot (4014) → Developer Portal → Bot → Privileged Gateway Intents → Message Content');
  const guilds = await get('/users/@me/guilds');
  const count = Array.isArray(guilds.body) ? guilds.body.length : undefined;
  if (count === undefined) report('Discord servers', false, `GET /users/@me/guilds answered ${guilds.status}`);
  else if (count === 0) report('Discord servers', false, 'the bot is in no server → invite it (Developer Portal → OAuth2 → URL Generator: bot, applications.commands)');
  else report('Discord servers', true, `in ${count} server${count === 1 ? '' : 's'}${count >= 2_500 ? ' (over 2,500: sharding is required)' : ''}`);
}

/** Its shape and platform were checked with the configuration; here it is only said. */
function checkTeamChannel(config: Config, report: Report): void {
  const channel = config.teamChannel;
  if (channel) report('TEAM_CHANNEL', true, `${channel} (alerts are posted there)`);
  else report('TEAM_CHANNEL', undefined, 'unset: quota alerts go to the log only');
}

/** One HTTP call; the body parsed as JSON when it is. Never throws for a status. */
async function call(url: string, options: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  const res = await request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, body: options.body, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.statusCode, body };
}

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

function reasonOf(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') return err.errors.map(reasonOf).join('; ');
  const code = (err as { code?: unknown }).code;
  const text = err instanceof Error ? err.message || err.name : String(err);
  return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
}

/**
 * The whole doctor on `env`: a configuration that does not load is one ✗ line per bad variable.
 * Resolves with the exit code: 1 when anything failed.
 */
export async function doctor(env: NodeJS.ProcessEnv, write: (line: string) => void): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) write(`✗ ${p.variable}: ${p.problem}`);
    return 1;
  }
  const results = await runDoctor(config, write);
  return results.some((r) => r.ok === false) ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (existsSync('.env')) process.loadEnvFile('.env');
  process.exit(await doctor(process.env, (line) => process.stdout.write(`${line}\n`)));
}
