/**
 * Runs the bridge under discord.js's ShardingManager, for bots in more guilds than one gateway
 * connection may serve (Discord requires sharding from 2,500 guilds). Each shard is a full bridge
 * process (`src/main`) running only the Discord adapter; discord.js tells each one its shard ids
 * through the SHARDS and SHARD_COUNT environment variables, which the Client reads by itself.
 *
 * `node dist/adapters/discord/shard-manager.js` (after `npm run build`). Every shard serves its
 * own HTTP server for /healthz: shard n listens on HTTP_PORT + n (default 3000 + n). All shards
 * must share one store (STORE_URL=redis://… or one SQLite file on this machine).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ShardingManager } from 'discord.js';

const DEFAULT_HTTP_PORT = 3000;

if (existsSync('.env')) process.loadEnvFile('.env');
const token = process.env.DISCORD_BOT_TOKEN;
if (!token) {
  process.stderr.write('asyntai-bridge: DISCORD_BOT_TOKEN: required by the shard manager\n');
  process.exit(1);
}

// Compiled, this file sits in dist/adapters/discord and main in dist/src; from source, tsx runs both.
const compiled = import.meta.url.endsWith('.js');
const main = fileURLToPath(new URL(`../../src/main.${compiled ? 'js' : 'ts'}`, import.meta.url));
const basePort = Number(process.env.HTTP_PORT ?? DEFAULT_HTTP_PORT);

const manager = new ShardingManager(main, {
  token,
  totalShards: 'auto',
  respawn: true,
  execArgv: compiled ? [] : ['--import', 'tsx'],
});

manager.on('shardCreate', (shard) => {
  // Set before the shard's process starts: its own health port, and no other platform adapter
  // (a Telegram poller or Slack socket must run once, not once per shard).
  const env = shard.env as Record<string, string>;
  env.HTTP_PORT = String(basePort + shard.id);
  env.ADAPTERS = 'discord';
  process.stderr.write(`asyntai-bridge: starting Discord shard ${shard.id}\n`);
});

await manager.spawn();
