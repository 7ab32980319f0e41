// The controller's writes (createKube's apply, mergePatch, patchStatus, jsonPatchStatus, create) go
// through the raw client: each must reach the right URL with the right patch type and field manager,
// send the exact JSON, return the server's object untouched, and turn a refusal into a WeirError
// whose cause still tells the HTTP status (the dashboard maps 403/404 from it). A local HTTP server
// stands in for the API server, with discovery for the kinds used.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { kubeConfigFor } from './local-kube-kit.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { apiMessage, createKube, keepConnections, statusCode } from '../../src/kube/client.ts';
import { isWeirError } from '../../src/errors.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const DISCOVERY: Record<string, unknown> = {
  '/api/v1': { resources: [{ name: 'events', kind: 'Event', namespaced: true }] },
  '/apis/apps/v1': { resources: [{ name: 'deployments', kind: 'Deployment', namespaced: true }] },
  '/apis/weir.dev/v1alpha1': {
    resources: [
      { name: 'canaries', kind: 'Canary', namespaced: true },
      { name: 'canaries/status', kind: 'Canary', namespaced: true },
    ],
  },
};

async function withServer(
  answer: (s: Seen) => { status: number; body: unknown },
  fn: (kc: KubeConfig, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      const found = req.method === 'GET' ? DISCOVERY[path] : undefined;
      const a = found ? { status: 200, body: found } : (seen.push(s), answer(s));
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const kc = kubeConfigFor(server, 't0k');
    keepConnections(kc);
    await fn(kc, seen);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const echo = (s: Seen) => ({
  status: 200,
  body: { ...JSON.parse(s.body || '{}'), metadata: { name: 'x', resourceVersion: '42' } },
});

test('each write reaches its URL with its patch type, field manager and exact JSON', async () => {
  await withServer(echo, async (kc, seen) => {
    const kube = createKube(kc);
    const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'podinfo' };
    const patched = await kube.mergePatch(ref, { spec: { replicas: 3, unknownField: 'kept' } });
    // The server's object comes back as it was sent: no model class, no Date conversion.
    assert.equal(patched.metadata?.resourceVersion, '42');
    assert.deepEqual((patched as { spec?: unknown }).spec, { replicas: 3, unknownField: 'kept' });

    await kube.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'podinfo', namespace: 'ns', resourceVersion: '7', managedFields: [] },
    } as never);
    const status = { phase: 'Progressing', canaryWeight: 20 };
    const canary = { plural: 'canaries', group: 'weir.dev', version: 'v1alpha1' };
    await kube.patchStatus(
      { ...canary, apiVersion: '', kind: 'Canary', namespace: 'ns', name: 'c1' },
      status,
    );
    const ops = [{ op: 'test' as const, path: '/status/pendingAlerts/0/id', value: 'a1' }];
    await kube.jsonPatchStatus(
      { ...canary, apiVersion: '', kind: 'Canary', namespace: 'ns', name: 'c1' },
      ops,
    );
    await kube.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: 'c1.', namespace: 'ns' },
      reason: 'Started',
    });

    const [merge, apply, statusPatch, jsonPatch, create] = seen;
    assert.equal(seen.length, 5);
    assert.equal(merge!.method, 'PATCH');
    assert.equal(merge!.url, '/apis/apps/v1/namespaces/ns/deployments/podinfo?fieldManager=weir');
    assert.equal(merge!.headers['content-type'], 'application/merge-patch+json');
    assert.deepEqual(JSON.parse(merge!.body), {
      spec: { replicas: 3, unknownField: 'kept' },
      metadata: { name: 'podinfo', namespace: 'ns' },
    });

    assert.equal(apply!.url, '/apis/apps/v1/namespaces/ns/deployments/podinfo?fieldManager=weir&force=true');
    assert.equal(apply!.headers['content-type'], 'application/apply-patch+yaml');
    // An apply never sends the resourceVersion it read (no conflict on a concurrent change) nor managedFields.
    assert.deepEqual(JSON.parse(apply!.body).metadata, { name: 'podinfo', namespace: 'ns' });

    assert.equal(
      statusPatch!.url,
      '/apis/weir.dev/v1alpha1/namespaces/ns/canaries/c1/status?fieldManager=weir',
    );
    assert.equal(statusPatch!.headers['content-type'], 'application/merge-patch+json');
    assert.deepEqual(JSON.parse(statusPatch!.body), { status });

    assert.equal(
      jsonPatch!.url,
      '/apis/weir.dev/v1alpha1/namespaces/ns/canaries/c1/status?fieldManager=weir',
    );
    assert.equal(jsonPatch!.headers['content-type'], 'application/json-patch+json');
    assert.deepEqual(JSON.parse(jsonPatch!.body), ops);

    assert.equal(create!.method, 'POST');
    assert.equal(create!.url, '/api/v1/namespaces/ns/events');
    assert.equal(JSON.parse(create!.body).reason, 'Started');

    for (const s of seen) assert.equal(s.headers.authorization, 'Bearer t0k', `credentials on ${s.url}`);
  });
});

test('a refusal is a WeirError naming the object, whose cause keeps the HTTP status and message', async () => {
  const refuse = () => ({
    status: 403,
    body: { kind: 'Status', code: 403, message: 'canaries "c1" is forbidden: no patch for you' },
  });
  await withServer(refuse, async (kc) => {
    const kube = createKube(kc);
    const err = await kube
      .mergePatch({ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: 'ns', name: 'c1' }, {})
      .then(
        () => assert.fail('the patch was refused'),
        (e: unknown) => e,
      );
    assert.ok(isWeirError(err, 'KUBE_API'), String(err));
    assert.match((err as Error).message, /patch Canary ns\/c1: canaries "c1" is forbidden/);
    const cause = (err as Error).cause;
    assert.equal(statusCode(cause), 403);
    assert.match(apiMessage(cause), /no patch for you/);
  });
});

test('a 404 is NOT_FOUND', async () => {
  await withServer(
    () => ({ status: 404, body: { kind: 'Status', code: 404, message: 'not found' } }),
    async (kc) => {
      const err = await createKube(kc)
        .patchStatus(
          {
            plural: 'canaries',
            group: 'weir.dev',
            version: 'v1alpha1',
            apiVersion: '',
            kind: 'Canary',
            namespace: 'ns',
            name: 'gone',
          },
          {},
        )
        .catch((e: unknown) => e);
      assert.ok(isWeirError(err, 'NOT_FOUND'), String(err));
    },
  );
});

test('credentials are computed once per OPTIONS_TTL_MS, and again at once after a 401', async () => {
  let refuse = false;
  await withServer(
    (s) => (refuse ? { status: 401, body: { kind: 'Status', code: 401, message: 'Unauthorized' } } : echo(s)),
    async (kc) => {
      let computed = 0;
      const base = kc.applyToHTTPSOptions.bind(kc);
      kc.applyToHTTPSOptions = async (o) => {
        computed++;
        await base(o);
      };
      const kube = createKube(kc);
      const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'podinfo' };
      for (let i = 0; i < 5; i++) await kube.mergePatch(ref, {});
      assert.equal(computed, 1, 'five writes, one computation');
      refuse = true;
      await kube.mergePatch(ref, {}).catch(() => undefined);
      refuse = false;
      await kube.mergePatch(ref, {});
      assert.equal(computed, 2, 'computed again after the 401');
    },
  );
});
