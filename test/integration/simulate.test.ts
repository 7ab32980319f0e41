// `weir simulate` as users run it (`node bin/weir.js simulate …`, a real process) against a real
// Prometheus backfilled with known series (promtool tsdb create-blocks-from openmetrics): the app
// histogram's request counter of the canary's pods at 10 requests a second, all of them successful
// until DROP, then 1 in 10 a 500. The Canary uses the built-in request-success-rate (min 99) through
// --prometheus and a MetricTemplate from the same file, which carries its own address; another
// Canary's MetricTemplate is read from the test cluster.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createNamespace, sharedCluster } from '../cluster/cluster.ts';
import { startPrometheus, type PrometheusInstance } from '../cluster/prometheus.ts';
import { runWeir, showRun as show } from '../cluster/weir-cli.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
/** The series start 3 h before the last full hour: in the past, well inside the retention. */
const BASE = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
/** From here on 1 request in 10 fails. */
const DROP = BASE + 30 * MIN;
const at = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

const POD = 'namespace="test",pod="podinfo-7d9c8b6f5-x2x9z"';

/** OpenMetrics samples every 15 s for an hour: counters of status 200 and 500. */
function series(): string {
  const lines: string[] = [];
  const counters: Array<[string, (s: number) => number]> = [
    // seconds since BASE -> counter value; 10 req/s, of which 1/s fails after DROP
    ['200', (s) => (s <= 1800 ? 10 * s : 18_000 + 9 * (s - 1800))],
    ['500', (s) => (s <= 1800 ? 0 : s - 1800)],
  ];
  for (const [status, count] of counters) {
    for (let s = 0; s <= 3600; s += 15) {
      lines.push(
        `http_request_duration_seconds_count{${POD},status="${status}"} ${count(s)} ${(BASE + s * 1000) / 1000}`,
      );
    }
  }
  return `${lines.join('\n')}\n# EOF\n`;
}

/** A Canary's YAML up to its analysis' interval and threshold; the caller adds the rest of it. */
function canaryYaml(namespace: string): string {
  return `apiVersion: weir.dev/v1alpha1
kind: Canary
metadata: { name: podinfo, namespace: ${namespace} }
spec:
  targetRef: { kind: Deployment, name: podinfo }
  service: { port: 9898 }
  analysis:
    interval: 1m
    threshold: 1`;
}

let prom: PrometheusInstance;
let dir: string;
let canaryFile: string;

before(async () => {
  prom = await startPrometheus({ backfill: series() });
  dir = mkdtempSync(join(tmpdir(), 'weir-simulate-'));
  canaryFile = join(dir, 'canary.yaml');
  // As a user writes it: the Canary and the MetricTemplate it uses, in one file.
  const yaml = `${canaryYaml('test')}
    stepWeight: 20
    maxWeight: 60
    metrics:
      - { name: request-success-rate, interval: 1m, thresholdRange: { min: 99 } }
      - { name: request-rate, templateRef: { name: request-rate }, thresholdRange: { min: 5 } }
---
apiVersion: weir.dev/v1alpha1
kind: MetricTemplate
metadata: { name: request-rate, namespace: test }
spec:
  provider: { type: prometheus, address: ${JSON.stringify(prom.url)} }
  query: 'sum(rate(http_request_duration_seconds_count{namespace="{{ namespace }}"}[{{ interval }}]))'
`;
  writeFileSync(canaryFile, yaml);
});

after(async () => {
  await prom?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `weir ARGS`; by default with no cluster: every template is in the file, so none is needed. */
const weir = (args: string[], kubeconfig = join(dir, 'no-kubeconfig')) =>
  runWeir(args, { kubeconfig, timeoutMs: 120_000 });

const simulate = (from: number, to: number, ...extra: string[]) =>
  weir([
    'simulate',
    '-f',
    canaryFile,
    '--prometheus',
    prom.url,
    '--from',
    at(from),
    '--to',
    at(to),
    ...extra,
  ]);

interface Json {
  ticks: Array<{
    time: string;
    weightBefore: number;
    weight: number;
    metrics?: Array<{ name: string; result: string; value?: number; message: string }>;
  }>;
  outcome: { kind: string; time: string; weight: number; reason?: string; summary: string };
}

describe('weir simulate on a real Prometheus', () => {
  test('a window before the drop: promoted at the tick after the last step, with the weights per tick', async () => {
    const from = BASE + 10 * MIN;
    const r = await simulate(from, from + 10 * MIN);
    assert.equal(r.code, 0, show(r));
    const promotedAt = at(from + 3 * MIN);
    assert.match(
      r.stdout,
      new RegExp(`^would have promoted at ${promotedAt} \\(from canary weight 60\\)$`, 'm'),
    );
    const rows = r.stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d /.test(l));
    const clock = (ms: number) => at(ms).slice(11, 19);
    assert.deepEqual(
      rows.map((l) => l.split(/\s{2,}/).slice(0, 4)),
      [
        [clock(from), '0→20', '-', '-'],
        [clock(from + MIN), '20→40', '✓ 100', '✓ 10'],
        [clock(from + 2 * MIN), '40→60', '✓ 100', '✓ 10'],
        [clock(from + 3 * MIN), '60', '✓ 100', '✓ 10'],
      ],
      show(r),
    );
    // A chart per metric, its threshold band drawn.
    assert.match(r.stdout, /^request-success-rate \(min 99\)$/m);
    assert.match(r.stdout, /^min 99 ┤/m);
    assert.match(r.stdout, /^request-rate \(min 5\)$/m);
  });

  test('a window containing the drop: rolled back at the first tick that measures it', async () => {
    const from = DROP - 2 * MIN;
    const r = await simulate(from, from + 20 * MIN);
    assert.equal(r.code, 1, show(r));
    const tick = at(DROP + MIN); // its [1m] window is the first after the drop
    assert.match(
      r.stdout,
      new RegExp(
        `^would have rolled back at ${tick}: request-success-rate 90 < min 99 \\(failed checks 1/1\\)$`,
        'm',
      ),
      show(r),
    );
    assert.match(r.stdout, /^ {4}90 ┤ {3}✗$/m, show(r)); // the failing value drawn below the band
  });

  test('-o json holds the same verdicts', async () => {
    const from = DROP - 2 * MIN;
    const r = await simulate(from, from + 20 * MIN, '-o', 'json');
    assert.equal(r.code, 1, show(r));
    const json = JSON.parse(r.stdout) as Json;
    assert.deepEqual(
      json.ticks.map((t) => [t.time, t.weightBefore, t.weight]),
      [
        [at(from), 0, 20],
        [at(from + MIN), 20, 40],
        [at(from + 2 * MIN), 40, 60],
        [at(from + 3 * MIN), 60, 0], // rolled back
      ],
    );
    const last = json.ticks.at(-1)!.metrics!.find((m) => m.name === 'request-success-rate')!;
    assert.equal(last.result, 'Failed');
    assert.ok(Math.abs(last.value! - 90) < 1e-6, String(last.value));
    assert.equal(json.ticks[2]!.metrics![0]!.result, 'Successful');
    assert.deepEqual(
      [json.outcome.kind, json.outcome.time, json.outcome.weight],
      ['rolledBack', at(DROP + MIN), 60],
    );
    assert.match(json.outcome.summary, /request-success-rate 90 < min 99/);
  });

  test('a window without data: no data fails the checks, as in a real run', async () => {
    const from = BASE + 2 * HOUR;
    const r = await simulate(from, from + 5 * MIN);
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stdout,
      /would have rolled back at .*: metric request-success-rate returned no data/,
      show(r),
    );
  });

  const errors: Array<[string, string[], number, RegExp]> = [
    ['a missing file', ['-f', '/nonexistent/canary.yaml'], 1, /\/nonexistent\/canary\.yaml/],
    ['a bad --from', ['--from', 'yesterday'], 64, /--from: "yesterday" is not an RFC 3339 time/],
    ['--to before --from', ['--to', at(BASE)], 64, /--to .* must be later than --from/],
    [
      'a bad --prometheus',
      ['--prometheus', 'localhost:9090'],
      64,
      /--prometheus: "localhost:9090" is not an http\(s\) URL/,
    ],
    ['an unknown flag', ['--form', at(BASE)], 64, /unknown option '--form'/],
  ];
  for (const [name, change, code, message] of errors) {
    test(`${name}: a clear error naming it`, async () => {
      const args: Record<string, string> = {
        '-f': canaryFile,
        '--prometheus': prom.url,
        '--from': at(BASE + 10 * MIN),
        '--to': at(BASE + 20 * MIN),
      };
      const extra: string[] = [];
      for (let i = 0; i < change.length; i += 2) {
        if (change[i]! in args) args[change[i]!] = change[i + 1]!;
        else extra.push(change[i]!, change[i + 1]!);
      }
      const r = await weir(['simulate', ...Object.entries(args).flat(), ...extra]);
      assert.equal(r.code, code, show(r));
      assert.match(r.stderr, message, show(r));
    });
  }

  test('a built-in metric without --prometheus: refused, naming the metric and the flag', async () => {
    const r = await weir(['simulate', '-f', canaryFile, '--from', at(BASE), '--to', at(BASE + HOUR)]);
    assert.equal(r.code, 64, show(r));
    assert.match(r.stderr, /metric request-success-rate is a built-in metric: give --prometheus <url>/);
  });

  test('a MetricTemplate not in the files is read from the cluster, and runs on its own address', async () => {
    const cluster = await sharedCluster();
    const ns = await createNamespace(cluster, 'simulate');
    const template = {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'MetricTemplate',
      metadata: { name: 'request-rate', namespace: ns },
      spec: {
        provider: { type: 'prometheus', address: prom.url },
        query: 'sum(rate(http_request_duration_seconds_count[{{ interval }}]))',
      },
    };
    const applied = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(template) });
    assert.equal(applied.code, 0, applied.stderr);
    const file = join(dir, 'cluster-template.yaml');
    writeFileSync(
      file,
      `${canaryYaml(ns)}
    stepWeights: [50]
    metrics:
      - { name: request-rate, templateRef: { name: request-rate }, thresholdRange: { min: 5 } }
`,
    );
    const from = BASE + 10 * MIN;
    const args = ['simulate', '-f', file, '--from', at(from), '--to', at(from + 5 * MIN)];
    const r = await weir(args, cluster.kubeconfigPath);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^would have promoted at ${at(from + MIN)} `, 'm'), show(r));
    // Without a cluster the error names the template and where it was looked for.
    const without = await weir(args);
    assert.equal(without.code, 1, show(without));
    assert.match(
      without.stderr,
      new RegExp(
        `MetricTemplate ${ns}/request-rate is not in the -f files and could not be read from the cluster`,
      ),
      show(without),
    );
  });
});
