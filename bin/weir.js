#!/usr/bin/env node
// Entry point of `weir` and `kubectl-weir`: the bundled CLI when built (npm run build, the image),
// otherwise the TypeScript sources through tsx (a source checkout).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/weir.js', import.meta.url);
let mod;
if (existsSync(compiled)) {
  mod = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(new URL('../src/cli/index.ts', import.meta.url).href);
}
process.exitCode = await mod.main(process.argv);
