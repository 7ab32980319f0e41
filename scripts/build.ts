// `npm run build`: the code the image runs, as one esbuild bundle of the CLI (src/cli/index.ts, which
// also starts the controller) in dist/, plus the dashboard's browser script in dist/assets/.
//
// Why a bundle and not tsc's one file per module: @kubernetes/client-node's entry point loads its
// whole generated API (hundreds of model and API classes) although Weir uses a few of them. Loading
// the controller from tsc's output took 139 MiB of RSS before it did anything; the bundle, which
// keeps only what is reachable, takes about 83 MiB with the controller loaded (docs/performance.md).
// Dynamic imports stay separate chunks (`splitting`), so `weir get` still does not load the
// controller.
//
//   npx tsx scripts/build.ts [outdir]     (default dist/)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { bundleClient } from '../src/dashboard/assets.ts';

const projectRoot = join(import.meta.dirname, '..');

/** Writes the bundle to `outdir` (emptied first); returns its entry point, `<outdir>/weir.js`. */
export async function buildBundle(outdir: string): Promise<string> {
  const { version } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  rmSync(outdir, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: { weir: join(projectRoot, 'src', 'cli', 'index.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Whitespace and syntax minified, identifiers not: V8 keeps every loaded module's source text
    // on the heap, and the readable bundle cost the controller about 10 MiB more RSS (and 9 MiB of
    // heap) than this one. Stack traces name functions as the source does (identifiers are kept; a
    // name two modules share may get a digit); positions map back to src/ through the .map files
    // next to each chunk. No keepNames: it wraps every closure created at run time in a
    // defineProperty call, 2.4 % of a rollout's CPU (docs/performance.md).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: true,
    logLevel: 'warning',
    // esbuild itself is only imported by a source checkout that has no built dashboard script.
    external: ['esbuild'],
    // A package no bundled code runs (see the shim's comment).
    alias: { 'whatwg-url': join(projectRoot, 'scripts', 'shims', 'whatwg-url.cjs') },
    define: { WEIR_BUILD_VERSION: JSON.stringify(version) },
    // Bundled CommonJS dependencies call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __weirRequire } from 'node:module'; const require = __weirRequire(import.meta.url);",
    },
  });
  mkdirSync(join(outdir, 'assets'), { recursive: true });
  writeFileSync(join(outdir, 'assets', 'dashboard.js'), await bundleClient());
  return join(outdir, 'weir.js');
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const outdir = resolve(process.argv[2] ?? join(projectRoot, 'dist'));
  console.log(`wrote ${await buildBundle(outdir)} and ${join(outdir, 'assets', 'dashboard.js')}`);
}
