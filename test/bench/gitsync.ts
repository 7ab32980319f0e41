// GitSync figures on the local control plane with a loopback git server:
//   1. commit -> applied with the receiver (push, signed webhook, status says the new SHA)
//   2. time to apply 500 manifests (first sync of a repository with 500 objects)
//   3. API writes on a sync of an unchanged revision (periodic sync; and a `weir sync` request)
// Run: npx tsx test/bench/gitsync.ts   (starts its own cluster unless WEIR_TEST_KUBECONFIG is set)
import { commitFiles } from '../cluster/git-server.ts';
import { createSecret, githubSignature, readyOf, startGitSyncWorld } from '../cluster/gitsync-kit.ts';
import { waitFor } from '../cluster/proc.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cm = (name: string, v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: "${v}"\n`;

const w = await startGitSyncWorld('bench-gitsync', { mode: 'gitsync-only' });
const ctl = w.controller!;
try {
  // 1. commit -> applied through the receiver
  const hook = await w.git.createRepo('hook');
  let sha = await commitFiles(hook.url, { 'a.yaml': cm('hook', '0') }, 'init');
  await createSecret(w, 'hook-token', { token: 'bench' });
  await w.apply('hook', { url: hook.url, interval: '1h', webhookSecretRef: { name: 'hook-token' } });
  await w.wait('hook', 'first sync', (s) => s.lastAppliedRevision === sha);
  const latencies: number[] = [];
  for (let i = 1; i <= 9; i++) {
    sha = await commitFiles(hook.url, { 'a.yaml': cm('hook', String(i)) }, `c${i}`);
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha });
    const t0 = performance.now();
    const res = await fetch(`${w.http}/hooks/gitsync/${w.ns}/hook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': githubSignature(body, 'bench') },
      body,
    });
    if (res.status !== 202) throw new Error(`receiver answered ${res.status}`);
    const target = sha;
    await waitFor(
      'applied',
      async () => (await w.get('hook')).status?.lastAppliedRevision === target,
      10_000,
      10,
    );
    latencies.push(performance.now() - t0);
  }
  console.log(
    `commit -> applied via receiver: median ${median(latencies).toFixed(0)} ms (min ${Math.min(...latencies).toFixed(0)}, max ${Math.max(...latencies).toFixed(0)}, n=${latencies.length}; push excluded, status polled every 10 ms)`,
  );

  // 2. 500 manifests
  const many = await w.git.createRepo('many');
  const files: Record<string, string> = {};
  for (let i = 0; i < 300; i++) files[`config/cm-${i}.yaml`] = cm(`bench-cm-${i}`, String(i));
  for (let i = 0; i < 100; i++)
    files[`svc/svc-${i}.yaml`] =
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: bench-svc-${i}\nspec:\n  selector: {app: bench-${i}}\n  ports: [{port: 80, targetPort: 8080}]\n`;
  for (let i = 0; i < 100; i++)
    files[`deploy/d-${i}.yaml`] =
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bench-${i}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: bench-${i}}}\n  template:\n    metadata: {labels: {app: bench-${i}}}\n    spec:\n      containers: [{name: app, image: "example.com/bench:${i}", resources: {requests: {cpu: "0.1", memory: 64Mi}}}]\n`;
  const manySha = await commitFiles(many.url, files, '500 manifests');
  const t0 = performance.now();
  await w.apply('many', { url: many.url, interval: '1h' });
  const done = await w.wait('many', '500 applied', (s) => s.lastAppliedRevision === manySha, 300_000);
  const total = performance.now() - t0;
  const r = ctl.lastReport(w.ns, 'many');
  console.log(
    `apply 500 manifests (300 ConfigMaps, 100 Services, 100 Deployments): ${total.toFixed(0)} ms from GitSync created to Ready (fetch ${r?.ms.fetch} ms, build ${r?.ms.build} ms, apply ${r?.ms.apply} ms; ${r?.apply?.created.length} created); inventory ${done.status?.inventory?.length}`,
  );

  // 3. unchanged revision: a periodic sync, and a sync request
  const writesOf = async () => ({
    objects: ctl.api.writes,
    rv: (await w.get('many')).metadata.resourceVersion,
    events: (await w.events('many')).length,
  });
  const reportBefore = ctl.lastReport(w.ns, 'many');
  await w.apply('many', { url: many.url, interval: '10s' }); // generation change: one sync (status write)
  await waitFor(
    'sync after the spec change',
    () => ctl.lastReport(w.ns, 'many') !== reportBefore,
    30_000,
    20,
  );
  await new Promise((res) => setTimeout(res, 1000)); // let that sync's status write land
  const mid = ctl.lastReport(w.ns, 'many');
  const before = await writesOf();
  const tp = performance.now();
  await waitFor('the next periodic sync', () => ctl.lastReport(w.ns, 'many') !== mid, 30_000, 20);
  const periodic = ctl.lastReport(w.ns, 'many')!;
  await new Promise((res) => setTimeout(res, 1000));
  const after = await writesOf();
  console.log(
    `unchanged revision, periodic sync of 500 objects: ${after.objects - before.objects} object writes, ${after.rv === before.rv ? 0 : 1} status writes, ${after.events - before.events} events; sync took ${periodic.ms.fetch + periodic.ms.build + periodic.ms.apply} ms (fetch ${periodic.ms.fetch}, build ${periodic.ms.build}, compare ${periodic.ms.apply}); ${periodic.apply?.unchanged} unchanged (waited ${(performance.now() - tp).toFixed(0)} ms for it)`,
  );
  await w.apply('many', { url: many.url, interval: '1h' });
  await new Promise((res) => setTimeout(res, 1000));
  const b2 = ctl.api.writes;
  const e2 = (await w.events('many')).length;
  const synced = await w.syncNow('many');
  console.log(
    `unchanged revision, 'weir sync gitsync' request: ${ctl.api.writes - b2} object writes, 1 status write (lastHandledSyncRequest), ${(await w.events('many')).length - e2} events; Ready ${readyOf(synced.status)?.status}`,
  );
} finally {
  await w.stop();
}
