// How much one Canary's rollout writes (issue 12, docs/performance.md): a cluster of its own with an
// audit log, the controller under its own user, one healthy release of three steps. Counted, not
// timed: at most one status write per analysis tick plus the phase changes around the steps, no
// status write that changes nothing (every status patch is a new resourceVersion), and route and
// scale writes only when the weight or replica count changes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Watch } from '@kubernetes/client-node';
import type { CanaryObject } from '../../src/canary/context.ts';
import { readAudit, WRITE_VERBS, type AuditEvent } from '../cluster/audit.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { projectRoot, startCluster, type LocalCluster } from '../cluster/cluster.ts';
import { waitFor } from '../cluster/proc.ts';

const USER = 'weir-writes';
const NAME = 'lean';

let cluster: LocalCluster;
let w: World;
before(async () => {
  cluster = await startCluster({
    crds: [join(projectRoot, 'crds'), join(projectRoot, '..', 'shared', 'crds', 'gateway-api')],
    auditLog: true,
    users: [USER],
  });
  w = await startWorld('canary-writes', { cluster, kubeconfig: cluster.kubeconfigFor(USER) });
});
after(async () => {
  await w?.stop();
  await cluster?.stop();
});

/** The controller's writes in the world's namespace since `from` (ms), as the audit log has them. */
function writesSince(from: number): AuditEvent[] {
  return readAudit(cluster.auditLogPath!).filter(
    (e) =>
      WRITE_VERBS.has(e.verb) &&
      e.user.username === USER &&
      e.objectRef?.namespace === w.ns &&
      Date.parse(e.requestReceivedTimestamp) >= from,
  );
}

const kindOf = (e: AuditEvent) =>
  `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${e.objectRef?.name}`;

/**
 * Every version of the Canary the watch delivers (phase, weight and message), their resourceVersions,
 * and the analysis ticks they record (status.lastAnalysisTime is set once per tick).
 */
async function watchStatus() {
  const versions: string[] = [];
  const rvs = new Set<string>();
  const ticks = new Set<string>();
  const path = `/apis/weir.dev/v1alpha1/namespaces/${w.ns}/canaries`;
  const abort = await new Watch(w.cluster.kc).watch(
    path,
    { fieldSelector: `metadata.name=${NAME}` },
    (type, c: CanaryObject) => {
      rvs.add(c.metadata.resourceVersion ?? '');
      if (type !== 'MODIFIED') return;
      versions.push(`${c.status?.phase} ${c.status?.canaryWeight ?? 0}: ${c.status?.message}`);
      if (c.status?.lastAnalysisTime) ticks.add(c.status.lastAnalysisTime);
    },
    () => undefined,
  );
  return { versions, ticks, seen: (rv: string) => rvs.has(rv), stop: () => abort.abort() };
}

test('one rollout of three steps: a status write per tick at most, none that changes nothing', async () => {
  await w.deploy(NAME, 'example.com/lean:1.0.0');
  await w.exporters(NAME, { errorRate: 0 });
  await w.apply(gatewayCanary(NAME, { stepWeight: 20, maxWeight: 60 }));
  await w.waitPhase(NAME, 'Initialized', 90_000);
  // Initialisation's last writes (its alert's removal from status) are done before counting starts.
  await waitFor('the Initialized alert delivered', async () => {
    const c = await w.canary(NAME);
    return !c.status?.pendingAlerts?.length;
  });

  const watch = await watchStatus();
  const from = Date.now();
  await w.setImage(NAME, 'example.com/lean:2.0.0');
  const done = await w.waitPhase(NAME, ['Succeeded', 'Failed'], 240_000);
  assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
  // Counted once the promotion's alert has left status and the watch has shown that version.
  const last = await waitFor('the promoted alert delivered', async () => {
    const c = await w.canary(NAME);
    return !c.status?.pendingAlerts?.length && c;
  });
  await waitFor('the watch at the last version', () => watch.seen(last.metadata.resourceVersion!));
  watch.stop();

  const writes = writesSince(from);
  const listing = writes.map(kindOf).join('\n');
  const count = (re: RegExp) => writes.filter((e) => re.test(kindOf(e))).length;
  const status = count(/^patch canaries\/status /);
  // One write per analysis tick (three steps and the promotion: four, unless a tick held the
  // weight) and one per transition between ticks: the run starting, Finalising and Succeeded. The
  // promotion records lastPromotedSpec in its own tick's write (the primary's template is patched
  // before it), so the primary rolling out costs no write of its own. Each of the two alerts (new
  // revision, promoted) leaves status in a small write of its own once delivered (docs/alerts.md).
  const ticks = watch.ticks.size;
  assert.ok(ticks >= 4, `${ticks} analysis ticks recorded`);
  const alerts = 2;
  assert.ok(
    status <= ticks + 3 + alerts,
    `${status} status writes in a rollout of ${ticks} ticks (at most ${ticks + 3 + alerts}):\n${listing}`,
  );
  assert.equal(
    status,
    watch.versions.length,
    `every status write changes the Canary (a write that changes nothing keeps its resourceVersion):\n` +
      `${listing}\nversions seen:\n${watch.versions.join('\n')}`,
  );
  // The weight goes 20, 40, 60 and back to 0: four route writes.
  assert.ok(count(/ httproutes /) <= 4, `route writes:\n${listing}`);
  // The canary scaled up and down, the primary promoted: three Deployment writes.
  assert.ok(count(/ deployments /) <= 3, `Deployment writes:\n${listing}`);
});
