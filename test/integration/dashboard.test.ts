// The controller's dashboard listener (WEIR_DASHBOARD_LISTEN) over real HTTP against the local control
// plane: ServiceAccount tokens from the TokenRequest API are checked with a real TokenReview, each
// view and action with a real SubjectAccessReview; a running canary's weight change arrives on the
// Server-Sent Events stream; abort, retry and promote --full reach the real controller.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CanaryObject } from '../../src/canary/context.ts';
import { REQUEST } from '../../src/canary/requests.ts';
import type { CanaryView, HistoryAnswer } from '../../src/dashboard/model.ts';
import { startProcess, waitFor } from '../cluster/proc.ts';
import { projectRoot } from '../cluster/cluster.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { canaryToken, http, login, openEvents, type SaToken } from '../cluster/dashboard-kit.ts';

const NAME = 'dash-app';
let w: World;
let dash: { url: string };
let patcher: SaToken;
let viewer: SaToken;

before(async () => {
  w = await startWorld('dash', { env: { WEIR_DASHBOARD_LISTEN: '127.0.0.1:0' } });
  dash = { url: `http://127.0.0.1:${await dashboardPort(w.logFile)}` };
  [patcher, viewer] = await Promise.all([
    canaryToken(w.cluster.kc, w.ns, 'dash-patch', ['get', 'list', 'watch', 'patch']),
    canaryToken(w.cluster.kc, w.ns, 'dash-view', ['get', 'list', 'watch']),
  ]);
  await w.deploy(NAME, `example.com/${NAME}:1.0.0`);
  await w.exporters(NAME, { errorRate: 0 });
  // compare: the metric charts' history carries the primary's series too.
  const metrics = [
    { name: 'request-success-rate', thresholdRange: { min: 95 }, compare: { primary: { maxDecrease: 5 } } },
  ];
  await w.apply(gatewayCanary(NAME, { stepWeight: 20, maxWeight: 40, metrics }));
  await w.waitPhase(NAME, 'Initialized', 90_000);
});
after(async () => {
  await Promise.all([patcher?.revoke(), viewer?.revoke()]);
  await w?.stop();
});

/** The dashboard's port, from the controller's start-up log line. */
const dashboardPort = (logFile: string): Promise<number> =>
  waitFor(
    'the controller logging its dashboard port',
    () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .map((l) =>
          l.includes('weir controller started') ? (JSON.parse(l) as { dashboardPort?: number }) : {},
        )
        .find((l) => l.dashboardPort)?.dashboardPort,
    60_000,
  );

const annotations = async () => (await w.canary(NAME)).metadata.annotations ?? {};

describe('dashboard: Kubernetes authentication and authorisation', () => {
  test('a forged token, a revoked one, or none gets the login page', async () => {
    const none = await http(`${dash.url}/`);
    assert.equal(none.status, 401);
    assert.match(none.body, /<form method="post" action="\/login">/);
    const forged = await http(`${dash.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=eyJhbGciOiJSUzI1NiJ9.forged.signature',
    });
    assert.equal(forged.status, 401);
    assert.match(forged.body, /not accepted: it is forged, expired or already used/);
    assert.equal(forged.headers['set-cookie'], undefined, 'no session for a forged token');
    const inUrl = await http(`${dash.url}/?token=${encodeURIComponent(viewer.token)}`);
    assert.equal(inUrl.status, 401, 'the listener takes no token from the URL');
    assert.equal(inUrl.headers['set-cookie'], undefined);
    const bearer = await http(`${dash.url}/`, { headers: { authorization: 'Bearer forged' } });
    assert.equal(bearer.status, 401);
    assert.match(bearer.body, /action="\/login"/);

    // A real token whose ServiceAccount is gone no longer reviews (as an expired one).
    const gone = await canaryToken(w.cluster.kc, w.ns, 'dash-gone', ['get', 'list']);
    await gone.revoke();
    await assert.rejects(login(dash.url, gone.token), /login: HTTP 401/);
  });

  test('`weir dashboard` prints a one-time URL on 127.0.0.1: it logs in once, then gets the login page', async () => {
    const cli = startProcess(
      'weir-dashboard',
      process.execPath,
      [
        join(projectRoot, 'bin', 'weir.js'),
        'dashboard',
        '--kubeconfig',
        w.cluster.kubeconfigPath,
        '-n',
        w.ns,
        '--port',
        '0',
      ],
      { logDir: dirname(w.logFile) },
    );
    try {
      const url = await waitFor(
        'the URL `weir dashboard` prints',
        () => /(http:\/\/127\.0\.0\.1:\d+)\/\?token=[\w-]{40,}/.exec(cli.tail(20)) ?? undefined,
        90_000,
        250,
      );
      const first = await http(url[0]);
      assert.equal(first.status, 303);
      const cookie = [first.headers['set-cookie'] ?? []].flat()[0] ?? '';
      assert.match(cookie, /^weir_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
      const list = await http(`${url[1]}/`, { headers: { cookie: cookie.split(';')[0]! } });
      assert.equal(list.status, 200);
      assert.match(list.body, new RegExp(`data-key="${w.ns}/${NAME}"`));
      const again = await http(url[0]);
      assert.equal(again.status, 401, 'the URL token works once');
      assert.match(again.body, /action="\/login"/);
    } finally {
      await cli.stop();
    }
  });

  test('after logout the session cookie gets the login page', async () => {
    const c = await login(dash.url, viewer.token);
    assert.equal((await c.get('/')).status, 200);
    const out = await http(`${dash.url}/logout`, { method: 'POST', headers: { cookie: c.cookie } });
    assert.equal(out.status, 303);
    const after = await c.get('/');
    assert.equal(after.status, 401);
    assert.match(after.body, /action="\/login"/);
  });

  test('a cross-site POST and a POST without the CSRF token are refused', async () => {
    const c = await login(dash.url, patcher.token);
    const before = await annotations();
    const cross = await c.action(w.ns, NAME, 'pause', {
      origin: 'https://evil.example',
      'sec-fetch-site': 'cross-site',
    });
    assert.equal(cross.status, 403);
    assert.match(JSON.parse(cross.body).error, /cross-site request refused/);
    const otherOrigin = await c.action(w.ns, NAME, 'pause', {
      origin: 'https://evil.example',
      'sec-fetch-site': '',
    });
    assert.equal(otherOrigin.status, 403);
    assert.match(JSON.parse(otherOrigin.body).error, /Origin https:\/\/evil.example/);
    const noCsrf = await c.action(w.ns, NAME, 'pause', { 'x-csrf-token': '' });
    assert.equal(noCsrf.status, 403);
    assert.match(JSON.parse(noCsrf.body).error, /CSRF token/);
    assert.equal((await annotations())[REQUEST.paused], before[REQUEST.paused], 'nothing was patched');
  });

  test('a viewer sees the Canary; SSE delivers the weight change; only a patcher may abort, retry and promote', async () => {
    const view = await login(dash.url, viewer.token);
    const act = await login(dash.url, patcher.token);
    const list = await view.get('/');
    assert.equal(list.status, 200);
    assert.match(list.body, new RegExp(`data-key="${w.ns}/${NAME}"`));
    const page = await view.get(`/canaries/${w.ns}/${NAME}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /id="weight-chart"/);

    const events = await openEvents(`${dash.url}/events?namespace=${w.ns}&name=${NAME}`, view.cookie);
    try {
      await w.setImage(NAME, `example.com/${NAME}:2.0.0`);
      const moved = await events.waitFor<CanaryView>(
        'a view with canary weight > 0',
        (e, v) => e === 'view' && v.summary.weight > 0,
        120_000,
      );
      assert.equal(moved.summary.phase, 'Progressing');
      assert.ok(
        moved.timeline.some((p) => p.weight === 0) && moved.timeline.at(-1)!.weight > 0,
        'the timeline recorded the move',
      );
      assert.deepEqual(
        moved.deployed,
        { primary: { image: `example.com/${NAME}:1.0.0` }, canary: { image: `example.com/${NAME}:2.0.0` } },
        'the images as of now, not of page load',
      );

      const refused = await view.action(w.ns, NAME, 'abort');
      assert.equal(refused.status, 403);
      assert.equal(
        JSON.parse(refused.body).error,
        `${viewer.user} may not patch Canary ${w.ns}/${NAME}: a SubjectAccessReview refused "patch" on canaries.weir.dev`,
      );
      assert.equal((await annotations())[REQUEST.abort], undefined, 'the refused abort patched nothing');
      const promote = await view.action(w.ns, NAME, 'promote-full');
      assert.equal(promote.status, 403);
      assert.match(JSON.parse(promote.body).error, /may not patch Canary/);
      assert.equal((await annotations())[REQUEST.promote], undefined, 'the refused promote patched nothing');

      const aborted = await act.action(w.ns, NAME, 'abort');
      assert.equal(aborted.status, 200, aborted.body);
      assert.match(JSON.parse(aborted.body).effect, /rolls back/);
      const failed = await w.waitPhase(NAME, ['Failed', 'Succeeded'], 60_000);
      assert.match(failed.status?.message ?? '', /aborted by user/);
      await events.waitFor<CanaryView>(
        'phase Failed',
        (e, v) => e === 'view' && v.summary.phase === 'Failed',
        60_000,
      );

      const retried = await act.action(w.ns, NAME, 'retry');
      assert.equal(retried.status, 200, retried.body);
      await w.waitPhase(NAME, 'Progressing', 60_000);
      const promoted = await act.action(w.ns, NAME, 'promote-full');
      assert.equal(promoted.status, 200, promoted.body);
      const done: CanaryObject = await w.waitPhase(NAME, ['Succeeded', 'Failed'], 120_000);
      assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
      assert.equal(await w.image(`${NAME}-primary`), `example.com/${NAME}:2.0.0`);
    } finally {
      events.close();
    }
  });
});

describe('dashboard: metric history from Prometheus', () => {
  test("query_range series of the canary and the primary over the last minutes, the analysis' own query", async () => {
    const view = await login(dash.url, viewer.token);
    const path = `/canaries/${w.ns}/${NAME}/metric-history`;
    const answer = await waitFor(
      'a history with points of the canary and the primary',
      async () => {
        const r = await view.get(path);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body}`);
        const body = JSON.parse(r.body) as HistoryAnswer;
        const m = body.metrics.find((x) => x.name === 'request-success-rate');
        return m?.canary?.times.length && m.primary?.times.length ? { body, m } : undefined;
      },
      120_000,
      1000,
    );
    const { body, m } = answer;
    assert.ok(body.end - body.start <= 600 && body.end - body.start >= 60, JSON.stringify(body));
    assert.ok(body.step >= 5);
    assert.equal(m.note, undefined);
    for (const series of [m.canary!, m.primary!]) {
      assert.ok(series.times.every((t) => t >= body.start && t <= body.end));
      // The exporters answer every request with 200: a success rate of 100 on both sides.
      assert.ok(
        series.values.every((v) => Math.abs(v - 100) < 1e-6),
        series.values.join(','),
      );
    }
    const anonymous = await http(`${dash.url}${path}`);
    assert.equal(anonymous.status, 401);
  });
});

describe('dashboard: promote --now and Git revisions', () => {
  test('a patcher starts a run held by the release window; a viewer gets the 403; the page shows the revision', async () => {
    const name = 'dash-window';
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const schedule = {
      timeZone: 'UTC',
      windows: [{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], start: '00:00', end: '24:00' }],
      blackoutDates: [day(0), day(1)],
    };
    const revision = '0123456789abcdef0123456789abcdef01234567';
    await w.deploy(name, `example.com/${name}:1.0.0`);
    await w.apply(gatewayCanary(name, { stepWeight: 50, maxWeight: 50, metrics: undefined }, { schedule }));
    await w.waitPhase(name, 'Initialized', 90_000);
    // What GitSync stamps on a target it applied.
    await w.kube.mergePatch(
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: w.ns, name },
      { metadata: { annotations: { 'weir.dev/git-revision': revision } } },
    );
    await w.setImage(name, `example.com/${name}:2.0.0`);
    await w.waitPhase(name, 'Queued', 60_000);

    const view = await login(dash.url, viewer.token);
    const page = await view.get(`/canaries/${w.ns}/${name}`);
    assert.match(page.body, new RegExp(`data-field="canaryRevision">${revision}<`));
    assert.match(page.body, new RegExp(`data-field="canaryImage">example.com/${name}:2.0.0<`));
    assert.match(page.body, /data-action="promote-now"/);

    const refused = await view.action(w.ns, name, 'promote-now');
    assert.equal(refused.status, 403);
    assert.equal(
      JSON.parse(refused.body).error,
      `${viewer.user} may not patch Canary ${w.ns}/${name}: a SubjectAccessReview refused "patch" on canaries.weir.dev`,
    );
    const act = await login(dash.url, patcher.token);
    const plain = await act.action(w.ns, name, 'promote');
    assert.equal(plain.status, 409);
    assert.match(JSON.parse(plain.body).error, /`weir promote dash-window --now` starts it now/);
    const before = (await w.canary(name)).metadata.annotations ?? {};
    assert.equal(before[REQUEST.promoteNow], undefined, 'the refused requests patched nothing');

    const now = await act.action(w.ns, name, 'promote-now');
    assert.equal(now.status, 200, now.body);
    assert.match(JSON.parse(now.body).effect, /starts the queued run now/);
    const asked = (await w.canary(name)).metadata.annotations ?? {};
    assert.ok(asked[REQUEST.promoteNow]);
    assert.equal(asked[REQUEST.promoteNowBy], `${patcher.user} (weir dashboard)`);
    const started = await w.waitPhase(name, ['Progressing', 'Succeeded'], 60_000);
    assert.notEqual(started.status?.phase, 'Queued');
  });
});

describe('dashboard: GitSync page', () => {
  test('a token that may get gitsyncs sees its revision; one that may only read canaries gets 403', async () => {
    const revision = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    const reader = await canaryToken(w.cluster.kc, w.ns, 'dash-gitsync', ['get', 'list'], ['gitsyncs']);
    try {
      // Suspended: a running GitSync controller fetches nothing and keeps the status written here.
      await w.apply({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'GitSync',
        metadata: { name: 'dash-repo' },
        spec: { url: 'https://git.invalid/apps.git', suspend: true },
      });
      const ref = {
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'GitSync',
        namespace: w.ns,
        name: 'dash-repo',
        group: 'weir.dev',
        version: 'v1alpha1',
        plural: 'gitsyncs',
      };
      const status = {
        lastAppliedRevision: revision,
        lastAttemptedRevision: revision,
        inventory: [{ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: w.ns, name: NAME }],
      };
      const allowed = await login(dash.url, reader.token);
      // The status is written again until the page shows it (idempotent), in case a controller's
      // write of the suspended GitSync's status raced this one.
      const page = await waitFor(
        'the GitSync page with its applied revision',
        async () => {
          await w.kube.patchStatus(ref, status);
          const r = await allowed.get(`/gitsyncs/${w.ns}/dash-repo`);
          return r.status === 200 && r.body.includes(revision) ? r : undefined;
        },
        60_000,
        500,
      );
      assert.match(page.body, new RegExp(`data-field="appliedRevision">${revision}<`));
      assert.match(page.body, new RegExp(`href="/canaries/${w.ns}/${NAME}"`));
      // Live: the page's stream sends the page's content again when the GitSync changes.
      const next = 'f'.repeat(40);
      const events = await openEvents(`${dash.url}/gitsyncs/${w.ns}/dash-repo/events`, allowed.cookie);
      try {
        let shown = false;
        const live = events
          .waitFor<{ html: string }>(
            'the new attempted revision',
            (e, d) => e === 'gitsync' && d.html.includes(next),
            90_000,
          )
          .then((d) => ((shown = true), d));
        await waitFor(
          'the stream showing the new attempted revision',
          async () => {
            if (!shown) await w.kube.patchStatus(ref, { ...status, lastAttemptedRevision: next });
            return shown || undefined;
          },
          90_000,
          500,
        );
        const { html } = await live;
        assert.match(html, new RegExp(`data-field="attemptedRevision">${next}<`));
        assert.match(html, /id="not-applied"/);
      } finally {
        events.close();
      }
      const deniedStream = await http(`${dash.url}/gitsyncs/${w.ns}/dash-repo/events`, {
        headers: { cookie: (await login(dash.url, viewer.token)).cookie },
      });
      assert.equal(deniedStream.status, 403);

      const list = await allowed.get('/gitsyncs');
      assert.equal(list.status, 200);
      assert.match(list.body, new RegExp(`data-key="${w.ns}/dash-repo"`));

      const refused = await (await login(dash.url, viewer.token)).get(`/gitsyncs/${w.ns}/dash-repo`);
      assert.equal(refused.status, 403);
      assert.match(
        refused.body,
        new RegExp(
          `${viewer.user} may not get GitSync ${w.ns}/dash-repo: a SubjectAccessReview refused &quot;get&quot; on gitsyncs.weir.dev`,
        ),
      );
    } finally {
      await reader.revoke();
    }
  });
});
