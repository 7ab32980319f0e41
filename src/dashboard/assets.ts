// The browser's files, served from the package (no CDN: the dashboard works offline): the script
// (client/main.ts with uPlot, bundled by esbuild) and uPlot's stylesheet. A built package has the
// bundle from `npm run build` (scripts/build.ts) in assets/ beside the bundled module; a source checkout
// bundles it with esbuild (installed with tsx) on first request.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const CLIENT_ENTRY = fileURLToPath(new URL('./client/main.ts', import.meta.url));
const BUILT = fileURLToPath(new URL('./assets/dashboard.js', import.meta.url));

/** Bundles the client script; also what the build script writes. */
export async function bundleClient(): Promise<string> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [CLIENT_ENTRY],
    bundle: true,
    format: 'iife',
    minify: true,
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

let script: Promise<string> | undefined;

export function clientScript(): Promise<string> {
  script ??= existsSync(BUILT) ? readFile(BUILT, 'utf8') : bundleClient();
  script.catch(() => (script = undefined));
  return script;
}

let css: string | undefined;

export function uplotCss(): string {
  css ??= readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  return css;
}
