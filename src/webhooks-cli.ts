/**
 * `npm run webhooks -- <command>`: manages the Asyntai webhook that feeds human handoff, with the
 * configured ASYNTAI_API_KEY and ASYNTAI_API_URL (environment, or `.env`):
 * - `register <public url>`: subscribes `<public url>/webhooks/asyntai` to `escalation.requested`
 *   and `takeover.started` and prints the signing secret for ASYNTAI_WEBHOOK_SECRET (Asyntai shows
 *   it only once);
 * - `list`: the account's webhooks;
 * - `delete <id>`: removes one.
 * Exits 0 on success, 1 when the API refuses, 2 on bad arguments or configuration.
 */
import { existsSync } from 'node:fs';
import { AsyntaiClient } from './asyntai/client.js';
import { AsyntaiError } from './asyntai/errors.js';
import type { WebhookEvent } from './asyntai/types.js';
import { ConfigError, loadConfig } from './config.js';
import { ASYNTAI_WEBHOOK_PATH } from './http/asyntai-webhooks.js';

const USAGE = `usage: npm run webhooks -- register <public url>   subscribe <url>${ASYNTAI_WEBHOOK_PATH} and print its secret
       npm run webhooks -- list                   the account's webhooks
       npm run webhooks -- delete <id>            remove a webhook`;

/** The events human handoff acts on. */
const EVENTS: WebhookEvent[] = ['escalation.requested', 'takeover.started'];

class UsageProblem extends Error {}

/** The URL Asyntai should post to: the bridge's public address plus the receiver's path. */
function receiverUrl(publicUrl: string): string {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new UsageProblem(`"${publicUrl}" is not a URL; give the public https address of this bridge, e.g. https://bot.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageProblem('the public URL must be https (Asyntai posts over https)');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${ASYNTAI_WEBHOOK_PATH}`;
  url.search = '';
  url.hash = '';
  return url.href;
}

async function run(args: string[], out: (line: string) => void): Promise<void> {
  const [command, argument, ...rest] = args;
  if (command === undefined || command === '-h' || command === '--help') {
    out(USAGE);
    return;
  }
  const needsArgument = command === 'register' || command === 'delete';
  if (!['register', 'list', 'delete'].includes(command) || (needsArgument ? argument === undefined || rest.length > 0 : argument !== undefined)) {
    throw new UsageProblem(USAGE);
  }
  const config = loadConfig();
  if (!config.asyntai.apiKey) throw new ConfigError('ASYNTAI_API_KEY', 'required to manage webhooks (the Asyntai dashboard has it)');
  const client = new AsyntaiClient({ apiKey: config.asyntai.apiKey, baseUrl: config.asyntai.apiUrl, authHeader: config.asyntai.authHeader, timeoutMs: config.asyntai.timeoutMs });
  try {
    if (command === 'register') {
      const hook = await client.createWebhook({ url: receiverUrl(argument!), events: EVENTS });
      out(`Registered webhook ${hook.id}: ${hook.url}`);
      out(`Events: ${hook.events.join(', ')}`);
      out('Put its secret in the bridge configuration (.env), then restart the bridge:');
      out(`ASYNTAI_WEBHOOK_SECRET=${hook.secret}`);
    } else if (command === 'list') {
      const hooks = await client.listWebhooks();
      if (hooks.length === 0) out('No webhooks.');
      for (const hook of hooks) out(`${hook.id}  ${hook.url}  ${hook.events.join(',')}  ${hook.is_active ? 'active' : 'inactive'}  since ${hook.created_at}`);
    } else {
      out(await client.deleteWebhook(argument!));
    }
  } finally {
    await client.close();
  }
}

try {
  if (existsSync('.env')) process.loadEnvFile('.env');
  await run(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
} catch (err) {
  if (err instanceof UsageProblem || err instanceof ConfigError) {
    process.stderr.write(`${err.message.split('\n').map((l) => (err instanceof ConfigError ? `webhooks: ${l}` : l)).join('\n')}\n`);
    process.exit(2);
  }
  const detail = err instanceof AsyntaiError ? `Asyntai refused (${err.kind}${err.apiError ? `: ${err.apiError}` : ''})` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`webhooks: ${detail}\n`);
  process.exit(1);
}
