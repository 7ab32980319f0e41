// GitSync's pure parts: receiver signatures (and the route's 401/202 through fastify's inject), status
// conditions across success, retryable and stalled failures, drift projection, label values and the
// prune candidates.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import Fastify from 'fastify';
import { labelValue, project, rankOf } from '../../src/gitsync/apply.ts';
import { leftGit } from '../../src/gitsync/prune.ts';
import { registerReceiver, verifySignature } from '../../src/gitsync/receiver.ts';
import { nextStatus, sameStatus } from '../../src/gitsync/status.ts';
import { silentLogger } from '../../src/log.ts';

const body = Buffer.from('{"ref":"refs/heads/main"}');
const hex = (token: string, b = body) => createHmac('sha256', token).update(b).digest('hex');

test('signatures of GitHub, Gitea, GitLab and the generic form are checked against the token', () => {
  const ok = [
    { 'x-hub-signature-256': `sha256=${hex('t')}` },
    { 'x-gitea-signature': hex('t') },
    { 'x-gogs-signature': hex('t') },
    { 'x-gitlab-token': 't' },
    { 'x-signature': `sha256=${hex('t')}` },
  ];
  for (const h of ok) assert.equal(verifySignature(h, body, 't')?.valid, true, JSON.stringify(h));
  const bad = [
    { 'x-hub-signature-256': `sha256=${hex('u')}` },
    { 'x-hub-signature-256': hex('t') }, // missing the sha256= prefix
    { 'x-gitea-signature': hex('t', Buffer.from('other')) },
    { 'x-gitlab-token': 'T' },
    { 'x-signature': `sha1=${hex('t')}` },
  ];
  for (const h of bad) assert.equal(verifySignature(h, body, 't')?.valid, false, JSON.stringify(h));
  assert.equal(verifySignature({}, body, 't'), undefined);
});

test('the receiver route: 202 and a trigger when signed, 401 and nothing otherwise', async () => {
  const triggered: string[] = [];
  const app = Fastify();
  registerReceiver(app, {
    log: silentLogger(),
    webhookSecretName: (ns, name) => (ns === 'team' && name === 'apps' ? 'hook' : undefined),
    secretToken: async (_ns, s) => (s === 'hook' ? 'tok' : undefined),
    trigger: async (ns, name) => void triggered.push(`${ns}/${name}`),
  });
  const send = (url: string, headers: Record<string, string>, payload: string | Buffer = body) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload });
  assert.equal(
    (await send('/hooks/gitsync/team/apps', { 'x-hub-signature-256': `sha256=${hex('tok')}` })).statusCode,
    202,
  );
  // The HMAC is over the exact bytes, whatever the content type says.
  const odd = Buffer.from('not json at all');
  assert.equal(
    (
      await send(
        '/hooks/gitsync/team/apps',
        { 'x-signature': `sha256=${hex('tok', odd)}`, 'content-type': 'text/plain' },
        odd,
      )
    ).statusCode,
    202,
  );
  assert.equal(
    (await send('/hooks/gitsync/team/apps', { 'x-hub-signature-256': `sha256=${hex('nope')}` })).statusCode,
    401,
  );
  assert.equal((await send('/hooks/gitsync/team/apps', {})).statusCode, 401);
  assert.equal((await send('/hooks/gitsync/team/other', { 'x-gitlab-token': 'tok' })).statusCode, 401);
  assert.deepEqual(triggered, ['team/apps', 'team/apps']);
  await app.close();
});

const inv = (name: string, kind = 'ConfigMap') => ({ apiVersion: 'v1', kind, namespace: 'team', name });

test('status: success, then a retryable failure, then a stalled one; transition times kept', () => {
  const t1 = new Date('2026-01-01T00:00:00Z');
  const ok = nextStatus({
    previous: {},
    generation: 3,
    syncRequest: 'r1',
    outcome: { ok: true, revision: 'abc', refName: 'main', inventory: [inv('b'), inv('a')], changed: true },
    canaries: [],
    now: t1,
  });
  assert.equal(ok.lastAppliedRevision, 'abc');
  assert.equal(ok.lastHandledSyncRequest, 'r1');
  assert.equal(ok.observedGeneration, 3);
  assert.deepEqual(
    ok.inventory?.map((e) => e.name),
    ['a', 'b'],
  );
  const cond = (s: typeof ok, t: string) => s.conditions?.find((c) => c.type === t);
  assert.equal(cond(ok, 'Ready')?.status, 'True');
  assert.equal(cond(ok, 'Ready')?.message, 'Applied revision main@abc');

  const t2 = new Date('2026-01-01T00:01:00Z');
  const again = nextStatus({
    previous: ok,
    generation: 3,
    outcome: { ok: true, revision: 'abc', refName: 'main', inventory: [inv('a'), inv('b')], changed: false },
    canaries: [],
    now: t2,
  });
  assert.ok(sameStatus(again, ok), 'an unchanged sync writes no new status');

  const retry = nextStatus({
    previous: ok,
    generation: 3,
    outcome: { ok: false, reason: 'FetchFailed', message: 'down', stalled: false },
    canaries: [],
    now: t2,
  });
  assert.equal(cond(retry, 'Ready')?.status, 'False');
  assert.equal(cond(retry, 'Ready')?.lastTransitionTime, t2.toISOString());
  assert.equal(cond(retry, 'Reconciling')?.status, 'True');
  assert.equal(cond(retry, 'Stalled')?.status, 'False');
  assert.equal(retry.lastAppliedRevision, 'abc', 'the last good revision stays');

  const t3 = new Date('2026-01-01T00:02:00Z');
  const stalled = nextStatus({
    previous: retry,
    generation: 3,
    outcome: { ok: false, reason: 'BuildFailed', message: 'a.yaml:1: bad', stalled: true, revision: 'def' },
    canaries: [],
    now: t3,
  });
  assert.equal(cond(stalled, 'Stalled')?.status, 'True');
  assert.equal(cond(stalled, 'Reconciling')?.status, 'False');
  assert.equal(cond(stalled, 'Ready')?.lastTransitionTime, t2.toISOString(), 'still False since t2');
  assert.equal(stalled.lastAttemptedRevision, 'def');
  assert.equal(stalled.lastAppliedRevision, 'abc');
});

test('project() reads the live values at the paths GitSync sets, so server defaults do not count as drift', () => {
  const desired = { spec: { ports: [{ port: 80 }], replicas: 2 } };
  const live = {
    spec: { ports: [{ port: 80, protocol: 'TCP' }], replicas: 2, clusterIP: '10.0.0.1' },
    status: {},
  };
  assert.deepEqual(project(desired, live), { spec: { ports: [{ port: 80 }], replicas: 2 } });
  assert.deepEqual(project({ a: { b: 1 } }, { a: 'x' }), { a: 'x' });
  assert.deepEqual(project({ l: [1, 2] }, { l: [1] }), { l: [1] }, 'a list of another length is taken whole');
});

test('label values stay within 63 characters; prune candidates ignore the API version', () => {
  assert.equal(labelValue('apps'), 'apps');
  const long = labelValue('a'.repeat(100));
  assert.equal(long.length, 63);
  assert.notEqual(long, labelValue(`${'a'.repeat(99)}b`));
  const prev = [
    inv('a'),
    { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', namespace: 'team', name: 'h' },
  ];
  const now = [
    inv('b'),
    { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespace: 'team', name: 'h' },
  ];
  assert.deepEqual(leftGit(prev, now), [inv('a')]);
  assert.ok(rankOf('Namespace') < rankOf('Deployment') && rankOf('Deployment') < rankOf('Canary'));
});
