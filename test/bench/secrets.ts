// Controller memory with many large Secrets: 1,000 Secrets of 100 KiB in the local cluster, and the
// controller's resident set size (RSS) once its caches are synced, with no Secrets and with them.
// For comparison it also runs the controller as it was before Secrets/ConfigMaps were cached without
// their data (the sources of WEIR_BENCH_OLD_REF, default the commit before that change), and prints
// both figures. Prints figures only; it asserts nothing.
//
//   npm run bench:secrets   (starts its own cluster unless WEIR_TEST_KUBECONFIG is set)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import {
  connectCluster,
  createNamespace,
  projectRoot,
  startCluster,
  type Cluster,
} from '../cluster/cluster.ts';
import { startProcess, waitFor, type Managed } from '../cluster/proc.ts';

const COUNT = Number(process.env.WEIR_BENCH_SECRETS ?? 1000);
const SIZE = 100 * 1024;
const OLD_REF = process.env.WEIR_BENCH_OLD_REF ?? '86c176c^';
const OVERALL_TIMEOUT_MS = 20 * 60_000;

const guard = setTimeout(() => {
  console.error(`bench: gave up after ${OVERALL_TIMEOUT_MS / 60_000} min`);
  process.exit(2);
}, OVERALL_TIMEOUT_MS);
guard.unref();

const rssMiB = (pid: number) =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** The sources of `ref` (bin, src, package.json) in a temp dir, sharing this checkout's node_modules. */
function checkoutOld(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'weir-old-'));
  const tar = execFileSync('git', [
    '-C',
    projectRoot,
    'archive',
    ref,
    'bin',
    'src',
    'package.json',
    'tsconfig.json',
  ]);
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** V8 heap in use (MiB), from the controller's /metrics (prom-client's default process metrics). */
async function heapMiB(port: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? NaN) / 1024 / 1024;
}

interface Sample {
  rss: number;
  heap: number;
}

/** Starts `weir controller` from `root`, waits until /readyz says every cache is synced, settles, samples RSS and heap. */
async function measure(cluster: Cluster, root: string, label: string, logDir: string): Promise<Sample> {
  const p: Managed = startProcess(
    `controller-${label}`,
    process.execPath,
    [join(root, 'bin', 'weir.js'), 'controller', '--kubeconfig', cluster.kubeconfigPath],
    { logDir, env: { ...process.env, WEIR_LISTEN: '127.0.0.1:0', WEIR_LOG_LEVEL: 'info' } },
  );
  try {
    const port = await waitFor(
      `${label}: started`,
      () => /"port":(\d+)[^\n]*weir controller started/.exec(p.tail(100))?.[1],
      120_000,
    );
    await waitFor(
      `${label}: caches synced`,
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
      180_000,
      250,
    );
    // Let the list's garbage be collected: sample for 10 s and keep the last figure.
    let rss = 0;
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      rss = rssMiB(p.child.pid!);
    }
    return { rss, heap: await heapMiB(port) };
  } finally {
    await p.stop();
  }
}

async function createSecrets(cluster: Cluster, ns: string): Promise<number> {
  const core = cluster.kc.makeApiClient(CoreV1Api);
  const t0 = Date.now();
  const names = Array.from({ length: COUNT }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < names.length; i += 16) {
    await Promise.all(
      names.slice(i, i + 16).map((name) =>
        core.createNamespacedSecret({
          namespace: ns,
          // Random bytes: 100 KiB stored, 100 KiB (base64: 137 KB) on the wire and in a full cache.
          body: { metadata: { name }, type: 'Opaque', data: { blob: randomBytes(SIZE).toString('base64') } },
        }),
      ),
    );
  }
  return Date.now() - t0;
}

const ownCluster = !process.env.WEIR_TEST_KUBECONFIG;
const cluster = ownCluster
  ? await startCluster({
      crds: [join(projectRoot, 'crds'), join(projectRoot, '..', 'shared', 'crds', 'gateway-api')],
    })
  : connectCluster(process.env.WEIR_TEST_KUBECONFIG!);
try {
  const logDir = mkdtempSync(join(tmpdir(), 'weir-bench-secrets-'));
  const old = checkoutOld(OLD_REF);
  const ns = await createNamespace(cluster, 'bench-secrets');
  const emptyNew = await measure(cluster, projectRoot, 'new-empty', logDir);
  const emptyOld = await measure(cluster, old, 'old-empty', logDir);
  const took = await createSecrets(cluster, ns);
  console.log(`created ${COUNT} Secrets of ${SIZE / 1024} KiB in ${(took / 1000).toFixed(1)} s`);
  const fullNew = await measure(cluster, projectRoot, 'new-full', logDir);
  const fullOld = await measure(cluster, old, 'old-full', logDir);
  const row = (name: string, k: keyof Sample, before: Sample, after: Sample) =>
    `${name.padEnd(50)} ${before[k].toFixed(0).padStart(6)} MiB ${after[k].toFixed(0).padStart(8)} MiB ${(after[k] - before[k]).toFixed(0).padStart(7)} MiB`;
  console.log(`${''.padEnd(50)} no Secrets  ${COUNT} Secrets    growth`);
  console.log(row('RSS, Weir (Secrets/ConfigMaps cached without data)', 'rss', emptyNew, fullNew));
  console.log(row(`RSS, before (full objects cached; ${OLD_REF})`, 'rss', emptyOld, fullOld));
  console.log(row('V8 heap used, Weir', 'heap', emptyNew, fullNew));
  console.log(row('V8 heap used, before', 'heap', emptyOld, fullOld));
  console.log(`(logs in ${logDir})`);
} finally {
  if (ownCluster) await cluster.stop();
}
