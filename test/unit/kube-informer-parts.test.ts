// The informer's parts that are pure logic: restart backoff through an outage, the held-content
// store for Secrets/ConfigMaps, and the watch request's timeoutSeconds (a local HTTP server records it).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { isWeirError } from '../../src/errors.ts';
import { Backoff } from '../../src/kube/backoff.ts';
import { createKube } from '../../src/kube/client.ts';
import { ContentStore, stripContent } from '../../src/kube/content.ts';
import { Informer, RESOURCES } from '../../src/kube/informers.ts';
import { createLogger } from '../../src/log.ts';
import { BoundedWatch, randomWatchTimeout } from '../../src/kube/watch.ts';

test('backoff grows through an outage and resets only after a healthy stretch', () => {
  let now = 0;
  const b = new Backoff({ baseMs: 800, maxMs: 30_000, resetAfterMs: 120_000, now: () => now });
  b.started();
  const delays: number[] = [];
  // An outage: each restart connects and fails at once.
  for (let i = 0; i < 8; i++) {
    now += 10;
    const d = b.failed();
    delays.push(d);
    now += d;
    b.started();
  }
  assert.deepEqual(delays, [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
  // The watch then stays up for three minutes: the next failure starts from the base again.
  now += 180_000;
  assert.equal(b.failed(), 800);
});

test('backoff jitter stretches a delay by at most its fraction', () => {
  const b = new Backoff({ baseMs: 1000, jitter: 0.2, random: () => 0.999 });
  const d = b.failed();
  assert.ok(d >= 1000 && d <= 1200, String(d));
});

test('watch timeouts are randomised in [300, 600) seconds', () => {
  assert.equal(
    randomWatchTimeout(() => 0),
    300,
  );
  assert.equal(
    randomWatchTimeout(() => 0.9999),
    599,
  );
  const seen = new Set(Array.from({ length: 50 }, () => randomWatchTimeout()));
  assert.ok(seen.size > 5, 'varies between watches');
});

const secret = (name: string, rv: string, value: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  data: { token: Buffer.from(value).toString('base64') },
});

test('stripContent drops data, stringData and binaryData only', () => {
  const s = stripContent({ ...secret('a', '1', 'x'), stringData: { a: 'b' }, binaryData: { c: 'd' } });
  assert.deepEqual(Object.keys(s).sort(), ['apiVersion', 'kind', 'metadata']);
});

test('content: LOADING while the first read is in flight, then held and refreshed by watch events', async () => {
  let reads = 0;
  let release!: () => void;
  const loaded: string[] = [];
  const store = new ContentStore<ReturnType<typeof secret>>({
    read: async (_ns, name) => {
      reads++;
      await new Promise<void>((r) => (release = r));
      return secret(name, '5', 'from-get');
    },
    onLoaded: (ns, name) => loaded.push(`${ns}/${name}`),
  });
  // The informer stores what observe() returns: no data.
  const cached = store.observe(secret('a', '5', 'from-list'));
  assert.equal((cached as { data?: unknown }).data, undefined);
  assert.equal(store.size, 0, 'nothing held that nobody asked for');

  assert.equal(store.content('ns', 'missing', undefined), undefined, 'absent objects are not read');
  const loading = () =>
    assert.throws(
      () => store.content('ns', 'a', cached),
      (e) => isWeirError(e, 'LOADING'),
    );
  loading();
  loading(); // one read only, however often it is asked for
  assert.equal(reads, 1);
  release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(loaded, ['ns/a'], 'the waiting consumers are told');
  assert.equal(store.content('ns', 'a', cached)?.data.token, Buffer.from('from-get').toString('base64'));

  // A watch event for a held object refreshes its content; the informer still stores no data.
  const next = store.observe(secret('a', '6', 'rotated'));
  assert.equal((next as { data?: unknown }).data, undefined);
  assert.equal(store.content('ns', 'a', next)?.data.token, Buffer.from('rotated').toString('base64'));
  assert.equal(reads, 1, 'no second GET');
  store.forget(next);
  loading();
});

test('content: a watch event during the GET wins over the older GET answer', async () => {
  let release!: () => void;
  const store = new ContentStore<ReturnType<typeof secret>>({
    read: async (_ns, name) => {
      await new Promise<void>((r) => (release = r));
      return secret(name, '1', 'old');
    },
    onLoaded: () => {},
  });
  const cached = store.observe(secret('a', '1', 'old'));
  assert.throws(() => store.content('ns', 'a', cached));
  store.observe(secret('a', '2', 'new'));
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(store.content('ns', 'a', cached)?.metadata.resourceVersion, '2');
});

test('content: released after being unused for idleMs', async () => {
  let now = 0;
  const store = new ContentStore<ReturnType<typeof secret>>({
    read: async (_ns, name) => secret(name, '1', 'v'),
    onLoaded: () => {},
    idleMs: 60_000,
    now: () => now,
  });
  const cached = store.observe(secret('a', '1', 'v'));
  await store.load('ns', 'a');
  assert.equal(store.size, 1);
  now += 61_000;
  assert.equal(store.content('ns', 'other', undefined), undefined); // any call sweeps
  assert.equal(store.size, 0);
  assert.throws(
    () => store.content('ns', 'a', cached),
    (e) => isWeirError(e, 'LOADING'),
  );
});

/** A kubeconfig for a local fake API server on plain HTTP. */
function fakeKubeConfig(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

/** Polls `ok` until it holds (bounded by the test's own timeout). */
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setImmediate(r));
}

test('each watch request carries timeoutSeconds and bookmarks; a silent watch is ended locally', async () => {
  const queries: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    queries.push(new URL(req.url ?? '/', 'http://x').searchParams);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(''); // headers only, then silence: a partition that swallowed the server's close
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const kc = fakeKubeConfig((server.address() as AddressInfo).port);
    const w = new BoundedWatch(kc, { timeoutSeconds: () => 1, graceMs: 200 });
    const t0 = Date.now();
    const err = await new Promise<unknown>((resolve) => {
      void w.watch('/api/v1/secrets', { resourceVersion: '7' }, () => {}, resolve);
    });
    const took = Date.now() - t0;
    assert.equal(err, null, 'a watch that outlived its time ends normally (the informer resumes)');
    assert.ok(took >= 1_000 && took < 15_000, `ended after ${took} ms`);
    assert.equal(queries[0]?.get('timeoutSeconds'), '1');
    assert.equal(queries[0]?.get('allowWatchBookmarks'), 'true');
    assert.equal(queries[0]?.get('resourceVersion'), '7');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a labelSelector goes into the informer list and every watch (sharding)', async () => {
  const lists: URLSearchParams[] = [];
  const watches: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.pathname === '/api/v1') {
      // Discovery: KubernetesObjectApi looks up the plural of a kind before it lists.
      res.end(
        JSON.stringify({
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [{ name: 'configmaps', namespaced: true, kind: 'ConfigMap', verbs: ['list', 'watch'] }],
        }),
      );
    } else if (url.searchParams.get('watch') === 'true') {
      watches.push(url.searchParams);
      res.write(''); // an open watch with nothing to say
    } else {
      lists.push(url.searchParams);
      const item = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'ns' } };
      res.end(JSON.stringify({ kind: 'ConfigMapList', metadata: { resourceVersion: '5' }, items: [item] }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const informer = new Informer(
    createKube(fakeKubeConfig((server.address() as AddressInfo).port)),
    RESOURCES.configMap,
    'ns',
    createLogger('silent'),
    { labelSelector: 'weir.dev/shard=a' },
  );
  try {
    await informer.start(5_000);
    assert.equal(informer.get('ns', 'a')?.metadata?.name, 'a');
    await until(() => watches.length > 0);
    assert.equal(lists[0]?.get('labelSelector'), 'weir.dev/shard=a');
    assert.equal(watches[0]?.get('labelSelector'), 'weir.dev/shard=a');
    assert.equal(watches[0]?.get('resourceVersion'), '5', 'the watch resumes from the list');
  } finally {
    await informer.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
