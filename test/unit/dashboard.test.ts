// The dashboard's pure parts from tables: the list row and weight timeline of a Canary, the metric
// series with thresholds, the GitSync pages, the one-time token, cookies, cross-site detection and HTML escaping.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CanaryObject } from '../../src/canary/context.ts';
import { cookieValue, localAuthenticator, sessionCookie } from '../../src/dashboard/auth.ts';
import { crossSiteReason } from '../../src/dashboard/csrf.ts';
import type { GitSyncObject } from '../../src/cli/gitsync.ts';
import { errorLocations, gitSyncListPage, gitSyncPage } from '../../src/dashboard/gitsync-html.ts';
import { esc } from '../../src/dashboard/html.ts';
import {
  extendTimeline,
  metricChartData,
  metricSeries,
  summarize,
  TIMELINE_LENGTH,
} from '../../src/dashboard/model.ts';
import { HISTORY_SPAN_MS, historyRange } from '../../src/dashboard/metric-history.ts';

const canary = (status: Record<string, unknown>, spec: Record<string, unknown> = {}, annotations = {}) =>
  ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Canary',
    metadata: { name: 'app', namespace: 'test', annotations },
    spec: { targetRef: { kind: 'Deployment', name: 'app' }, analysis: { interval: '10s', ...spec } },
    status,
  }) as unknown as CanaryObject;

describe('dashboard model', () => {
  test('summaries: step of a steps run, failing metric (not a dry-run one), paused', () => {
    const steps = { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }] };
    const cases: Array<[CanaryObject, Partial<ReturnType<typeof summarize>>]> = [
      [canary({}), { phase: 'Pending', weight: 0, step: '', failingMetric: '', paused: false }],
      [canary({ phase: 'Progressing', canaryWeight: 20, stepIndex: 1 }, steps), { step: '2/3', weight: 20 }],
      [canary({ phase: 'Succeeded', stepIndex: 2 }, steps), { step: '' }],
      [
        canary({
          phase: 'Progressing',
          metrics: [
            { name: 'dry', result: 'Failed', dryRun: true, time: '2026-01-01T00:00:00Z' },
            { name: 'errors', result: 'Failed', time: '2026-01-01T00:00:00Z' },
          ],
        }),
        { failingMetric: 'errors' },
      ],
      [canary({ phase: 'Progressing' }, {}, { 'weir.dev/paused': 'true' }), { paused: true }],
    ];
    for (const [c, want] of cases) {
      const got = summarize(c);
      for (const [k, v] of Object.entries(want))
        assert.equal(got[k as keyof typeof got], v, `${k} of ${JSON.stringify(c.status)}`);
    }
  });

  test('the timeline gains a point only when weight or phase changes, in time order, bounded', () => {
    let t = extendTimeline([], canary({ phase: 'Initialized' }), 1_000_000);
    t = extendTimeline(t, canary({ phase: 'Initialized' }), 2_000_000);
    assert.deepEqual(t, [{ t: 1000, weight: 0, phase: 'Initialized' }]);
    t = extendTimeline(t, canary({ phase: 'Progressing', canaryWeight: 20 }), 3_000_000);
    // A clock that went back never orders a point before the previous one.
    t = extendTimeline(t, canary({ phase: 'Progressing', canaryWeight: 40 }), 2_500_000);
    assert.deepEqual(
      t.map((p) => [p.t, p.weight, p.phase]),
      [
        [1000, 0, 'Initialized'],
        [3000, 20, 'Progressing'],
        [3000, 40, 'Progressing'],
      ],
    );
    let long = t;
    for (let i = 0; i < TIMELINE_LENGTH + 10; i++)
      long = extendTimeline(long, canary({ canaryWeight: i % 2 }), i);
    assert.equal(long.length, TIMELINE_LENGTH);
  });

  test('metric series: history with its threshold range; without history, the latest value', () => {
    const c = canary(
      {
        metrics: [
          {
            name: 'rate',
            result: 'Failed',
            value: 80,
            time: '2026-01-01T00:00:20Z',
            history: [
              { value: 99, result: 'Succeeded', time: '2026-01-01T00:00:10Z' },
              { value: 80, result: 'Failed', time: '2026-01-01T00:00:20Z' },
            ],
          },
          { name: 'latency', result: 'Succeeded', value: 0.2, time: '2026-01-01T00:00:20Z' },
        ],
      },
      { metrics: [{ name: 'rate', thresholdRange: { min: 95 } }] },
    );
    const [rate, latency] = metricSeries(c);
    assert.deepEqual(rate, {
      name: 'rate',
      times: [1767225610, 1767225620],
      values: [99, 80],
      results: ['Succeeded', 'Failed'],
      min: 95,
      result: 'Failed',
      message: '',
    });
    assert.deepEqual(latency?.values, [0.2]);
    assert.equal(latency?.min, undefined);
  });
});

describe('dashboard metric history', () => {
  const now = Date.parse('2026-01-01T01:00:00Z');
  test('the range: ten minutes, or since the run started (a minute at least); about 120 points, 5 s at least', () => {
    const cases: Array<[string | undefined, { startMs: number; stepMs: number }]> = [
      [undefined, { startMs: now - HISTORY_SPAN_MS, stepMs: 5_000 }],
      ['2026-01-01T00:00:00Z', { startMs: now - HISTORY_SPAN_MS, stepMs: 5_000 }],
      ['2026-01-01T00:57:00Z', { startMs: now - 180_000, stepMs: 5_000 }],
      ['2026-01-01T00:59:50Z', { startMs: now - 60_000, stepMs: 5_000 }],
    ];
    for (const [analysisStartTime, want] of cases) {
      const c = canary(analysisStartTime ? { analysisStartTime } : {});
      assert.deepEqual(historyRange(c, now), { ...want, endMs: now }, String(analysisStartTime));
    }
  });

  test('chart data: measurements and the canary and primary series on one time axis, the band across it', () => {
    const verdict = { name: 'rate', min: 95, result: 'Failed', message: '' };
    const measured = { ...verdict, times: [20, 40], values: [99, 80], results: ['Succeeded', 'Failed'] };
    const d = metricChartData(measured, {
      name: 'rate',
      canary: { times: [10, 20, 30], values: [100, 98, 90] },
      primary: { times: [10, 30], values: [99.5, 99.6] },
    });
    assert.deepEqual(d, {
      x: [10, 20, 30, 40],
      measured: [null, 99, null, 80],
      canary: [100, 98, 90, null],
      primary: [99.5, null, 99.6, null],
      min: [95, 95, 95, 95],
      max: [null, null, null, null],
    });
    assert.deepEqual(metricChartData(measured).canary, [null, null], 'no history: the measurements only');
  });
});

describe('dashboard auth pieces', () => {
  test('the local token works once, and only itself', async () => {
    const auth = localAuthenticator('me');
    assert.equal(await auth.login('wrong'), undefined);
    assert.equal(await auth.login(`${auth.token}x`), undefined);
    assert.deepEqual(await auth.login(auth.token), { username: 'me', groups: [] });
    assert.equal(await auth.login(auth.token), undefined, 'already used');
  });

  test('cookies: HttpOnly, SameSite=Strict (Secure over TLS); parsing', () => {
    assert.equal(sessionCookie('abc', false), 'weir_session=abc; Path=/; HttpOnly; SameSite=Strict');
    assert.match(sessionCookie('abc', true), /; Secure$/);
    assert.equal(cookieValue('a=1; weir_session=x%3Dy; b=2', 'weir_session'), 'x=y');
    assert.equal(cookieValue(undefined, 'weir_session'), undefined);
  });

  test('cross-site requests are named; same-origin and header-less ones pass', () => {
    const cases: Array<[Record<string, string>, RegExp | undefined]> = [
      [{ host: 'h:1', 'sec-fetch-site': 'same-origin', origin: 'http://h:1' }, undefined],
      [{ host: 'h:1' }, undefined],
      [{ host: 'h:1', 'sec-fetch-site': 'cross-site' }, /Sec-Fetch-Site: cross-site/],
      [{ host: 'h:1', 'sec-fetch-site': 'same-site' }, /same-site/],
      [{ host: 'h:1', origin: 'http://evil:1' }, /Origin http:\/\/evil:1 is not h:1/],
      [{ host: 'h:1', origin: 'null' }, /Origin null/],
    ];
    for (const [headers, want] of cases) {
      const got = crossSiteReason(headers);
      if (want) assert.match(got ?? '', want, JSON.stringify(headers));
      else assert.equal(got, undefined, JSON.stringify(headers));
    }
  });

  test('escaping', () => {
    assert.equal(
      esc(`<script>"x" & 'y'</script>`),
      '&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;',
    );
  });
});

const APPLIED = '1111111111111111111111111111111111111111';
const ATTEMPTED = '2222222222222222222222222222222222222222';
const gitSync = (status: Record<string, unknown>) =>
  ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'GitSync',
    metadata: { name: 'apps', namespace: 'team' },
    spec: { url: 'https://git.example/apps.git', ref: { branch: 'main' }, path: 'deploy' },
    status,
  }) as unknown as GitSyncObject;
const ctx = { user: 'alice', csrf: 'c' };

describe('dashboard GitSync pages', () => {
  test('build-error locations from condition messages', () => {
    const cases: Array<[string, string[]]> = [
      ['deploy/app.yaml:12:3: unknown field "spek"', ['deploy/app.yaml:12:3']],
      ['Canary app (a/b.yml:4) is invalid; Service x is also defined at c.json:9', ['a/b.yml:4', 'c.json:9']],
      ['fetch from https://git.example failed: timeout', []],
    ];
    for (const [message, want] of cases) assert.deepEqual(errorLocations(message), want, message);
  });

  test('the page shows applied vs attempted revision, conditions with file:line, inventory, Canary links', () => {
    const html = gitSyncPage(
      gitSync({
        lastAppliedRevision: APPLIED,
        lastAttemptedRevision: ATTEMPTED,
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'BuildFailed',
            message: 'deploy/canary.yaml:7:5: spec.analysis.interval must be a duration',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
        inventory: [
          { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team', name: 'web' },
          { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: 'team', name: 'web' },
          { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', name: 'api' },
        ],
        canaries: [{ name: 'web', namespace: 'team', phase: 'Progressing', gitRevision: APPLIED }],
      }),
      ctx,
    );
    assert.match(html, new RegExp(`data-field="appliedRevision">${APPLIED}<`));
    assert.match(html, new RegExp(`data-field="attemptedRevision">${ATTEMPTED}<`));
    assert.match(html, /id="not-applied"/, 'an attempted revision not applied is called out');
    assert.match(html, /<td class="where"><code>deploy\/canary\.yaml:7:5<\/code><\/td>/);
    assert.match(html, /<td>apps\/v1<\/td><td>Deployment<\/td><td>team<\/td><td>web<\/td>/);
    assert.match(
      html,
      /<a class="canary-link" href="\/canaries\/team\/web">team\/web<\/a><\/td>\n<td>Progressing<\/td>/,
    );
    assert.match(html, /href="\/canaries\/team\/api"/, "a Canary without namespace is in the GitSync's");
    assert.equal(html.match(/class="canary-link"/g)?.length, 2, 'only Canaries are linked');
  });

  test('repository-controlled strings are escaped', () => {
    const evil = '<script>alert(1)</script>';
    const g = gitSync({
      lastAppliedRevision: APPLIED,
      conditions: [{ type: 'Ready', status: 'False', reason: 'BuildFailed', message: `x.yaml:1: ${evil}` }],
      inventory: [{ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team', name: evil }],
    });
    for (const html of [gitSyncPage(g, ctx), gitSyncListPage([g], ctx)]) {
      assert.doesNotMatch(html, /<script>alert/);
      assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    }
    assert.doesNotMatch(gitSyncPage(g, ctx), /id="not-applied"/, 'no attempted revision: nothing behind');
  });

  test('the list links each GitSync and says when there is none', () => {
    const html = gitSyncListPage([gitSync({ lastAppliedRevision: APPLIED })], ctx);
    assert.match(html, /<a href="\/gitsyncs\/team\/apps">apps<\/a>/);
    assert.match(html, new RegExp(`<td>${APPLIED}</td>`));
    assert.match(gitSyncListPage([], ctx), /id="empty"/);
    assert.match(
      gitSyncListPage([], ctx, 'cannot list GitSyncs: 403'),
      /id="problem">cannot list GitSyncs: 403/,
    );
  });
});
