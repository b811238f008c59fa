/**
 * Command line entry of the emulator (`npm run emulator`):
 *   --port 8787 --api-key dev-key --plan starter [--data path] [--host 127.0.0.1] [--allow-private-urls] [--no-seed]
 * Each flag falls back to EMULATOR_PORT, EMULATOR_API_KEY, EMULATOR_PLAN, EMULATOR_DATA,
 * EMULATOR_HOST, EMULATOR_ALLOW_PRIVATE_URLS=1. A bad flag prints one line and exits with 2.
 */
import { parseArgs } from 'node:util';
import { isPlanName, PLANS } from './plans.js';
import { startEmulator, type EmulatorOptions } from './server.js';

const USAGE =
  'usage: emulator [--port 8787] [--host 127.0.0.1] [--api-key dev-key] [--plan free|starter|standard|pro] [--data state.json] [--allow-private-urls] [--no-seed]';

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
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail(`${(err as Error).message.split('\n')[0] ?? 'bad arguments'} (${USAGE})`);
  }
  if (values.help === true) {
    console.log(USAGE);
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
  return {
    port,
    host: values.host ?? env['EMULATOR_HOST'] ?? '127.0.0.1',
    apiKeys: [apiKey],
    plan,
    dataPath: dataPath === '' ? undefined : dataPath,
    seed: values['no-seed'] !== true,
    allowPrivateUrls: values['allow-private-urls'] === true || env['EMULATOR_ALLOW_PRIVATE_URLS'] === '1',
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
