// Which watch events requeue which Canary (issue 12). The echo of the controller's own write
// requeues nothing: a watch event whose object is exactly what our write stored (its
// resourceVersion) tells the reconcile that wrote it nothing new; any other change of the same
// object, and any delete, still requeues the Canary. A ConfigMap, Secret or HPA requeues the
// Canaries that use it, not every Canary of its namespace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CanaryController } from '../../src/canary/controller.ts';
import type { Caches } from '../../src/canary/context.ts';
import { WriteLog } from '../../src/canary/drift.ts';
import { RefIndex, refOf } from '../../src/canary/ref-index.ts';
import { parseConfig } from '../../src/config.ts';
import type { Kube, Obj } from '../../src/kube/client.ts';
import type { EventRecorder } from '../../src/kube/events.ts';
import { silentLogger } from '../../src/log.ts';
import { Metrics } from '../../src/server/metrics.ts';

const route = (rv: string): Obj => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'r', namespace: 'n', resourceVersion: rv, labels: { 'weir.dev/canary': 'app' } },
});

test('the write log knows the echo of its last write of an object, and nothing else', async () => {
  const log = new WriteLog();
  const kube = log.wrap({
    apply: async (o: Obj) => ({ ...o, metadata: { ...o.metadata, resourceVersion: '12' } }),
  } as unknown as Kube);
  await kube.apply(route('9'));
  assert.equal(log.isEcho('HTTPRoute', route('12')), true);
  assert.equal(log.isEcho('HTTPRoute', route('13')), false, 'a later change by someone else');
  assert.equal(log.isEcho('HTTPRoute', route('11')), false);
  assert.equal(log.isEcho('Service', route('12')), false, 'another kind of the same name');
  assert.equal(
    log.isEcho('HTTPRoute', { ...route('12'), metadata: { ...route('12').metadata, name: 'x' } }),
    false,
  );
});

/** Informer caches that hand their handlers to the test. */
function fakeCaches() {
  const handlers = new Map<string, Array<(o: Obj, kind: 'add' | 'update' | 'delete') => void>>();
  const objects = new Map<string, Obj>();
  const cache = (key: string) => ({
    on: (h: (o: Obj, kind: 'add' | 'update' | 'delete') => void) =>
      handlers.set(key, [...(handlers.get(key) ?? []), h]),
    get: (ns: string, name: string) => objects.get(`${key}/${ns}/${name}`),
    list: () => [...objects.entries()].filter(([k]) => k.startsWith(`${key}/`)).map(([, o]) => o),
  });
  const caches = new Proxy({} as Record<string, unknown>, { get: (_, key: string) => cache(key) });
  const fire = (key: string, o: Obj, kind: 'add' | 'update' | 'delete' = 'update') => {
    objects.set(`${key}/${o.metadata?.namespace}/${o.metadata?.name}`, o);
    for (const h of handlers.get(key) ?? []) h(o, kind);
  };
  return { caches: caches as unknown as Caches, fire };
}

/** A controller watching fake caches; `requeued` lists the keys its watch handlers requeue. */
function watching() {
  const { caches, fire } = fakeCaches();
  const c = new CanaryController({
    kube: {} as Kube,
    caches,
    config: parseConfig({}, {}),
    metrics: new Metrics('test', false),
    recorder: {} as EventRecorder,
    log: silentLogger(),
  });
  const requeued: string[] = [];
  c.queue.addAfter = (key: string) => void requeued.push(key);
  c.watch();
  return { c, fire, requeued };
}

/** Canary n/app at resourceVersion `rv`. */
const appCanary = (rv: string): Obj => ({
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'Canary',
  metadata: { name: 'app', namespace: 'n', resourceVersion: rv, uid: 'u1' },
  spec: { targetRef: { kind: 'Deployment', name: 'app' } },
});

test("the controller's watch: our writes' echoes requeue nothing, other changes do", async () => {
  const { c, fire, requeued } = watching();
  fire('canary', appCanary('1'), 'add');
  assert.deepEqual(requeued.splice(0), ['n/app']);

  // A reconcile's status write returned resourceVersion 5 (with the object); the removal of the
  // alert it recorded, sent right after, returned 6 before either echo arrived.
  const notes = c as unknown as {
    noteOwnWrite(obj: Obj, written: Obj): void;
    noteDirectWrite(key: string, written: Obj): void;
  };
  notes.noteOwnWrite(appCanary('1'), appCanary('5'));
  notes.noteDirectWrite('n/app', appCanary('6'));
  fire('canary', appCanary('5'));
  assert.deepEqual(requeued.splice(0), [], 'the echo of our status write');
  fire('canary', appCanary('6'));
  assert.deepEqual(requeued.splice(0), [], 'the echo of the alert removal');
  fire('canary', appCanary('7'));
  assert.deepEqual(requeued.splice(0), ['n/app'], 'a later change (a user, GitSync)');
  fire('canary', appCanary('5'), 'delete');
  assert.deepEqual(requeued.splice(0), ['n/app'], 'a delete is never an echo');
  fire('canary', appCanary('8'), 'add');
  requeued.splice(0);

  // The controller's writes of the target Deployment and the route (through its WriteLog).
  const writes = (c as unknown as { writes: WriteLog }).writes;
  const kube = writes.wrap({
    mergePatch: async (ref: { name: string; namespace: string }) => ({
      kind: 'Deployment',
      metadata: { name: ref.name, namespace: ref.namespace, resourceVersion: '40' },
    }),
    apply: async (o: Obj) => ({ ...o, metadata: { ...o.metadata, resourceVersion: '41' } }),
  } as unknown as Kube);
  await kube.mergePatch({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'n', name: 'app' }, {});
  await kube.apply(route('30'));
  const deployment = (rv: string): Obj => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app', namespace: 'n', resourceVersion: rv },
  });
  fire('deployment', deployment('40'));
  fire('httproutes.gateway.networking.k8s.io', route('41'));
  assert.deepEqual(requeued.splice(0), [], 'echoes of our Deployment patch and route apply');
  fire('deployment', deployment('42'));
  assert.deepEqual(requeued.splice(0), ['n/app'], "the kube-controller-manager's status update");
  fire('httproutes.gateway.networking.k8s.io', route('43'));
  assert.deepEqual(requeued.splice(0), ['n/app'], 'an edit of the route (drift)');
});

test('an echo that arrives before the answer of its write waits for it, and requeues nothing', async () => {
  const { c, fire, requeued } = watching();
  fire('canary', appCanary('1'), 'add');
  requeued.splice(0);

  // A status write whose watch event comes first: held while the write is in flight.
  const status = c as unknown as {
    writingStatus(key: string, write: () => Promise<void>): Promise<void>;
    noteOwnWrite(obj: Obj, written: Obj): void;
  };
  /** A status write that waits for `answer()`, then notes that the server returned `written`. */
  const statusWrite = (before: string, written: string) => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const done = status.writingStatus('n/app', async () => {
      await answered;
      status.noteOwnWrite(appCanary(before), appCanary(written));
    });
    return { answer, done };
  };
  const first = statusWrite('1', '5');
  fire('canary', appCanary('5'));
  assert.deepEqual(requeued.splice(0), [], 'held while the write is in flight');
  first.answer();
  await first.done;
  assert.deepEqual(requeued.splice(0), [], 'it was the echo of that write');

  // Someone else's change during our next write still requeues, once the write is answered.
  const second = statusWrite('5', '8');
  fire('canary', appCanary('7'));
  assert.deepEqual(requeued.splice(0), []);
  second.answer();
  await second.done;
  assert.deepEqual(requeued.splice(0), ['n/app'], 'not our echo: requeued after the answer');

  // The same for a route written through the WriteLog.
  const writes = (c as unknown as { writes: WriteLog }).writes;
  let answer3!: () => void;
  const answered3 = new Promise<void>((resolve) => (answer3 = resolve));
  const kube = writes.wrap({
    apply: async (o: Obj) => {
      await answered3;
      return { ...o, metadata: { ...o.metadata, resourceVersion: '51' } };
    },
  } as unknown as Kube);
  const applying = kube.apply(route('50'));
  fire('httproutes.gateway.networking.k8s.io', route('51'));
  assert.deepEqual(requeued.splice(0), [], 'the route echo, held');
  answer3();
  await applying;
  assert.deepEqual(requeued.splice(0), [], 'the route echo requeues nothing');
  fire('httproutes.gateway.networking.k8s.io', route('52'));
  assert.deepEqual(requeued.splice(0), ['n/app'], 'an edit after it does');
});

test('ConfigMaps, Secrets and HPAs requeue the Canaries that use them, not the whole namespace', () => {
  const { c, fire, requeued } = watching();
  const canary = (name: string, spec: object): Obj => ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name, namespace: 'n', resourceVersion: '1', uid: name },
    spec,
  });
  fire('canary', canary('web', { targetRef: { name: 'web' }, autoscalerRef: { name: 'web' } }), 'add');
  fire('canary', canary('api', { targetRef: { name: 'api' } }), 'add');
  requeued.splice(0);
  // What the last reconcile of web read (buildContext tells the controller, see context.ts).
  const contents = (c as unknown as { contents: RefIndex }).contents;
  contents.file('n/web', [refOf('configMap', 'n', 'web-settings'), refOf('secret', 'n', 'web-token')]);
  const obj = (name: string): Obj => ({ metadata: { name, namespace: 'n', resourceVersion: '9' } });

  fire('configMap', obj('leader-election'));
  fire('secret', obj('unrelated'));
  assert.deepEqual(requeued.splice(0), [], 'objects no Canary uses');
  fire('configMap', obj('web-settings'));
  fire('secret', obj('web-token'));
  assert.deepEqual(requeued.splice(0), ['n/web', 'n/web']);
  fire('hpa', obj('web'));
  fire('hpa', obj('web-primary'));
  assert.deepEqual(requeued.splice(0), ['n/web', 'n/web'], 'the HPA and its primary copy');
  fire('hpa', obj('api'));
  assert.deepEqual(requeued.splice(0), [], 'an HPA named like a workload that no Canary refers to');
  fire('canary', canary('web', {}), 'delete');
  requeued.splice(0);
  fire('configMap', obj('web-settings'));
  assert.deepEqual(requeued.splice(0), [], 'a deleted Canary leaves the index');
});
