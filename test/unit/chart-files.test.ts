// Files the Helm chart ships that are derived from the code: the CRDs in charts/weir/crds/ must be
// exactly the files of crds/ (`npm run gen:crds` writes both), or a Helm install would run with a
// different API; the Grafana dashboard must query the metrics the controller exports.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Metrics } from '../../src/server/metrics.ts';

const root = join(import.meta.dirname, '..', '..');
const crds = join(root, 'crds');
const chartCrds = join(root, 'charts', 'weir', 'crds');

test('charts/weir/crds/ holds exactly the files of crds/ (run `npm run gen:crds` if this fails)', () => {
  const files = readdirSync(crds).sort();
  assert.ok(files.length >= 4, 'crds/ has the four Weir CRDs');
  assert.deepEqual(readdirSync(chartCrds).sort(), files, 'same file names');
  for (const f of files) {
    assert.equal(
      readFileSync(join(chartCrds, f), 'utf8'),
      readFileSync(join(crds, f), 'utf8'),
      `charts/weir/crds/${f} differs from crds/${f}`,
    );
  }
});

test('the Grafana dashboard queries only metrics Weir exports, and every weir_* metric', async () => {
  const dashboard = JSON.parse(readFileSync(join(root, 'charts', 'weir', 'dashboards', 'weir.json'), 'utf8'));
  const exprs: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'expr' || k === 'definition') && typeof x === 'string') exprs.push(x);
        else walk(x);
      }
  };
  walk(dashboard);
  assert.ok(exprs.length >= 15, 'the dashboard has its queries');
  const exported = new Set((await new Metrics('test', false).registry.getMetricsAsJSON()).map((m) => m.name));
  const used = new Set(
    exprs.flatMap((e) => [...e.matchAll(/\bweir_\w+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''))),
  );
  for (const name of used)
    assert.ok(exported.has(name), `the dashboard queries ${name}, which Weir does not export`);
  for (const name of exported) assert.ok(used.has(name), `${name} is exported but not on the dashboard`);
  const ids = (dashboard.panels as Array<{ id: number }>).map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
});
