// Installs CRDs into a test cluster with the real kubectl and waits until they are Established.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Cluster } from './cluster.ts';
import { waitFor } from './proc.ts';

/**
 * Server-side applies the given YAML files / directories (recursively *.yaml, *.yml) with the real
 * kubectl, then waits until every CustomResourceDefinition among them is Established. Returns the
 * CRD names. Errors name the file that failed.
 */
export async function applyCrds(
  cluster: Pick<Cluster, 'kc' | 'kubectl'>,
  paths: string[],
  timeoutMs = 60_000,
): Promise<string[]> {
  const crdFiles = new Map<string, string>(); // CRD name -> file it came from
  // kubectl (Go YAML) rather than the yaml package: some published CRDs (e.g. Flagger's) carry
  // multi-line quoted scalars that only Go's more lenient parser accepts, as users' kubectl does.
  await inBatches(paths.flatMap(yamlFiles), 3, async (file) => {
    const args = [
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=weir-test',
      '-o',
      'name',
      '-f',
      file,
    ];
    const { code, stdout, stderr } = await cluster.kubectl(args, { timeoutMs });
    if (code !== 0) throw new Error(`kubectl apply of ${file} failed (exit ${code}): ${stderr.trim()}`);
    for (const line of stdout.split('\n')) {
      const name = /^customresourcedefinition\.apiextensions\.k8s\.io\/(\S+)$/.exec(line.trim())?.[1];
      if (name) crdFiles.set(name, file);
    }
  });
  await waitEstablished(cluster.kc, crdFiles, timeoutMs);
  return [...crdFiles.keys()];
}

function yamlFiles(path: string): string[] {
  if (!existsSync(path)) throw new Error(`CRD path ${path} does not exist`);
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(path, f))
    .filter((f) => statSync(f).isFile());
}

async function waitEstablished(
  kc: KubeConfig,
  crdFiles: Map<string, string>,
  timeoutMs: number,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  let pending = [...crdFiles.keys()];
  let why = new Map<string, string>();
  try {
    await waitFor(
      `${crdFiles.size} CRDs to become Established`,
      async () => {
        const { items } = await api.listCustomResourceDefinition();
        why = new Map();
        for (const crd of items) {
          const bad = (crd.status?.conditions ?? []).find((c) => c.status !== 'True' && c.message);
          if (bad) why.set(crd.metadata!.name!, `${bad.type}: ${bad.message}`);
        }
        const established = new Set(
          items
            .filter((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))
            .map((c) => c.metadata!.name!),
        );
        pending = pending.filter((n) => !established.has(n));
        return pending.length === 0;
      },
      timeoutMs,
    );
  } catch (err) {
    const list = pending
      .map((n) => `  ${n} (from ${crdFiles.get(n)})${why.has(n) ? `: ${why.get(n)}` : ''}`)
      .join('\n');
    throw new Error(`${(err as Error).message}; not Established:\n${list}`);
  }
}

async function inBatches<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
