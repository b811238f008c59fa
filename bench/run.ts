/**
 * `npm run bench` (BENCH_QUICK=1 for a shorter run): what the bridge costs on top of a raw undici
 * call to an Asyntai API that answers at once, each figure printed beside its goal.
 *
 * - The API is bench/instant-api.ts in its own process: its work is never counted.
 * - Core figures (bench/core-run.ts) on memory, SQLite and Redis (REDIS_URL, else
 *   127.0.0.1:6379; skipped with a notice when none answers), each store in several fresh
 *   processes; min and median of the runs are reported, goals are judged on the best run (other
 *   work on the machine only ever adds cost, so the best run is the closest to the bridge's own).
 * - Real-process figures (bench/real-process.ts) of `node dist/bundle/main.js`, built first.
 * - bench/render-split.ts, when present, is run and its output kept.
 *
 * Results go to bench/results/<ISO timestamp>.json and bench/results/latest.json.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/core/state-store.js';
import type { CoreRunResult } from './core-run.js';
import { fixed, median, printTable, ROOT, startInstantApi } from './harness.js';
import { measureRealProcess, type RealProcessResult } from './real-process.js';

const QUICK = process.env.BENCH_QUICK === '1';
/** Fresh processes per store. */
const RUNS = QUICK ? 2 : 3;
const MB = 1e6;

interface Goal {
  figure: string;
  goal: string;
  /** The measured value as printed (min / median where there are runs). */
  measured: string;
  met: boolean | undefined;
}

/** Runs `node args…` to completion; resolves with its stdout, rejects on a non-zero exit. */
function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`node ${args.join(' ')} exited ${code}\n${err.slice(-2_000)}`))));
  });
}

async function redisUrl(): Promise<string | undefined> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  try {
    const store = await openStore(url, { namespace: 'bench-probe' });
    await store.close();
    return url;
  } catch {
    return undefined;
  }
}

const minOf = (values: number[]) => Math.min(...values);
const both = (values: number[], digits: number, unit = '') => `${fixed(minOf(values), digits)} / ${fixed(median(values), digits)}${unit}`;

async function main(): Promise<void> {
  const started = new Date();
  console.log(`asyntai-bridge benchmarks${QUICK ? ' (BENCH_QUICK)' : ''}: Node ${process.version}, ${cpus().length} CPU(s), ${RUNS} process runs per store`);
  console.log('Baseline: a raw undici POST /chat/ to an instant API in another process. Figures are "min / median" of runs.');
  const api = await startInstantApi();
  const tmp = await mkdtemp(join(tmpdir(), 'asyntai-bench-'));
  const notices: string[] = [];
  const goals: Goal[] = [];
  const results: Record<string, unknown> = {};
  try {
    // Core, per store.
    const stores: Array<{ label: string; url: string; cpuGoal: number; p50Goal: number }> = [
      { label: 'memory', url: 'memory://', cpuGoal: 2, p50Goal: 0.05 },
      { label: 'sqlite', url: `sqlite://${tmp}/bench-{run}.sqlite`, cpuGoal: 3, p50Goal: 0.2 },
    ];
    const redis = await redisUrl();
    if (redis) stores.push({ label: 'redis', url: redis, cpuGoal: 2, p50Goal: 0.2 });
    else notices.push('Redis did not answer (REDIS_URL or 127.0.0.1:6379): its figures are missing.');

    const core: Record<string, CoreRunResult[]> = {};
    for (const store of stores) {
      core[store.label] = [];
      for (let r = 0; r < RUNS; r++) {
        process.stdout.write(`core ${store.label} run ${r + 1}/${RUNS}… `);
        const out = await run(['--import', 'tsx', join(ROOT, 'bench/core-run.ts'), api.url, store.url.replace('{run}', String(r))], {
          ...process.env,
          BENCH_RUN_INDEX: String(r),
        });
        const result = JSON.parse(out.trim().split('\n').pop()!) as CoreRunResult;
        core[store.label]!.push(result);
        console.log(`+${fixed(result.added.p50, 3)} ms p50, ${fixed(result.bridgedCpuMicros, 0)} µs CPU, ${fixed(result.bridgedPerSecond, 0)}/s`);
      }
    }
    results.core = core;

    const coreRows: string[][] = [['store', 'added p50 ms', 'added p99 ms', 'raw CPU µs', 'bridge CPU µs', 'CPU ratio', 'raw msg/s', 'bridge msg/s', 'ratio']];
    for (const store of stores) {
      const runs = core[store.label]!;
      const p50 = runs.map((r) => r.added.p50);
      const p99 = runs.map((r) => r.added.p99);
      const cpuRatio = runs.map((r) => r.bridgedCpuMicros / r.rawCpuMicros);
      const rateRatio = runs.map((r) => r.bridgedPerSecond / r.rawPerSecond);
      coreRows.push([
        store.label,
        both(p50, 3),
        both(p99, 3),
        both(runs.map((r) => r.rawCpuMicros), 0),
        both(runs.map((r) => r.bridgedCpuMicros), 0),
        both(cpuRatio, 2, '×'),
        both(runs.map((r) => r.rawPerSecond), 0),
        both(runs.map((r) => r.bridgedPerSecond), 0),
        both(rateRatio, 2, '×'),
      ]);
      goals.push(
        { figure: `CPU per message, ${store.label}`, goal: `≤ ${store.cpuGoal}× raw`, measured: both(cpuRatio, 2, '×'), met: minOf(cpuRatio) <= store.cpuGoal },
        { figure: `added latency p50, ${store.label}`, goal: `≤ ${store.p50Goal} ms`, measured: both(p50, 3, ' ms'), met: minOf(p50) <= store.p50Goal },
        { figure: `added latency p99, ${store.label}`, goal: '≤ 1 ms', measured: both(p99, 3, ' ms'), met: minOf(p99) <= 1 },
        {
          figure: `throughput 1,000 threads × 10, ${store.label}`,
          goal: '≥ 0.5× raw',
          measured: `${fixed(Math.max(...rateRatio), 2)} / ${fixed(median(rateRatio), 2)}×`,
          met: Math.max(...rateRatio) >= 0.5,
        },
      );
    }
    printTable('Core (bridge.handle with a no-op Reply) vs raw undici; min / median of runs', coreRows);

    // The real process.
    console.log('\nbuilding (npm run build)…');
    let real: RealProcessResult | undefined;
    try {
      await run([join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']).catch((error: unknown) => {
        // tsc still emits JavaScript when types fail: measure it, but say so.
        if (!existsSync(join(ROOT, 'dist/src/main.js'))) throw error;
        notices.push(`npm run build reported errors; the emitted dist/ was measured: ${String(error).split('\n')[1] ?? ''}`);
      });
      await run(['--import', 'tsx', join(ROOT, 'scripts/bundle.ts')]);
      console.log('real process: node dist/bundle/main.js (what npm start runs) against the platform fakes');
      real = await measureRealProcess({ quick: QUICK, apiUrl: api.url, setApiDelay: (ms) => api.setDelay(ms), log: (line) => console.log(line) });
      results.realProcess = real;
      notices.push(...real.failures.map((f) => `Real process ${f}`));
    } catch (error) {
      notices.push(`Real-process figures missing: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      results.realProcessError = String(error);
    }
    if (real) {
      const cold = real.coldStartMs.map((ms) => ms / 1000);
      // Judged once the process is quiet; right after the flood, V8's uncollected garbage counts too.
      const growth1 = (real.rssSettledFirstBytes - real.rssIdleBytes) / MB;
      const growth2 = (real.rssSettledSecondBytes - real.rssSettledFirstBytes) / MB;
      const peak1 = (real.rssAfterFirstBytes - real.rssIdleBytes) / MB;
      const peak2 = (real.rssAfterSecondBytes - real.rssIdleBytes) / MB;
      const steps = `${(real.messagesPerStep / 1000).toFixed(0)}k`;
      goals.push(
        { figure: `cold start to healthy (${real.adapters.join(', ')})`, goal: '≤ 0.5 s', measured: both(cold, 2, ' s'), met: minOf(cold) <= 0.5 },
        {
          figure: 'cold start: CPU used until healthy',
          goal: '(≤ 0.5 s)',
          measured: both(real.coldStartCpuSeconds, 2, ' s'),
          met: minOf(real.coldStartCpuSeconds) <= 0.5,
        },
        { figure: `RSS idle (${real.adapters.join(', ')})`, goal: '≤ 110 MB', measured: `${fixed(real.rssIdleBytes / MB, 1)} MB`, met: real.rssIdleBytes / MB <= 110 },
        { figure: `RSS growth after ${steps} messages, settled`, goal: '≤ 40 MB', measured: `${fixed(growth1, 1)} MB`, met: growth1 <= 40 },
        { figure: `RSS growth over a second ${steps}, settled`, goal: '≤ 5 MB (none)', measured: `${fixed(growth2, 1)} MB`, met: growth2 <= 5 },
        {
          figure: `RSS over idle right after each ${steps} (garbage not yet collected)`,
          goal: '(reported)',
          measured: `+${fixed(peak1, 1)} / +${fixed(peak2, 1)} MB`,
          met: undefined,
        },
      );
      for (const [platform, e2e] of Object.entries(real.endToEnd)) {
        goals.push({ figure: `end to end added p50, ${platform}`, goal: '≤ 1.5 ms', measured: `${fixed(e2e.added.p50, 2)} ms`, met: e2e.added.p50 <= 1.5 });
      }
      for (const [platform, ack] of Object.entries(real.ack)) {
        goals.push({ figure: `ack p99 while the API takes 4 s, ${platform}`, goal: '≤ 50 ms', measured: `${fixed(ack.p99, 1)} ms`, met: ack.p99 <= 50 });
      }
      printTable(`End to end through each platform's fake, paired with raw calls (ms; Telegram rate ${fixed(real.telegramRate, 0)} msg/s)`, [
        ['platform', 'raw p50', 'platform p50', 'added p50', 'added p99'],
        ...Object.entries(real.endToEnd).map(([p, e]) => [p, fixed(e.raw.p50, 2), fixed(e.platform.p50, 2), fixed(e.added.p50, 2), fixed(e.added.p99, 2)]),
      ]);
      for (const missing of ['slack', 'discord'].filter((p) => !real.adapters.includes(p))) notices.push(`No ${missing} fake in this checkout: its figures are missing.`);
    }

    // Render and split, from the format module's own benchmark.
    const renderSplit = join(ROOT, 'bench/render-split.ts');
    if (existsSync(renderSplit)) {
      try {
        const out = await run(['--import', 'tsx', renderSplit]);
        console.log(`\nRender + split (bench/render-split.ts):\n${out.trimEnd()}`);
        results.renderSplit = out;
      } catch (error) {
        notices.push(`bench/render-split.ts failed: ${String(error).split('\n')[0]}`);
      }
    } else notices.push('bench/render-split.ts is not in this checkout: render + split figures are missing.');

    printTable('Goals (judged on the best run: the lowest cost, the highest throughput)', [
      ['figure', 'goal', 'measured (best / median)', 'met'],
      ...goals.map((g) => [g.figure, g.goal, g.measured, g.met === undefined ? '–' : g.met ? 'yes' : 'NO']),
    ]);
    for (const notice of notices) console.log(`NOTICE ${notice}`);
    const file = await writeResults(started, { goals, notices, ...results });
    console.log(`\nResults: ${file}`);
  } finally {
    await api.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

async function writeResults(started: Date, results: object): Promise<string> {
  const folder = join(ROOT, 'bench/results');
  await mkdir(folder, { recursive: true });
  const environment = { node: process.version, platform: process.platform, arch: process.arch, cpus: cpus().length, quick: QUICK, runsPerStore: RUNS };
  const text = `${JSON.stringify({ startedAt: started.toISOString(), environment, ...results }, null, 2)}\n`;
  // Colons are not allowed in Windows file names.
  const file = join(folder, `${started.toISOString().replace(/:/g, '-')}.json`);
  await writeFile(file, text);
  await writeFile(join(folder, 'latest.json'), text);
  return file;
}

await main();
