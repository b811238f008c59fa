/**
 * The production entry point (`npm start`, the `asyntai-bridge` bin, the Docker image):
 * `dist/bundle/main.js`, `src/main.ts` bundled by esbuild with its dependencies, one chunk per
 * lazily imported part (each platform adapter, each store backend, the demo emulator). Run by
 * `npm run build` after tsc; `tsx scripts/bundle.ts <folder>` writes it elsewhere (the bundle
 * test). The folder must sit inside the project: better-sqlite3 is found in its node_modules.
 *
 * Why: start-up was module loading. Node resolves, reads and compiles each of about 1,500 files
 * one by one (discord.js, undici, zod, Bolt…); a bundle is a few files. With Telegram, Slack and
 * Discord on their fakes, cold start to a healthy /healthz went from 1.1–1.7 s to 0.6–0.75 s
 * (README "Performance"). The unbundled `dist/src` stays, for the other CLIs and for debugging.
 *
 * Left outside the bundle: better-sqlite3 (a native addon, loaded from node_modules).
 * Names are kept (`keepNames`): with identifiers renamed, the bridge never became healthy, even
 * with Telegram alone (likely a library looking at class or function names; not traced).
 * Whitespace and syntax are minified: V8 keeps every loaded script's source in the heap, and the
 * idle process was about 10 MB smaller (104–116 MB against 122–129 MB, all three adapters on
 * their fakes). A stack trace then points into long lines: `main.js.map` beside it maps them back
 * (`node --enable-source-maps`).
 */
import { chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const outDir = resolve(process.argv[2] ?? join(root, 'dist/bundle'));

await build({
  entryPoints: { main: join(root, 'src/main.ts') },
  outdir: outDir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  keepNames: true,
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  external: ['better-sqlite3'],
  // CommonJS dependencies call require() for Node's built-ins; an ES module has none of its own.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  logLevel: 'warning',
});
await chmod(join(outDir, 'main.js'), 0o755);
