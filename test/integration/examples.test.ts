// Every example is valid: `weir lint` finds no problem, the GitSync example's layout builds the way
// GitSync reads it, and every object is accepted by the real API server (server-side dry run).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { build, describeProblems, wellKnownScope } from '../../src/gitsync/build.ts';
import { createNamespace, projectRoot, sharedCluster } from '../cluster/cluster.ts';

const examples = join(projectRoot, 'examples');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory()
      ? yamlFiles(p)
      : /\.ya?ml$/.test(f) && f !== 'kustomization.yaml'
        ? [p]
        : [];
  });
}

test('weir lint accepts every example', () => {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'weir.js'), 'lint', '-f', examples], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const checked = Number(r.stdout.match(/(\d+) object\(s\) valid/)?.[1] ?? 0);
  assert.ok(checked >= 10, `only ${checked} Weir objects checked:\n${r.stdout}`);
});

test('the GitSync example layout builds as GitSync reads it (kustomization resources across folders)', async () => {
  const result = await build(join(examples, 'gitsync'), 'clusters/local', {
    namespace: 'default',
    scopeOf: wellKnownScope,
  });
  assert.ok(result.ok, result.ok ? '' : describeProblems(result.problems));
  const kinds = result.objects
    .map((o) => `${String(o.obj.kind)}/${String((o.obj.metadata as { name: string }).name)}`)
    .sort();
  assert.deepEqual(kinds, [
    'AlertProvider/slack',
    'Canary/podinfo',
    'Deployment/podinfo',
    'Namespace/podinfo',
  ]);
});

test('the API server accepts every example object', async () => {
  const cluster = await sharedCluster();
  const ns = await createNamespace(cluster, 'examples');
  for (const file of yamlFiles(examples)) {
    if (file.includes(join('examples', 'gitsync'))) continue; // names its own namespaces; built above
    const r = await cluster.kubectl([
      'apply',
      '--dry-run=server',
      '--server-side',
      '--field-manager=examples-test',
      '-n',
      ns,
      '-f',
      file,
    ]);
    assert.equal(r.code, 0, `${file}: ${r.stderr}`);
  }
  const gs = await cluster.kubectl([
    'apply',
    '--dry-run=server',
    '-n',
    ns,
    '-f',
    join(examples, 'gitsync', 'clusters', 'local', 'gitsync.yaml'),
  ]);
  assert.equal(gs.code, 0, gs.stderr);
});
