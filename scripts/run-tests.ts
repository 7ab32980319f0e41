// The whole test suite, as README.md gives it (`npm test`): builds the real control-plane binaries if
// the cache is cold, starts ONE local cluster shared by every test file (each end-to-end scenario
// works in its own namespace, so files run in parallel), runs node's test runner over unit and
// integration tests, and ends with a plain "N passed, N failed" line.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startCluster } from '../test/cluster/cluster.ts';
import { insideRunNetns, reexecInRunNetns } from '../test/cluster/netns.ts';
import { awaitBin, startBackgroundBuild } from '../test/cluster/tool-build.ts';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const unitOnly = args.includes('--unit');

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out.sort();
}

function requireCommand(cmd: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(
      `weir tests need \`${cmd}\`: apt-get install ${pkg} (or run bash .ci/run, which installs everything)`,
    );
    process.exit(69);
  }
}

let files = [
  ...testFiles(join(root, 'test', 'unit')),
  ...(unitOnly ? [] : testFiles(join(root, 'test', 'integration'))),
];
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
if (!files.length) {
  console.error('no test files matched');
  process.exit(1);
}

const integration = files.some((f) => f.startsWith('test/integration'));
// Traefik is the longest cold build, and only the data-plane tests (and the demo's) need it, podinfo
// and the Prometheus build: those files wait for those tools while the rest already run.
const needsDataPlane = (f: string): boolean => f.includes('dataplane') || f.includes('demo.test');
const DATA_PLANE_TOOLS = [
  ['traefik', 'traefik'],
  ['podinfo', 'podinfo'],
  ['prometheus', 'prometheus'],
] as const;
// Set-up happens outside the run's network namespace (the Go builds need the module proxy); the
// cluster and every test run inside it, in a re-exec of this script with the same arguments.
if (integration && !insideRunNetns()) {
  requireCommand('prometheus', 'prometheus');
  requireCommand('git', 'git');
  // The data-plane tools build in the background; test/cluster/tool-build.ts's awaitBin waits for them.
  if (files.some(needsDataPlane)) {
    Object.assign(process.env, startBackgroundBuild(DATA_PLANE_TOOLS.map(([tool]) => tool)));
  }
  const controlPlane = ['etcd', 'kubernetes', 'kwok', 'helm'];
  const build = spawnSync('bash', [join(root, 'test/cluster/tools/build.sh'), ...controlPlane], {
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
if (!insideRunNetns()) process.exit(await reexecInRunNetns(import.meta.filename, args));

const env = { ...process.env };
let stop = async (): Promise<void> => {};
if (integration) {
  const t0 = Date.now();
  const cluster = await startCluster({
    crds: [
      join(root, 'crds'),
      join(root, '..', 'shared', 'crds', 'gateway-api'),
      // Routing providers' CRDs (the conformance suite and the examples' dry run need them).
      join(root, '..', 'shared', 'crds', 'istio'),
      // TrafficSplit v1alpha1 (smi, linkerd): ../shared/crds/smi serves only v1alpha4.
      join(root, 'test', 'fixtures', 'crds', 'smi'),
      join(root, '..', 'shared', 'crds', 'traefik'),
      join(root, '..', 'shared', 'crds', 'contour'),
      join(root, '..', 'shared', 'crds', 'apisix'),
      join(root, '..', 'shared', 'crds', 'kuma'),
      join(root, '..', 'shared', 'crds', 'gloo'),
    ],
  });
  console.log(
    `shared cluster ready in ${Date.now() - t0} ms (${cluster.kubeconfigPath}; logs in ${cluster.logDir})`,
  );
  env.WEIR_TEST_KUBECONFIG = cluster.kubeconfigPath;
  stop = () => cluster.stop();
}

interface RunResult {
  code: number;
  passed: number;
  failed: number;
  skipped: number;
  /** The spec reporter's "failing tests" section, so the run's last lines name what failed. */
  failures: string;
}

/** One node test-runner process over `list`; its output streams through, its counts come back. */
async function runNodeTests(list: string[], concurrency: number): Promise<RunResult> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      // A file whose tests are done exits even if a handle leaked, and no test hangs the run forever.
      '--test-force-exit',
      `--test-timeout=${process.env.WEIR_TEST_TIMEOUT_MS ?? '600000'}`,
      '--test-reporter=spec',
      // `npm test -- <file> --test-name-pattern=<re>` runs only the matching tests of those files.
      ...args.filter((a) => a.startsWith('--test-name-pattern=')),
      ...list,
    ],
    { cwd: root, env, stdio: ['inherit', 'pipe', 'inherit'] },
  );
  // The spec reporter's closing summary (ℹ pass N …) gives the counts; keep the tail to read it.
  let tail = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    tail = (tail + chunk.toString()).slice(-20_000);
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  const count = (key: string) => Number(tail.match(new RegExp(`^ℹ ${key} (\\d+)$`, 'm'))?.[1] ?? 0);
  return {
    code,
    passed: count('pass'),
    failed: count('fail') + count('cancelled'),
    skipped: count('skipped'),
    failures: failingSection(tail),
  };
}

/** The spec reporter's closing "✖ failing tests:" list (it follows the ℹ counts), bounded. */
function failingSection(tail: string): string {
  const start = tail.lastIndexOf('✖ failing tests:');
  return start < 0 ? '' : tail.slice(start).trim().slice(0, 8_000);
}

/**
 * The data-plane files, once Traefik, podinfo and Prometheus are built (a cold build may still run in
 * the background: waiting here, not in a test hook, keeps the per-test timeout meaningful).
 */
async function runDataPlaneTests(list: string[]): Promise<RunResult> {
  try {
    for (const [tool, bin] of DATA_PLANE_TOOLS) await awaitBin(tool, bin);
  } catch (err) {
    console.error(`data-plane tests not run: ${(err as Error).message}`);
    return { code: 1, passed: 0, failed: list.length, skipped: 0, failures: '' };
  }
  return runNodeTests(list, 1);
}

// The data-plane files run one at a time beside the others (heavy: proxy, Prometheus, pods, load).
const dataPlaneFiles = files.filter(needsDataPlane);
const otherFiles = files.filter((f) => !needsDataPlane(f));
const concurrency = Number(process.env.WEIR_TEST_CONCURRENCY ?? '4') - (dataPlaneFiles.length ? 1 : 0);
const results = await Promise.all([
  otherFiles.length ? runNodeTests(otherFiles, Math.max(1, concurrency)) : undefined,
  dataPlaneFiles.length ? runDataPlaneTests(dataPlaneFiles) : undefined,
]);
await stop();

const total = { code: 0, passed: 0, failed: 0, skipped: 0 };
for (const r of results.filter((x): x is RunResult => x !== undefined)) {
  total.code ||= r.code;
  total.passed += r.passed;
  total.failed += r.failed;
  total.skipped += r.skipped;
  // Two runner processes interleave their output; repeat each one's failures at the very end.
  if (r.failures) console.log(`\n${r.failures}`);
}
console.log(`\ntests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.code !== 0 || total.failed > 0 || total.passed === 0 ? 1 : 0);
