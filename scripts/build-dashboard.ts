// `npm run build` step: bundles the dashboard's browser script (src/dashboard/client/main.ts with
// uPlot) with esbuild into dist/dashboard/assets/dashboard.js, where src/dashboard/assets.ts (compiled
// to dist/dashboard/assets.js) serves it from. The image drops dev dependencies (esbuild) after this.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleClient } from '../src/dashboard/assets.ts';

const out = join(import.meta.dirname, '..', 'dist', 'dashboard', 'assets');
mkdirSync(out, { recursive: true });
const script = await bundleClient();
writeFileSync(join(out, 'dashboard.js'), script);
console.log(`wrote dist/dashboard/assets/dashboard.js (${Math.round(script.length / 1024)} KiB)`);
