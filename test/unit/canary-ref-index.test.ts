// Which Canaries an object's watch event requeues (src/canary/ref-index.ts): those whose spec names
// the workload or HPA, and those whose last reconcile read the ConfigMap or Secret.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefIndex, refOf, specRefs } from '../../src/canary/ref-index.ts';

const of = (i: RefIndex, kind: string, ns: string, name: string) => [...i.of(refOf(kind, ns, name))].sort();
const spec = (target?: string, hpa?: string) => ({
  ...(target ? { targetRef: { name: target } } : {}),
  ...(hpa ? { autoscalerRef: { name: hpa } } : {}),
});

test('a workload or HPA concerns the Canaries naming it, or the one it is the primary copy of', () => {
  const i = new RefIndex();
  i.file('a/web', specRefs('a', spec('web', 'web-hpa')));
  i.file('a/web-2', specRefs('a', spec('web')));
  i.file('a/api', specRefs('a', spec('api')));
  assert.deepEqual(of(i, 'workload', 'a', 'web'), ['a/web', 'a/web-2']);
  assert.deepEqual(of(i, 'workload', 'a', 'web-primary'), ['a/web', 'a/web-2']);
  assert.deepEqual(of(i, 'workload', 'a', 'api-primary'), ['a/api']);
  assert.deepEqual(of(i, 'hpa', 'a', 'web-hpa'), ['a/web']);
  assert.deepEqual(of(i, 'hpa', 'a', 'web-hpa-primary'), ['a/web']);
  assert.deepEqual(of(i, 'hpa', 'a', 'web'), [], 'an HPA named like a workload is another object');
  assert.deepEqual(of(i, 'workload', 'a', 'other'), []);
  assert.deepEqual(of(i, 'workload', 'b', 'web'), [], 'another namespace');
});

test('filing again replaces what a Canary was filed under; a deleted Canary leaves the index', () => {
  const i = new RefIndex();
  i.file('a/web', specRefs('a', spec('web')));
  i.file('a/web', specRefs('a', spec('web-v2')));
  assert.deepEqual(of(i, 'workload', 'a', 'web'), []);
  assert.deepEqual(of(i, 'workload', 'a', 'web-v2-primary'), ['a/web']);
  i.delete('a/web');
  assert.deepEqual(of(i, 'workload', 'a', 'web-v2'), []);
  i.file('a/x', specRefs('a', spec()));
  assert.deepEqual(specRefs('a', spec()), [], 'a Canary without a target is filed nowhere');
});

test('a ConfigMap or Secret concerns the Canaries whose reconcile read it, in any namespace', () => {
  const i = new RefIndex();
  i.file('a/web', [
    refOf('configMap', 'a', 'settings'),
    refOf('configMap', 'a', 'settings-primary'),
    refOf('secret', 'ops', 'prom-token'),
  ]);
  i.file('b/api', [refOf('secret', 'ops', 'prom-token')]);
  assert.deepEqual(of(i, 'configMap', 'a', 'settings'), ['a/web']);
  assert.deepEqual(of(i, 'configMap', 'a', 'leader-election'), [], 'a ConfigMap no Canary reads');
  assert.deepEqual(of(i, 'secret', 'ops', 'prom-token'), ['a/web', 'b/api']);
  assert.deepEqual(of(i, 'configMap', 'ops', 'prom-token'), [], 'a Secret is not a ConfigMap');
  i.file('a/web', []);
  assert.deepEqual(of(i, 'configMap', 'a', 'settings'), [], 'the template no longer uses it');
});
