// The code the image runs: `npm run build`'s esbuild bundle (scripts/build.ts), not the TypeScript
// sources the other tests load through tsx. It must start the controller and carry a release from
// Initialized to Succeeded on the real control plane, report its version without a package.json
// beside it, and leave out what Weir never calls of @kubernetes/client-node (the reason for bundling).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildBundle } from '../../scripts/build.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { projectRoot } from '../cluster/cluster.ts';

// A package as the image has it: bin/weir.js beside the bundle in dist/ (node_modules is the
// project's, found by walking up, as the image keeps its own).
const pkg = join(projectRoot, '.weir', 'bundle-test');
const outdir = join(pkg, 'dist');
const entry = join(pkg, 'bin', 'weir.js');
let w: World;

before(async () => {
  await buildBundle(outdir);
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  copyFileSync(join(projectRoot, 'bin', 'weir.js'), entry);
  w = await startWorld('bundle', { controller: 'child', entry });
});
after(async () => w?.stop());

test('the bundle reports the package version', () => {
  const { version } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  assert.equal(
    execFileSync(process.execPath, [entry, 'version'], { encoding: 'utf8' }).trim(),
    `weir ${version}`,
  );
});

test('the bundle leaves out client-node API groups Weir never calls', () => {
  const code = readdirSync(outdir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(join(outdir, f), 'utf8'))
    .join('\n');
  // Each API class names itself in its RequiredError messages: `new RequiredError("CoreV1Api", …)`.
  // (The models all stay: client-node's serializer lists every one of them.)
  const has = (name: string) => code.includes(`"${name}"`);
  assert.ok(has('CoreV1Api'), 'an API class Weir calls is in the bundle');
  for (const unused of ['StorageV1Api', 'CertificatesV1Api', 'BatchV1Api'])
    assert.ok(!has(unused), `${unused} is tree-shaken away`);
  // node-fetch's fallback URL package (scripts/shims/whatwg-url.cjs): tr46's mapping table is not in.
  assert.ok(!code.includes('xn--'), 'whatwg-url and tr46 are left out');
  assert.ok(readFileSync(join(outdir, 'assets', 'dashboard.js'), 'utf8').length > 10_000, 'dashboard script');
});

test('the bundled controller initialises a Canary and promotes a healthy release', async () => {
  await w.deploy('bundled', 'example.com/bundled:1.0.0');
  await w.apply(gatewayCanary('bundled', { stepWeight: 50, maxWeight: 50 }));
  await w.waitPhase('bundled', 'Initialized', 60_000);
  await w.exporters('bundled', { errorRate: 0 });
  await w.setImage('bundled', 'example.com/bundled:2.0.0');
  const done = await w.waitPhase('bundled', ['Succeeded', 'Failed'], 120_000);
  assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
  assert.equal(await w.image('bundled-primary'), 'example.com/bundled:2.0.0');
});
