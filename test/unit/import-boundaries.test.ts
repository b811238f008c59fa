/**
 * The layering the design relies on, checked on the source: an adapter imports only the core's
 * public surface (`src/core/index.ts`), the format layer, configuration, logging and the HTTP
 * server — never core internals and never another adapter; the core imports no platform SDK.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const PLATFORM_SDKS = /^(?:grammy|@grammyjs\/|@slack\/|discord\.js|@discordjs\/)/;
/** What an adapter may import from outside its own folder, relative to the repository. */
const ADAPTER_MAY_IMPORT = [/^src\/core\/index\.ts$/, /^src\/format\//, /^src\/config\.ts$/, /^src\/log\.ts$/, /^src\/http\/server\.ts$/];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const source = readFileSync(join(ROOT, file), 'utf8');
  const found = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)];
  return found.map((m) => m[1] ?? m[2]!);
}

/** A relative specifier as a repository path, `.js` spelled as the `.ts` it compiles from. */
function target(file: string, specifier: string): string {
  return relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts');
}

describe('import boundaries', () => {
  const adapterFiles = sourceFiles('adapters');

  it('finds the adapters and their imports (the check itself reads something)', () => {
    expect(adapterFiles.some((f) => f.startsWith('adapters/telegram/'))).toBe(true);
    expect(importsOf('adapters/telegram/telegram-adapter.ts')).toContain('../../src/core/index.js');
  });

  it.each(adapterFiles)('%s imports only the public surface and its own folder', (file) => {
    const own = file.split('/').slice(0, 2).join('/') + '/';
    const offending = importsOf(file)
      .filter((s) => s.startsWith('.'))
      .map((s) => target(file, s))
      .filter((t) => !t.startsWith(own) && !ADAPTER_MAY_IMPORT.some((allowed) => allowed.test(t)));
    expect(offending).toEqual([]);
  });

  it.each(sourceFiles('src/core'))('%s imports no platform SDK and no adapter', (file) => {
    const offending = importsOf(file).filter((s) => PLATFORM_SDKS.test(s) || (s.startsWith('.') && target(file, s).startsWith('adapters/')));
    expect(offending).toEqual([]);
  });
});
