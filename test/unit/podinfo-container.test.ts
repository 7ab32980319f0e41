// The pod runner's reading of a pod template (test/cluster/podinfo-container.ts): which containers are
// podinfo, the flags and env the real binary gets, the tag it reports, the ports it serves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { expandRefs, flagValue, parseImage, podinfoPlan } from '../cluster/podinfo-container.ts';

const pod = (...containers: V1Container[]): V1Pod => ({
  metadata: { name: 'app-7d9-x2', namespace: 'team', uid: 'u1' },
  spec: { nodeName: 'kwok-node-0', containers },
  status: { podIP: '10.244.0.7', phase: 'Running' },
});

test('image names: repository, tag, default tag, digest, registry port', () => {
  const table: Array<[string, string, string]> = [
    ['ghcr.io/stefanprodan/podinfo:6.0.1', 'ghcr.io/stefanprodan/podinfo', '6.0.1'],
    ['stefanprodan/podinfo', 'stefanprodan/podinfo', 'latest'],
    ['ghcr.io/stefanprodan/podinfo@sha256:abc', 'ghcr.io/stefanprodan/podinfo', 'sha256:abc'],
    ['ghcr.io/stefanprodan/podinfo:6.1@sha256:abc', 'ghcr.io/stefanprodan/podinfo', '6.1'],
    ['localhost:5000/podinfo:1', 'localhost:5000/podinfo', '1'],
  ];
  for (const [image, repository, tag] of table)
    assert.deepEqual(parseImage(image), { repository, tag }, image);
});

test('only podinfo images running podinfo are played', () => {
  assert.equal(podinfoPlan(pod({ name: 'n', image: 'nginx:1.27' })), undefined);
  assert.equal(podinfoPlan(pod({ name: 'n', image: 'ghcr.io/other/podinfo:1' })), undefined);
  // A podinfo image told to run something else (a shell) is not podinfo.
  assert.equal(
    podinfoPlan(
      pod({ name: 'p', image: 'ghcr.io/stefanprodan/podinfo:6', command: ['sh', '-c', 'sleep 1'] }),
    ),
    undefined,
  );
  const side = podinfoPlan(
    pod({ name: 'proxy', image: 'envoy:1' }, { name: 'app', image: 'stefanprodan/podinfo:6.0.0' }),
  );
  assert.equal(side?.container, 'app');
});

test("the container's command and args become podinfo's flags; the tag is the default message", () => {
  const plan = podinfoPlan(
    pod({
      name: 'podinfod',
      image: 'ghcr.io/stefanprodan/podinfo:6.0.1',
      command: ['./podinfo', '--port=9898', '--port-metrics', '9797'],
      args: ['--random-error', '--random-delay=false'],
      env: [{ name: 'PODINFO_UI_COLOR', value: '#fff' }],
    }),
  )!;
  assert.deepEqual(plan.args, [
    '--port=9898',
    '--port-metrics',
    '9797',
    '--random-error',
    '--random-delay=false',
  ]);
  assert.equal(plan.tag, '6.0.1');
  assert.deepEqual(plan.env, { PODINFO_UI_COLOR: '#fff', PODINFO_UI_MESSAGE: '6.0.1' });
  assert.equal(plan.httpPort, 9898);
  assert.equal(plan.metricsPort, 9797);
});

test("the pod's own message wins; ports default as podinfo's do; env refs expand like the kubelet's", () => {
  const own = podinfoPlan(
    pod({
      name: 'c',
      image: 'stefanprodan/podinfo:6',
      args: ['--ui-message=hello'],
    }),
  )!;
  assert.equal(own.env.PODINFO_UI_MESSAGE, undefined);
  assert.equal(own.httpPort, 9898);
  assert.equal(own.metricsPort, undefined);

  const refs = podinfoPlan(
    pod({
      name: 'c',
      image: 'stefanprodan/podinfo:6',
      args: ['--port=$(PORT)', '--level=$(UNSET)', '--ui-logo=$$(PORT)'],
      env: [
        { name: 'PORT', value: '8080' },
        { name: 'PODINFO_UI_MESSAGE', value: 'v$(PORT)' },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
      ],
    }),
  )!;
  assert.deepEqual(refs.args, ['--port=8080', '--level=$(UNSET)', '--ui-logo=$(PORT)']);
  assert.equal(refs.httpPort, 8080);
  assert.deepEqual(refs.env, {
    PORT: '8080',
    PODINFO_UI_MESSAGE: 'v8080',
    POD: 'app-7d9-x2',
    IP: '10.244.0.7',
  });
  assert.match(refs.notes.join(), /SECRET/);
});

test('flag values: --a=b and --a b, the last one wins', () => {
  assert.equal(flagValue(['--port=1', '--port', '2'], 'port'), '2');
  assert.equal(flagValue(['--port-metrics=9'], 'port'), undefined);
  assert.equal(flagValue(['--port'], 'port'), undefined);
  assert.equal(expandRefs('$(A)-$(B)', { A: 'x' }), 'x-$(B)');
});
