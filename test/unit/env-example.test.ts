/**
 * `.env.example` and `--help` come from one table (`VARIABLES` in src/config.ts): every variable
 * the bridge or the emulator reads is in `.env.example` exactly once, nothing else is, and the
 * value it shows is the default the code applies.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { documentedVariables, GROUPS, helpText, loadConfig, VARIABLES } from '../../src/config.js';

const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
const assignments = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => ({ name: m[1]!, value: m[2]! }));

describe('.env.example', () => {
  it('assigns every documented variable once and nothing else', () => {
    const names = assignments.map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(documentedVariables().map(([name]) => name).sort());
  });

  it("shows each variable's example value", () => {
    const documented = new Map(documentedVariables());
    for (const { name, value } of assignments) expect({ name, value }).toEqual({ name, value: documented.get(name)?.example });
  });

  it('shows the defaults the code applies: the example parses to what an unset variable gives', () => {
    for (const [name, variable] of Object.entries(VARIABLES)) {
      if (variable.example === '') continue;
      expect({ name, value: variable.schema.parse(variable.example) }).toEqual({ name, value: variable.schema.parse(undefined) });
    }
  });

  it('as a whole is a configuration that starts (the terminal demo)', () => {
    const env = Object.fromEntries(assignments.map((a) => [a.name, a.value]));
    expect(loadConfig(env).adapters).toEqual(['shell']);
  });
});

describe('--help', () => {
  it('lists every variable under its group heading', () => {
    const text = helpText();
    for (const [name, doc] of documentedVariables()) {
      const heading = text.indexOf(`\n${GROUPS[doc.group]}:\n`);
      expect(heading, GROUPS[doc.group]).toBeGreaterThan(0);
      const at = text.indexOf(`\n  ${name}`, heading);
      expect(at, name).toBeGreaterThan(heading);
    }
  });

  it('keeps to the width it is given', () => {
    for (const line of helpText(72).split('\n')) expect(line.length, line).toBeLessThanOrEqual(72);
  });
});
