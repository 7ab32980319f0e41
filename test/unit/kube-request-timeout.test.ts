// setRequestTimeout: a typed API call to an API server that accepts the connection and never answers
// rejects once the bound passes, instead of holding its caller forever; one that answers in time is
// unaffected. A real loopback HTTP server stands in for the silent API server.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { setRequestTimeout } from '../../src/kube/client.ts';

const held: ServerResponse[] = [];
const server = createServer((req, res) => {
  if (req.url?.includes('/namespaces/quick')) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'quick' } }));
    return;
  }
  held.push(res); // never answered
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
after(() => {
  for (const res of held) res.destroy();
  server.close();
});

function config(): KubeConfig {
  const kc = new KubeConfig();
  const { port } = server.address() as AddressInfo;
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

test('a request the server never answers rejects after the bound', { timeout: 30_000 }, async () => {
  const kc = config();
  setRequestTimeout(kc, 300);
  const api = kc.makeApiClient(CoreV1Api);
  await assert.rejects(api.readNamespace({ name: 'silent' }), (err: Error) => {
    assert.match(`${err.name} ${err.message}`, /abort|timeout/i);
    return true;
  });
  assert.ok(held.length >= 1, 'the request reached the server');
});

test('a request answered in time is unaffected', async () => {
  const kc = config();
  setRequestTimeout(kc, 5_000);
  const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'quick' });
  assert.equal(ns.metadata?.name, 'quick');
});
