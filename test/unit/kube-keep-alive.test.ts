// keepConnections: requests to the same cluster with the same TLS material share one keep-alive
// Agent, although client-node hands every request a fresh Buffer of the CA; a different CA, client
// certificate or server gets its own. Pure logic: client-node's agent factory is replaced by a counter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { keepConnections } from '../../src/kube/client.ts';

type Factory = (cluster: { server?: string } | null, o: Record<string, unknown>) => unknown;

function countingConfig(): { kc: KubeConfig; made: Record<string, unknown>[]; agent: Factory } {
  const kc = new KubeConfig();
  const made: Record<string, unknown>[] = [];
  const target = kc as unknown as { createAgent: Factory };
  target.createAgent = (_cluster, o) => {
    made.push(o);
    return { n: made.length };
  };
  keepConnections(kc);
  return { kc, made, agent: (c, o) => target.createAgent(c, o) };
}

const cluster = { server: 'https://127.0.0.1:6443' };
const ca = (text: string) => Buffer.from(text);

test('same server and TLS material in new Buffers: one keep-alive agent', () => {
  const { made, agent } = countingConfig();
  const first = agent(cluster, { ca: ca('CA-1'), rejectUnauthorized: true });
  const second = agent({ ...cluster }, { ca: ca('CA-1'), rejectUnauthorized: true });
  assert.equal(first, second);
  assert.equal(made.length, 1);
  assert.equal(made[0]!.keepAlive, true);
});

test('a different CA, client key, server or verification setting: a new agent', () => {
  const { made, agent } = countingConfig();
  const base = { ca: ca('CA-1'), key: ca('KEY-1'), rejectUnauthorized: true };
  const a = agent(cluster, base);
  const changes: [string, { server?: string } | null, Record<string, unknown>][] = [
    ['ca', cluster, { ...base, ca: ca('CA-2') }],
    ['key', cluster, { ...base, key: ca('KEY-2') }],
    ['server', { server: 'https://127.0.0.1:7443' }, base],
    ['rejectUnauthorized', cluster, { ...base, rejectUnauthorized: false }],
  ];
  for (const [what, c, o] of changes) {
    assert.notEqual(agent(c, o), a, `${what} changed`);
    assert.equal(agent(cluster, base), agent(cluster, { ...base }), `back to the first after ${what}`);
  }
  assert.equal(made.length, 1 + 2 * changes.length, 'only the one shared agent is kept');
});
