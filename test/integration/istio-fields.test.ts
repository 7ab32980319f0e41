// Provider istio's spec.service fields and session affinity on the real API server with Istio's
// CRDs (../shared/crds/istio): each field as Flagger v1.44 maps it, read back from the stored
// VirtualService and DestinationRules (so Istio's schema accepted it), the session-affinity cookie
// rules at each step of a run, delegation, appProtocol tcp, a field removed from the Canary removed
// from the VirtualService, and invalid combinations refused naming the field.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { startWorld, recordChanges, type World } from '../cluster/canary-world.ts';
import { waitFor } from '../cluster/proc.ts';

const VS = { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService' };
const DR = { apiVersion: 'networking.istio.io/v1beta1', kind: 'DestinationRule' };

type Dest = { destination: { host: string }; weight?: number; headers?: Record<string, unknown> };
type Rule = Record<string, unknown> & { name?: string; route?: Dest[] };
type Stored = {
  metadata: { annotations?: Record<string, string> };
  spec: Record<string, unknown> & { http?: Rule[]; tcp?: Rule[] };
};

let w: World;
before(async () => {
  w = await startWorld('istio-fields');
});
after(async () => w?.stop());

function canary(name: string, service: Record<string, unknown>, analysis: Record<string, unknown>) {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name },
    spec: {
      provider: 'istio',
      targetRef: { kind: 'Deployment', name },
      service: { port: 8080, ...service },
      analysis: { interval: '10s', threshold: 2, ...analysis },
    },
  };
}

async function stored(kind: typeof VS, name: string): Promise<Stored | undefined> {
  return (await w.kube.get({ ...kind, namespace: w.ns, name })) as Stored | undefined;
}

async function storedVs(name: string): Promise<Stored> {
  return waitFor(`VirtualService ${name}`, () => stored(VS, name), 30_000);
}

const weights = (rule: Rule | undefined, name: string) =>
  `${rule?.route?.find((d) => d.destination.host === `${name}-primary`)?.weight ?? 0}/${
    rule?.route?.find((d) => d.destination.host === `${name}-canary`)?.weight ?? 0
  }`;

async function start(name: string, c: Record<string, unknown>): Promise<void> {
  await w.deploy(name, `example.com/${name}:1.0.0`);
  await w.apply(c);
  await w.waitPhase(name, 'Initialized', 90_000);
}

async function runToSuccess(name: string): Promise<void> {
  await w.setImage(name, `example.com/${name}:2.0.0`);
  const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 180_000);
  assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
}

async function noDrift(name: string): Promise<void> {
  const drift = (await w.events(name)).filter((e) => e.reason === 'DriftRepaired');
  assert.deepEqual(drift, [], 'Weir never takes its own writes for drift');
}

async function waitNotReady(name: string, text: RegExp): Promise<string> {
  return (await w.notReady(name, text)).message ?? '';
}

const SERVICE = {
  hosts: ['app.example.com'],
  gateways: ['istio-system/public-gateway'],
  match: [{ uri: { prefix: '/api' }, method: { exact: 'GET' } }, { uri: { suffix: '.json' } }],
  rewrite: { uri: '/v2', authority: 'backend.example.com' },
  corsPolicy: {
    allowOrigins: [{ exact: 'https://example.com' }],
    allowMethods: ['GET', 'POST'],
    allowHeaders: ['x-user'],
    maxAge: '24h',
    allowCredentials: true,
  },
  timeout: '15s',
  retries: { attempts: 3, perTryTimeout: '5s', retryOn: 'gateway-error,connect-failure' },
  headers: { request: { set: { 'x-tier': 'canary-demo' } }, response: { remove: ['x-internal'] } },
  trafficPolicy: {
    loadBalancer: { simple: 'LEAST_REQUEST' },
    connectionPool: { http: { http1MaxPendingRequests: 100 } },
    tls: { mode: 'ISTIO_MUTUAL' },
  },
};
const SESSION = {
  cookieName: 'canary-session',
  primaryCookieName: 'primary-session',
  maxAge: 7200,
  path: '/',
  httpOnly: true,
  sameSite: 'Lax',
};

describe('provider istio: spec.service fields', { concurrency: true }, () => {
  test('every field is stored where Flagger puts it; session affinity cookies at each step', async () => {
    const name = 'ist-fields';
    await start(name, canary(name, SERVICE, { stepWeights: [20, 50], sessionAffinity: SESSION }));
    const vs = await storedVs(name);
    assert.deepEqual(vs.spec.hosts, ['app.example.com', name]);
    assert.deepEqual(vs.spec.gateways, ['istio-system/public-gateway']);
    assert.equal(vs.spec.http?.length, 1);
    const rule = vs.spec.http![0]!;
    assert.deepEqual(rule.match, [
      { uri: { prefix: '/api' }, method: { exact: 'GET' } },
      { uri: { regex: '.*\\.json' } },
    ]);
    assert.deepEqual(rule.rewrite, SERVICE.rewrite);
    assert.deepEqual(rule.corsPolicy, SERVICE.corsPolicy);
    assert.equal(rule.timeout, '15s');
    assert.deepEqual(rule.retries, SERVICE.retries);
    assert.deepEqual(rule.headers, SERVICE.headers);
    assert.equal(weights(rule, name), '100/0');
    for (const host of [`${name}-primary`, `${name}-canary`]) {
      const dr = await stored(DR, host);
      assert.deepEqual(dr?.spec, { host, trafficPolicy: SERVICE.trafficPolicy }, host);
    }

    // Each change of the stored rules: weights of the weighted rule, the rule names, the cookies.
    const seen = await recordChanges(async () => {
      const v = await stored(VS, name);
      const http = v?.spec.http ?? [];
      const last = http[http.length - 1];
      const setCookie = (host: string) =>
        (
          last?.route?.find((d) => d.destination.host === host)?.headers?.response as
            { add?: Record<string, string> } | undefined
        )?.add?.['Set-Cookie'] ?? '-';
      return JSON.stringify({
        weights: weights(last, name),
        rules: http.map((r) => r.name ?? 'weighted'),
        canaryCookie: setCookie(`${name}-canary`),
        primaryCookie: setCookie(`${name}-primary`),
        stickyMatch: http[0]?.name === 'weir-sticky-canary' ? http[0].match : undefined,
        expire: http[0]?.name === 'weir-expire-cookie' ? http[0].headers : undefined,
      });
    });
    await runToSuccess(name);
    const states = (await seen.stop()).map(
      (s) =>
        JSON.parse(s) as {
          weights: string;
          rules: string[];
          canaryCookie: string;
          primaryCookie: string;
          stickyMatch?: Array<{ headers: { cookie: { regex: string } } }>;
          expire?: { response: { add: Record<string, string> } };
        },
    );
    const at = (weight: string) => states.find((s) => s.weights === weight);
    const step1 = at('80/20');
    const step2 = at('50/50');
    assert.ok(step1 && step2, JSON.stringify(states));
    for (const s of [step1, step2]) {
      assert.deepEqual(s.rules, ['weir-sticky-canary', 'weir-sticky-primary', 'weighted']);
      assert.match(
        s.canaryCookie,
        /^canary-session=[A-Za-z]{10}; Max-Age=7200; HttpOnly; Path=\/; SameSite=Lax$/,
      );
      // The primary's cookie lasts one analysis interval.
      assert.match(
        s.primaryCookie,
        /^primary-session=[A-Za-z]{10}; Max-Age=10; HttpOnly; Path=\/; SameSite=Lax$/,
      );
      // The sticky rule matches the cookie within each service match.
      assert.equal(s.stickyMatch?.length, 2);
    }
    const cookie = step1.canaryCookie.split(';')[0]!;
    assert.equal(step2.canaryCookie.split(';')[0], cookie, 'the run keeps its cookie from step to step');
    assert.equal(step1.stickyMatch![0]!.headers.cookie.regex, `.*canary-session.*${cookie.split('=')[1]}.*`);
    // Promoted: everything on the primary, the run's cookie expired.
    const last = states[states.length - 1]!;
    assert.equal(last.weights, '100/0');
    assert.deepEqual(last.rules, ['weir-expire-cookie', 'weighted']);
    assert.equal(last.expire?.response.add['Set-Cookie'], `${cookie}; Max-Age=-1`);
    await noDrift(name);

    // A field removed from the Canary is removed from the VirtualService (not left behind).
    await w.patchCanary(name, { spec: { service: { corsPolicy: null, rewrite: null } } });
    await waitFor(
      `${name}: corsPolicy and rewrite gone from every rule`,
      async () => {
        const http = (await stored(VS, name))?.spec.http ?? [];
        return http.length > 0 && http.every((r) => r.corsPolicy === undefined && r.rewrite === undefined);
      },
      60_000,
    );
  });

  test('delegation: a VirtualService without hosts or gateways; A/B within the service matches', async () => {
    const name = 'ist-delegate';
    const c = canary(
      name,
      { delegation: true, match: [{ uri: { prefix: '/shop' } }] },
      { iterations: 2, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] },
    );
    await start(name, c);
    const vs = await storedVs(name);
    assert.equal(vs.spec.hosts, undefined);
    assert.equal(vs.spec.gateways, undefined);
    const seen = await recordChanges(async () =>
      JSON.stringify((await stored(VS, name))?.spec.http?.[0]?.match),
    );
    await runToSuccess(name);
    const matches = (await seen.stop()).map((m) => JSON.parse(m) as unknown);
    const narrowed = [{ uri: { prefix: '/shop' }, headers: { 'x-canary': { exact: 'insider' } } }];
    assert.ok(
      matches.some((m) => isDeepStrictEqual(m, narrowed)),
      `the A/B rule narrows the service match: ${JSON.stringify(matches)}`,
    );
    assert.deepEqual(matches[matches.length - 1], [{ uri: { prefix: '/shop' } }]);
    await noDrift(name);
  });

  test('appProtocol tcp: one tcp route on the ports of service.match, weights stepped', async () => {
    const name = 'ist-tcp';
    await start(name, canary(name, { appProtocol: 'tcp', match: [{ port: 8080 }] }, { stepWeights: [30] }));
    const vs = await storedVs(name);
    assert.equal(vs.spec.http, undefined);
    assert.deepEqual(vs.spec.tcp?.[0]?.match, [{ port: 8080 }]);
    const seen = await recordChanges(async () => {
      const tcp = (await stored(VS, name))?.spec.tcp;
      return tcp ? weights(tcp[0], name) : undefined;
    });
    await runToSuccess(name);
    assert.deepEqual(await seen.stop(), ['100/0', '70/30', '100/0']);
    await noDrift(name);
  });

  test('refused: delegation with hosts (the schema), naming spec.service.delegation', async () => {
    const name = 'ist-bad-delegate';
    await assert.rejects(
      w.apply(canary(name, { delegation: true, gateways: ['mesh'] }, { stepWeights: [20] })),
      /spec\.service\.delegation.*no hosts or gateways/s,
    );
    await assert.rejects(
      w.apply(canary(name, {}, { iterations: 2, sessionAffinity: { cookieName: 'c' } })),
      /spec\.analysis\.sessionAffinity.*weighted steps/s,
    );
  });

  test('refused: HTTP fields with appProtocol tcp, Ready=False naming the field, nothing applied', async () => {
    const name = 'ist-bad-tcp';
    await w.deploy(name, `example.com/${name}:1.0.0`);
    await w.apply(canary(name, { appProtocol: 'tcp', timeout: '5s' }, { stepWeights: [20] }));
    const msg = await waitNotReady(name, /spec\.service\.timeout/);
    assert.match(msg, /appProtocol tcp/);
    assert.equal(await w.deployment(`${name}-primary`), undefined, 'nothing applied');
  });

  test('refused: istio-only fields on another provider, naming each', async () => {
    const name = 'ist-other';
    await w.deploy(name, `example.com/${name}:1.0.0`);
    const c = canary(
      name,
      { trafficPolicy: SERVICE.trafficPolicy, corsPolicy: SERVICE.corsPolicy },
      { stepWeights: [20], sessionAffinity: { cookieName: 'c' } },
    );
    await w.apply({ ...c, spec: { ...c.spec, provider: 'traefik' } });
    const msg = await waitNotReady(name, /spec\.service\.trafficPolicy/);
    assert.match(msg, /spec\.service\.corsPolicy/);
    assert.match(msg, /spec\.analysis\.sessionAffinity/);
    assert.match(msg, /provider traefik does not support/);
    assert.equal(await w.deployment(`${name}-primary`), undefined, 'nothing applied');
  });

  test("refused: a trafficPolicy Istio's schema rejects, Ready=False naming the DestinationRule", async () => {
    const name = 'ist-bad-policy';
    await w.deploy(name, `example.com/${name}:1.0.0`);
    await w.apply(
      canary(name, { trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } }, { stepWeights: [20] }),
    );
    const msg = await waitNotReady(name, /DestinationRule/);
    assert.match(msg, new RegExp(name));
  });
});
