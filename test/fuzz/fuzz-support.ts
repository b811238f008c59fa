/**
 * Shared by the fuzz suites: how many runs (FUZZ_RUNS, default small enough for `npm test`), the
 * seed (FUZZ_SEED, fixed so a failure replays), a time budget per test scaled by the runs, and a
 * raw HTTP exchange for requests no well-behaved client would send.
 */
import { connect } from 'node:net';
import fc from 'fast-check';

/** Runs per property: FUZZ_RUNS, else `fallback`. `npm run fuzz` sets FUZZ_RUNS=20000. */
export function fuzzRuns(fallback: number): number {
  const runs = Number(process.env['FUZZ_RUNS']);
  return Number.isSafeInteger(runs) && runs > 0 ? runs : fallback;
}

/** fast-check parameters: fixed seed (FUZZ_SEED overrides) so a failure replays. */
export function fuzzParameters(runs: number): { numRuns: number; seed: number; endOnFailure: true } {
  const seed = Number(process.env['FUZZ_SEED']);
  return { numRuns: runs, seed: Number.isSafeInteger(seed) ? seed : 20_261_202, endOnFailure: true };
}

/** A vitest timeout for a property of `runs` runs costing up to `msPerRun` each. */
export function fuzzTimeout(runs: number, msPerRun: number): number {
  return 20_000 + runs * msPerRun;
}

/** What came back on a raw connection: the status (0 when none) and the whole text. */
export interface RawAnswer {
  status: number;
  text: string;
}

/**
 * Writes `bytes` on a fresh connection, half-closes it, and collects the answer until the server
 * closes. Rejects when nothing settles within `timeoutMs` (a hang is a failure, not a wait).
 */
export async function rawExchange(port: number, bytes: Buffer | string, timeoutMs = 5_000): Promise<RawAnswer> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  return new Promise<RawAnswer>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = (): void => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', settle);
    // A reset after the server answered and closed (it stopped reading our body) still settles.
    socket.on('error', () => undefined);
    socket.end(bytes);
  });
}

/** A JSON value of the wrong kind for whatever field it lands in: null, a number, a string, an array, an object. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 12 }),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxKeys: 3 }),
);

/** Mostly `right`, sometimes a value of the wrong type (a field that is missing is the record's job). */
export function rightOrWrong<T>(right: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 4, arbitrary: right }, { weight: 1, arbitrary: wrongType });
}

/** Text a user could type, now and then far over the platform's limits (up to `maxHuge` characters). */
export function userText(words: readonly string[], maxHuge: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.array(fc.oneof(fc.constantFrom(...words), fc.string({ maxLength: 8, unit: 'grapheme' })), { maxLength: 8 }).map((w) => w.join(' ')) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1_000, max: maxHuge }), fc.constantFrom('a', 'é', '😀', '<b>', '&', '\u0000', ' ')).map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length))) },
  );
}
