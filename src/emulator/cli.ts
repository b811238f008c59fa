/**
 * Command line entry of the emulator (`npm run emulator`); `--help` lists every flag with the
 * environment variable it falls back to. A bad flag prints one line and exits with 2. Each
 * request is logged as one line on stderr (method, path, status, ms).
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../log.js';
import { isPlanName, PLANS } from './plans.js';
import { startEmulator, type EmulatorOptions } from './server.js';

const USAGE =
  'usage: emulator [--port 8787] [--host 127.0.0.1] [--api-key dev-key] [--plan free|starter|standard|pro] [--data state.json] [--allow-private-urls] [--no-seed] [--log-level info]';

/** --help: one line per flag, with its environment variable and default. */
const HELP = `${USAGE}

Asyntai-compatible emulator. Each flag falls back to its environment variable:
  --port <n>              EMULATOR_PORT                  port to listen on (default 8787; 0 = any free port)
  --host <address>        EMULATOR_HOST                  address to bind (default 127.0.0.1)
  --api-key <key>         EMULATOR_API_KEY               the accepted API key (default dev-key)
  --plan <name>           EMULATOR_PLAN                  ${Object.keys(PLANS).join(' | ')} (default starter)
  --data <path>           EMULATOR_DATA                  keep state in this JSON file (default: memory only)
  --allow-private-urls    EMULATOR_ALLOW_PRIVATE_URLS=1  let URL ingestion and webhooks reach loopback/private addresses and plain http
  --no-seed               (no variable)                  start without the sample shop's knowledge
  --log-level <level>     LOG_LEVEL                      request log level: info logs each request, warn silences it (default info)
  -h, --help                                             show this help`;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function fail(message: string): never {
  console.error(`emulator: ${message}`);
  process.exit(2);
}

function readOptions(argv: string[], env: NodeJS.ProcessEnv): EmulatorOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'api-key': { type: 'string' },
        plan: { type: 'string' },
        data: { type: 'string' },
        'allow-private-urls': { type: 'boolean' },
        'no-seed': { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail(`${(err as Error).message.split('\n')[0] ?? 'bad arguments'} (${USAGE})`);
  }
  if (values.help === true) {
    console.log(HELP);
    process.exit(0);
  }
  const portText = values.port ?? env['EMULATOR_PORT'] ?? '8787';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) fail(`--port must be an integer from 0 to 65535, got "${portText}"`);
  const plan = values.plan ?? env['EMULATOR_PLAN'] ?? 'starter';
  if (!isPlanName(plan)) fail(`--plan must be one of ${Object.keys(PLANS).join(', ')}, got "${plan}"`);
  const apiKey = values['api-key'] ?? env['EMULATOR_API_KEY'] ?? 'dev-key';
  if (apiKey.trim() === '') fail('--api-key must not be empty');
  const dataPath = values.data ?? env['EMULATOR_DATA'];
  const level = values['log-level'] ?? env['LOG_LEVEL'] ?? 'info';
  if (!LOG_LEVELS.includes(level)) fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return {
    port,
    host: values.host ?? env['EMULATOR_HOST'] ?? '127.0.0.1',
    apiKeys: [apiKey],
    plan,
    dataPath: dataPath === '' ? undefined : dataPath,
    seed: values['no-seed'] !== true,
    allowPrivateUrls: values['allow-private-urls'] === true || env['EMULATOR_ALLOW_PRIVATE_URLS'] === '1',
    logger: createLogger({ level, secrets: [apiKey] }),
  };
}

const options = readOptions(process.argv.slice(2), process.env);
try {
  const emulator = await startEmulator(options);
  console.log(`Asyntai emulator listening on ${emulator.url} (plan ${options.plan ?? 'starter'})`);
  console.log(`API key: ${emulator.apiKey}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`emulator: error while stopping: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  console.error(`emulator: ${(err as Error).message}`);
  process.exit(1);
}
