// The controller names itself to the API server (audit log, apiserver_request_total's userAgent):
// `weir/<version> (<component>)` on typed calls, watches and GitSync's REST client, not node-fetch's
// default. A local HTTP server stands in for the API server and records the header.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { kubeConfigFor } from './local-kube-kit.ts';
import { Watch } from '@kubernetes/client-node';
import { createKube, setUserAgent, userAgentOf } from '../../src/kube/client.ts';
import { createApiClient } from '../../src/kube/rest.ts';
import { connect } from '../../src/cli/kube.ts';
import { VERSION } from '../../src/version.ts';

test('every request path sends weir/<version> (<component>)', async () => {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code: 404, message: 'not found' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const kc = kubeConfigFor(server, 'secret-token');
    const ua = userAgentOf('1.2.3', 'controller');
    assert.equal(ua, 'weir/1.2.3 (controller)');
    setUserAgent(kc, ua);

    // The typed client asks discovery first (404 here, so it fails): only the request matters.
    await createKube(kc)
      .get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'a' })
      .catch(() => undefined);
    await new Promise<void>((resolve) => {
      void new Watch(kc).watch(
        '/api/v1/namespaces/ns/configmaps',
        {},
        () => {},
        () => resolve(),
      );
    });
    const beforeRest = seen.length;
    const rest = createApiClient(kc);
    await rest
      .get({ apiVersion: 'v1', kind: 'Secret', namespace: 'ns', name: 'b' })
      .catch(() => undefined)
      .finally(() => rest.close());

    assert.ok(
      seen.some((s) => s.url.startsWith('/api/v1')),
      'typed client reached the server',
    );
    assert.ok(
      seen.some((s) => s.url.includes('watch=true')),
      'watch reached the server',
    );
    assert.ok(seen.length > beforeRest, 'REST client reached the server');
    for (const s of seen) {
      assert.equal(s.headers['user-agent'], ua, `User-Agent of ${s.url}`);
      assert.equal(s.headers.authorization, 'Bearer secret-token', `credentials kept on ${s.url}`);
    }
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('the CLI names itself weir/<version> (cli)', async () => {
  const agents: string[] = [];
  const server = createServer((req, res) => {
    agents.push(req.headers['user-agent'] ?? '');
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code: 404, message: 'not found' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'weir-ua-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // client-node refuses plain HTTP unless TLS verification is off.
        clusters: [{ name: 'c', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const cli = connect({ kubeconfig });
    await cli.kube
      .get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'a' })
      .catch(() => undefined);
    assert.ok(agents.length > 0, 'the CLI reached the server');
    for (const a of agents) assert.equal(a, `weir/${VERSION} (cli)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
