// A Canary's reconcile never computes a revision from a Secret/ConfigMap cached without its data:
// while a referenced object's content is being read, building the context stops with LOADING (the
// controller requeues), after asking for every referenced object at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContext, type Caches, type CanaryObject } from '../../src/canary/context.ts';
import { WeirError, isWeirError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';

const ns = 'shop';
const target = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'app', namespace: ns, labels: { app: 'app' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'app' } },
    template: {
      metadata: { labels: { app: 'app' } },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'app:2',
            envFrom: [{ configMapRef: { name: 'settings' } }, { secretRef: { name: 'creds' } }],
          },
        ],
      },
    },
  },
};
const canary = {
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'Canary',
  metadata: { name: 'app', namespace: ns, generation: 1 },
  spec: {
    provider: 'kubernetes',
    targetRef: { kind: 'Deployment', name: 'app' },
    service: { port: 80 },
    analysis: { interval: '1m', iterations: 2 },
  },
} as unknown as CanaryObject;

/** A cache whose objects are stored without data; content() of the names in `loading` is not in yet. */
function cache(objects: Array<{ metadata: { name: string } }>, loading: Set<string>, asked: string[]) {
  const byName = new Map(objects.map((o) => [o.metadata.name, o]));
  return {
    get: (_ns: string, name: string) => byName.get(name),
    list: () => [...byName.values()],
    content: (_ns: string, name: string) => {
      asked.push(name);
      if (!byName.has(name)) return undefined;
      if (loading.has(name)) throw new WeirError('LOADING', `${name}: content is being read`);
      return byName.get(name);
    },
  };
}

function world(loading: string[]) {
  const asked: string[] = [];
  const pending = new Set(loading);
  const caches = {
    deployment: cache([target], pending, asked),
    configMap: cache([{ metadata: { name: 'settings' }, data: { mode: 'a' } } as never], pending, asked),
    secret: cache([{ metadata: { name: 'creds' }, data: { k: 'dg==' } } as never], pending, asked),
  } as unknown as Caches;
  const build = () =>
    buildContext(
      canary,
      caches,
      'kubernetes',
      { kube: {} as never, cached: () => undefined, log: silentLogger() },
      { crossNamespaceRefs: true },
    );
  return { build, asked };
}

test('while a tracked config loads, the context is not built (LOADING), and every read starts at once', () => {
  const { build, asked } = world(['settings', 'creds']);
  assert.throws(build, (e) => isWeirError(e, 'LOADING'));
  assert.ok(asked.includes('settings') && asked.includes('creds'), `asked for ${asked.join(', ')}`);
});

test('once every referenced content is in, the context builds', () => {
  assert.ok(world([]).build().revision);
});
