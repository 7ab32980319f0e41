// Sharding on the real local control plane (docs/sharding.md): three `weir controller` processes —
// shard a, shard b and the shard-less one — each with leader election and its own user, so the API
// server's audit log names who wrote what. Canaries labelled weir.dev/shard=a, =b and unlabelled
// roll out side by side; every write any controller makes for a Canary (its status, its primary,
// Services, route, Events) must come from that Canary's shard alone. Then one Canary moves from a to
// b: b runs its next release and a writes nothing more for it. GitSyncs are sharded the same way.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoordinationV1Api } from '@kubernetes/client-node';
import type { GitSyncStatus } from '../../src/api/gitsync.ts';
import { SHARD_LABEL } from '../../src/api/shard.ts';
import { readAudit, WRITE_VERBS, type AuditEvent } from '../cluster/audit.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { projectRoot, startCluster, type LocalCluster } from '../cluster/cluster.ts';
import { commitFiles, startGitServer, type GitServer } from '../cluster/git-server.ts';
import { githubSignature, readyOf } from '../cluster/gitsync-kit.ts';
import { startReplica } from '../cluster/leader-replica.ts';
import { waitFor, type Managed } from '../cluster/proc.ts';

/** The controllers: shard name ('' for the shard-less one) -> the user it writes as. */
const CONTROLLERS = { '': 'weir-shard-none', a: 'weir-shard-a', b: 'weir-shard-b' } as const;
type Shard = keyof typeof CONTROLLERS;
const USERS = new Set<string>(Object.values(CONTROLLERS));
/** Canary name -> its shard at the start (names share no prefix, so a write's object names its Canary). */
const CANARIES: Record<string, Shard> = { alpha: 'a', bravo: 'b', plain: '' };

const HOOK_TOKEN = 'sharding-hook-token';

let cluster: LocalCluster;
let w: World;
let git: GitServer;
const procs: Managed[] = [];

before(async () => {
  // A cluster of its own: the audit log and one identity per controller.
  cluster = await startCluster({
    crds: [join(projectRoot, 'crds'), join(projectRoot, '..', 'shared', 'crds', 'gateway-api')],
    auditLog: true,
    users: [...USERS],
  });
  w = await startWorld('sharding', { controller: 'child', cluster, deferController: true });
  git = await startGitServer({ logDir: join(w.logFile, '..') });
  for (const [shard, user] of Object.entries(CONTROLLERS)) {
    procs.push(
      startReplica({
        id: user,
        kubeconfig: cluster.kubeconfigFor(user),
        ns: w.ns,
        logDir: join(w.logFile, '..'),
        env: {
          WEIR_SHARD: shard,
          WEIR_PROMETHEUS_ADDRESS: w.prom.url,
          WEIR_SLACK_URL: w.slack.url,
          WEIR_LOG_LEVEL: 'debug',
          WEIR_WORKERS: '2',
        },
      }),
    );
  }
});
after(async () => {
  for (const p of procs) await p.stop();
  await w?.stop();
  await git?.stop();
  await cluster?.stop();
});

/** Every write a controller made in the world's namespace, as the audit log has it. */
function controllerWrites(): AuditEvent[] {
  return readAudit(cluster.auditLogPath!).filter(
    (e) =>
      e.stage === 'ResponseComplete' &&
      WRITE_VERBS.has(e.verb) &&
      USERS.has(e.user.username) &&
      e.objectRef?.namespace === w.ns,
  );
}

/** The Canary a write is for: its object is the Canary, one of its objects, or one of its Events. */
const canaryOf = (e: AuditEvent): string | undefined =>
  Object.keys(CANARIES).find(
    (c) =>
      e.objectRef?.name === c ||
      e.objectRef?.name?.startsWith(`${c}-`) ||
      e.objectRef?.name?.startsWith(`${c}.`),
  );

/** Users that wrote for each Canary (status writes apart), among `events`. */
function writersByCanary(events: AuditEvent[]): Record<string, { status: Set<string>; other: Set<string> }> {
  const out: Record<string, { status: Set<string>; other: Set<string> }> = {};
  for (const e of events) {
    const c = canaryOf(e);
    if (!c) continue;
    const at = (out[c] ??= { status: new Set(), other: new Set() });
    const isStatus = e.objectRef?.resource === 'canaries' && e.objectRef.subresource === 'status';
    (isStatus ? at.status : at.other).add(e.user.username);
  }
  return out;
}

const controller = (user: string): Managed => procs.find((p) => p.name === `controller-${user}`)!;

/** The port of a controller's HTTP server (/metrics, and the GitSync receivers), from its start line. */
function portOf(user: string): string | undefined {
  const started = /"port":(\d+).*"weir controller started"|"weir controller started".*"port":(\d+)/.exec(
    readFileSync(controller(user).logFile, 'utf8'),
  );
  return started?.[1] ?? started?.[2];
}

/** Whether a controller's /metrics report the Canary (weir_canary_status): it reconciled it and has not forgotten it. */
async function reports(user: string, canary: string): Promise<boolean> {
  const port = portOf(user);
  if (!port) return false;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return new RegExp(`^weir_canary_status\\{[^}]*name="${canary}"[^}]*namespace="${w.ns}"`, 'm').test(text);
}

/** A new image, a run (seen in one of its phases; each lasts at least the 10 s interval), its promotion. */
async function release(name: string, version: string): Promise<void> {
  await w.setImage(name, `example.com/${name}:${version}`);
  await w.waitPhase(name, ['Progressing', 'WaitingPromotion', 'Promoting', 'Finalising'], 60_000);
  await w.waitPhase(name, 'Succeeded', 120_000);
}

describe('sharding: two shards and the shard-less controller', () => {
  test('each shard leads on a Lease of its own', async () => {
    const leases = cluster.kc.makeApiClient(CoordinationV1Api);
    for (const [shard, user] of Object.entries(CONTROLLERS)) {
      const name = shard ? `weir-controller-${shard}` : 'weir-controller';
      await waitFor(
        `${user} to hold Lease ${name}`,
        async () =>
          (await leases.readNamespacedLease({ name, namespace: w.ns }).catch(() => undefined))?.spec
            ?.holderIdentity === user,
        60_000,
        250,
      );
    }
  });

  test('every Canary is initialised and rolled out by its own shard only', async () => {
    await Promise.all(
      Object.entries(CANARIES).map(async ([name, shard]) => {
        await w.deploy(name, `example.com/${name}:1.0.0`);
        const canary = gatewayCanary(name, {
          interval: '10s',
          stepWeight: 50,
          maxWeight: 50,
          metrics: undefined,
        });
        const meta = canary.metadata as Record<string, unknown>;
        if (shard) meta.labels = { [SHARD_LABEL]: shard };
        await w.apply(canary);
        await w.waitPhase(name, 'Initialized', 60_000);
      }),
    );
    await Promise.all(Object.keys(CANARIES).map((name) => release(name, '2.0.0')));

    const writers = writersByCanary(controllerWrites());
    for (const [name, shard] of Object.entries(CANARIES)) {
      const owner = CONTROLLERS[shard];
      assert.deepEqual(
        [...(writers[name]?.status ?? [])],
        [owner],
        `${name}: status written by ${owner} only`,
      );
      assert.deepEqual(
        [...(writers[name]?.other ?? [])],
        [owner],
        `${name}: its objects written by ${owner} only`,
      );
    }
    // Deployment and Service events of the other shards' Canaries reached every controller: not one
    // line of its log (at any level, debug included) is about a Canary it does not own.
    for (const [shard, user] of Object.entries(CONTROLLERS)) {
      const log = readFileSync(controller(user).logFile, 'utf8');
      for (const [name, owner] of Object.entries(CANARIES))
        if (owner !== shard)
          assert.ok(!log.includes(`"canary":"${w.ns}/${name}"`), `${user} logged about ${name}`);
    }
  });

  test('relabelled from a to b: b runs the next release, a writes nothing more for it', async () => {
    assert.ok(await reports(CONTROLLERS.a, 'alpha'), 'shard a holds alpha before the move');
    assert.ok(!(await reports(CONTROLLERS.b, 'alpha')), 'shard b does not');
    const before = Date.now();
    await w.kube.mergePatch(
      { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: w.ns, name: 'alpha' },
      { metadata: { labels: { [SHARD_LABEL]: 'b' } } },
    );
    // Shard a's watch reports the Canary gone, and it forgets it; b's reports it added, and b
    // reconciles it (its /metrics show what each one holds).
    await waitFor(
      'shard b to hold alpha and shard a to forget it',
      async () => !(await reports(CONTROLLERS.a, 'alpha')) && (await reports(CONTROLLERS.b, 'alpha')),
      30_000,
      250,
    );
    await release('alpha', '3.0.0');

    const since = controllerWrites().filter((e) => Date.parse(e.requestReceivedTimestamp) >= before);
    const writers = writersByCanary(since);
    assert.deepEqual(
      [...(writers.alpha?.status ?? [])],
      [CONTROLLERS.b],
      'alpha: status written by shard b only',
    );
    assert.deepEqual(
      [...(writers.alpha?.other ?? [])],
      [CONTROLLERS.b],
      'alpha: its objects written by shard b only',
    );
    const canary = await w.canary('alpha');
    assert.equal(canary.status?.lastPromotedSpec, canary.status?.lastAppliedSpec, 'promoted');
    assert.equal(await w.image('alpha-primary'), 'example.com/alpha:3.0.0');
  });

  test('a GitSync is synced, and its push webhook accepted, by its own shard only', async () => {
    const gitSyncs: Record<string, Shard> = { 'gs-bravo': 'b', 'gs-plain': '' };
    await w.kube.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'hook', namespace: w.ns },
        stringData: { token: HOOK_TOKEN },
      } as never,
      'weir-test',
    );
    await Promise.all(
      Object.entries(gitSyncs).map(async ([name, shard]) => {
        const repo = await git.createRepo(name);
        const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}-cm\ndata:\n  k: v\n`;
        const sha = await commitFiles(repo.url, { 'app/cm.yaml': cm }, 'a ConfigMap');
        await w.kube.apply(
          {
            apiVersion: 'weir.dev/v1alpha1',
            kind: 'GitSync',
            metadata: { name, namespace: w.ns, ...(shard ? { labels: { [SHARD_LABEL]: shard } } : {}) },
            spec: { url: repo.url, path: 'app', interval: '1h', webhookSecretRef: { name: 'hook' } },
          },
          'weir-test',
        );
        await waitFor(
          `GitSync ${name} to apply ${sha}`,
          async () => {
            const g = await w.kube.get<{ status?: GitSyncStatus } & Record<string, never>>({
              apiVersion: 'weir.dev/v1alpha1',
              kind: 'GitSync',
              namespace: w.ns,
              name,
            });
            return g?.status?.lastAppliedRevision?.endsWith(sha) && readyOf(g.status)?.status === 'True';
          },
          60_000,
          250,
        );
      }),
    );
    const writes = controllerWrites();
    for (const [name, shard] of Object.entries(gitSyncs)) {
      const owner = CONTROLLERS[shard];
      const writers = (pick: (e: AuditEvent) => boolean) => [
        ...new Set(writes.filter(pick).map((e) => e.user.username)),
      ];
      assert.deepEqual(
        writers((e) => e.objectRef?.resource === 'gitsyncs' && e.objectRef.name === name),
        [owner],
        `${name}: status written by ${owner} only`,
      );
      assert.deepEqual(
        writers((e) => e.objectRef?.resource === 'configmaps' && e.objectRef.name === `${name}-cm`),
        [owner],
        `${name}: its ConfigMap applied by ${owner} only`,
      );
    }
    // A push webhook is accepted by the owner's receiver only: the others do not know the GitSync.
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    for (const [name, shard] of Object.entries(gitSyncs))
      for (const [other, user] of Object.entries(CONTROLLERS)) {
        const res = await fetch(`http://127.0.0.1:${portOf(user)}/hooks/gitsync/${w.ns}/${name}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hub-signature-256': githubSignature(body, HOOK_TOKEN),
          },
          body,
        });
        assert.equal(res.status, other === shard ? 202 : 401, `${name} posted to ${user}`);
      }
  });
});
