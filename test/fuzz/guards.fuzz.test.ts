/**
 * Properties of the guards hostile testing got past: the SSRF check (every spelling of a
 * non-public IPv4 address inside an IPv6 one is refused; public ones stay reachable) and the log
 * scrubber (a secret of any characters never appears in a log line, raw or JSON-escaped).
 */
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { vetUrl } from '../../src/emulator/net-guard.js';
import { createLogger } from '../../src/log.js';
import { fuzzParameters, fuzzRuns, fuzzTimeout } from './fuzz-support.js';

const RUNS = fuzzRuns(200);

/** Non-public IPv4 networks: loopback, private, link-local, CGN, this-network, reserved, multicast, documentation, benchmarking. */
const NON_PUBLIC: ReadonlyArray<readonly [number, number]> = [
  [0x7f000000, 8],
  [0x0a000000, 8],
  [0xac100000, 12],
  [0xc0a80000, 16],
  [0xa9fe0000, 16],
  [0x64400000, 10],
  [0x00000000, 8],
  [0xf0000000, 4],
  [0xe0000000, 4],
  [0xc0000200, 24],
  [0xc6120000, 15],
];
const nonPublicIPv4 = fc
  .tuple(fc.constantFrom(...NON_PUBLIC), fc.nat())
  .map(([[base, bits], noise]) => (base | (noise & (2 ** (32 - bits) - 1))) >>> 0);
const publicIPv4 = fc.nat({ max: 0xffffffff }).filter((n) => ipaddr.fromByteArray(bytes(n)).range() === 'unicast');

function bytes(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
const hex = (n: number): string => n.toString(16);

/** Ways an IPv6 address can carry an IPv4 one. */
function spellings(n: number, suffix: number): string[] {
  const high = hex(n >>> 16);
  const low = hex(n & 0xffff);
  const dotted = bytes(n).join('.');
  return [
    `::ffff:${dotted}`,
    `::ffff:${high}:${low}`,
    `::${dotted}`,
    `::ffff:0:${high}:${low}`,
    `64:ff9b::${dotted}`,
    `64:ff9b::${high}:${low}`,
    `2002:${high}:${low}::${hex(suffix)}`,
    `2002:${high}:${low}:${hex(suffix)}::1`,
  ];
}

describe('SSRF guard properties', () => {
  it('refuses a non-public IPv4 address in every spelling', () => {
    fc.assert(
      fc.property(nonPublicIPv4, fc.nat({ max: 0xffff }), (n, suffix) => {
        for (const host of [bytes(n).join('.'), ...spellings(n, suffix).map((s) => `[${s}]`)]) {
          expect(() => vetUrl(`https://${host}/page`, false, ['https:'], 'url'), host).toThrow(/private or loopback/);
        }
      }),
      fuzzParameters(RUNS),
    );
  }, fuzzTimeout(RUNS, 5));

  it('allows a public IPv4 address in every spelling', () => {
    fc.assert(
      fc.property(publicIPv4, fc.nat({ max: 0xffff }), (n, suffix) => {
        for (const host of [bytes(n).join('.'), ...spellings(n, suffix).map((s) => `[${s}]`)]) {
          expect(vetUrl(`https://${host}/page`, false, ['https:'], 'url').pathname, host).toBe('/page');
        }
      }),
      fuzzParameters(RUNS),
    );
  }, fuzzTimeout(RUNS, 5));
});

describe('log scrubber properties', () => {
  /** Secrets as configured: at least 8 characters, any of them quotes, backslashes, controls or non-ASCII. */
  const secret = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', '\t', '\u0001', 'é', '€', '/'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), minLength: 8, maxLength: 40 });

  it('never writes a secret, raw or JSON-escaped, wherever it is logged', () => {
    fc.assert(
      fc.property(secret, fc.string({ maxLength: 20 }), (value, around) => {
        const lines: string[] = [];
        const log = createLogger({ secrets: [value], destination: { write: (line: string) => lines.push(line) } });
        log.error({ err: new Error(`refused ${value}`), detail: { note: `${around}${value}${around}` }, url: `https://x.example/${value}` }, `failed with ${value}`);
        const out = lines.join('');
        expect(out).not.toContain(value);
        expect(out).not.toContain(JSON.stringify(value).slice(1, -1));
      }),
      fuzzParameters(RUNS),
    );
  }, fuzzTimeout(RUNS, 5));
});
