// Regenerates crds/*.yaml (and the Helm chart's copy in charts/weir/crds/) and docs/api.md from the
// TypeScript schema (src/api), and the chart's RBAC rules (charts/weir/templates/_rules.tpl) from
// src/chart-rules.ts and the routing providers' descriptors. `--check` exits 1 when any is stale.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrds } from '../src/api/render.ts';
import { renderApiReference } from '../src/api/reference.ts';
import { renderChartRules } from '../src/chart-rules.ts';

const dir = join(import.meta.dirname, '..', 'crds');
const chartDir = join(dir, '..', 'charts', 'weir', 'crds');
const check = process.argv.includes('--check');
let stale = 0;
for (const d of [dir, chartDir]) mkdirSync(d, { recursive: true });
const outputs = [
  ...renderCrds().flatMap((o) => [
    { path: join(dir, o.file), text: o.text },
    { path: join(chartDir, o.file), text: o.text },
  ]),
  { path: join(dir, '..', 'docs', 'api.md'), text: renderApiReference() },
  { path: join(dir, '..', 'charts', 'weir', 'templates', '_rules.tpl'), text: renderChartRules() },
];
for (const { path, text } of outputs) {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (current === text) continue;
  stale++;
  if (check) console.error(`stale: ${path} (run npm run gen:crds)`);
  else writeFileSync(path, text);
}
if (check && stale) process.exit(1);
console.log(check ? 'crds/ is up to date' : `wrote ${stale} file(s) in crds/, charts/weir/crds/ and docs/`);
