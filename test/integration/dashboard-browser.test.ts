// The dashboard in a real headless browser (Debian's chromium driven by puppeteer-core) against the
// local control plane and a real controller, served as `weir dashboard` serves it (127.0.0.1, the
// user's kubeconfig, the one-time URL token): the weight chart moves as the steps happen, clicking
// Promote ends a manual pause, and a failing metric shows on its chart. Served as the controller's
// listener serves it (TokenReview, SubjectAccessReview), the login page takes ServiceAccount tokens: a
// forged one is refused, a get-only one sees the 403 when clicking Promote, a patch one aborts by
// clicking, and a form on another site posting to the dashboard is refused. Screenshots of the list and
// the Canary page go to $WEIR_SCREENSHOT_DIR (scripts/screenshots.ts: docs/img), else the test logs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createServer, type Server } from 'node:http';
import {
  startClusterDashboard,
  startLocalDashboard,
  type RunningDashboard,
} from '../../src/dashboard/serve.ts';
import { silentLogger } from '../../src/log.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { projectRoot } from '../cluster/cluster.ts';
import { canaryToken, type SaToken } from '../cluster/dashboard-kit.ts';
import { waitFor } from '../cluster/proc.ts';

const CHROMIUM = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';
const STEPS = 'dash-steps';
const FAILING = 'dash-failing';
const GUARDED = 'dash-guarded';
// A loaded 2-core CI machine: every wait is on a DOM condition, with room to spare.
const LONG = 180_000;

let w: World;
let dash: RunningDashboard & { loginUrl: string };
let browser: Browser;
let page: Page;
let shots: string;
let cluster: RunningDashboard;
let patcher: SaToken;
let viewer: SaToken;
let evil: Server;

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: apt-get install chromium (scripts/prepare.sh does)`,
  );
  w = await startWorld('dash-ui');
  shots = process.env.WEIR_SCREENSHOT_DIR ?? join(projectRoot, '.weir', 'test-logs', w.ns);
  mkdirSync(shots, { recursive: true });
  await Promise.all([
    (async () => {
      await w.deploy(STEPS, `example.com/${STEPS}:1.0.0`);
      await w.exporters(STEPS, { errorRate: 0 });
      await w.apply(gatewayCanary(STEPS, { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }] }));
    })(),
    (async () => {
      await w.deploy(FAILING, `example.com/${FAILING}:1.0.0`);
      await w.exporters(FAILING, { errorRate: 0.5 });
      await w.apply(gatewayCanary(FAILING, { stepWeight: 20, maxWeight: 40, threshold: 3 }));
    })(),
    (async () => {
      await w.deploy(GUARDED, `example.com/${GUARDED}:1.0.0`);
      await w.exporters(GUARDED, { errorRate: 0 });
      await w.apply(gatewayCanary(GUARDED, { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }] }));
    })(),
  ]);
  await Promise.all([STEPS, FAILING, GUARDED].map((name) => w.waitPhase(name, 'Initialized', 90_000)));
  [cluster, patcher, viewer] = await Promise.all([
    startClusterDashboard({
      kc: w.cluster.kc,
      log: silentLogger(),
      namespace: w.ns,
      host: '127.0.0.1',
      port: 0,
      history: { prometheusAddress: w.prom.url },
    }),
    canaryToken(w.cluster.kc, w.ns, 'dash-ui-patch', ['get', 'list', 'watch', 'patch']),
    canaryToken(w.cluster.kc, w.ns, 'dash-ui-view', ['get', 'list', 'watch']),
  ]);
  // Another site (another port is another origin, the same site): a form that posts an abort at once.
  evil = createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(
      `<form id="f" method="post" action="${cluster.url}/canaries/${w.ns}/${GUARDED}/actions/abort"></form><script>document.getElementById('f').submit()</script>`,
    );
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  dash = await startLocalDashboard({
    kc: w.cluster.kc,
    log: silentLogger(),
    namespace: w.ns,
    port: 0,
    user: 'admin',
    history: { prometheusAddress: w.prom.url },
  });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    protocolTimeout: LONG,
  });
  page = await browser.newPage();
  page.setDefaultTimeout(LONG);
  await page.setViewport({ width: 1280, height: 900 });
});
after(async () => {
  await browser?.close();
  await dash?.stop();
  await cluster?.stop();
  await Promise.all([patcher?.revoke(), viewer?.revoke()]);
  await new Promise((resolve) => (evil ? evil.close(resolve) : resolve(undefined)));
  await w?.stop();
});

/** The weights the chart plots (as its element records them after every redraw), repeats collapsed. */
const chartWeights = async (p: Page): Promise<string> => {
  const all = (await p.$eval('#weight-chart', (el) => (el as HTMLElement).dataset.weights ?? '')).split(',');
  return all.filter((x, i) => i === 0 || x !== all[i - 1]).join(',');
};

describe('dashboard in headless Chromium', () => {
  test('the one-time URL logs in once; the list shows the Canaries', async () => {
    await page.goto(dash.loginUrl);
    await page.waitForSelector(`tr[data-key="${w.ns}/${STEPS}"]`);
    await page.waitForSelector(`tr[data-key="${w.ns}/${FAILING}"]`);
    // The token worked once: a second browser context gets the login page with it.
    const other = await browser.createBrowserContext();
    try {
      const second = await other.newPage();
      await second.goto(dash.loginUrl);
      await second.waitForSelector('#login-error');
    } finally {
      await other.close();
    }
  });

  test('the weight chart moves as steps happen; clicking Promote ends the manual pause', async () => {
    await page.goto(`${dash.url}/canaries/${w.ns}/${STEPS}`);
    await page.waitForSelector('#weight-chart canvas');
    await w.setImage(STEPS, `example.com/${STEPS}:2.0.0`);
    await page.waitForFunction(
      () =>
        /waiting for `weir promote`/.test(
          document.querySelector('p[data-field="message"]')?.textContent ?? '',
        ),
      { timeout: LONG },
    );
    assert.match(await chartWeights(page), /^0,20$/);
    await page.click('button[data-action="promote"]');
    await page.waitForFunction(
      () => /promote requested: ends the pause/.test(document.getElementById('notice')?.textContent ?? ''),
      {
        timeout: LONG,
      },
    );
    await page.waitForFunction(
      () => (document.getElementById('weight-chart')?.dataset.weights ?? '').split(',').includes('50'),
      { timeout: LONG },
    );
    // The metric chart draws the success rate from Prometheus' query_range (fetched after the measurement).
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('.metric')?.dataset.historyPoints ?? 0) > 0,
      { timeout: LONG },
    );
    await page.screenshot({ path: join(shots, 'dashboard-canary.png'), fullPage: true });
    await page.waitForFunction(
      () => /Succeeded/.test(document.querySelector('dd[data-field="phase"]')?.textContent ?? ''),
      { timeout: LONG },
    );
    assert.match(await chartWeights(page), /^0,20,50(,|$)/, 'the chart recorded the steps in order');
    assert.equal(await w.image(`${STEPS}-primary`), `example.com/${STEPS}:2.0.0`);
  });

  test('a failing metric shows on its chart; the list page follows live', async () => {
    const metricPage = await browser.newPage();
    try {
      metricPage.setDefaultTimeout(LONG);
      await metricPage.goto(`${dash.url}/canaries/${w.ns}/${FAILING}`);
      await w.setImage(FAILING, `example.com/${FAILING}:2.0.0`);
      await metricPage.waitForSelector('.metric[data-metric="request-success-rate"][data-result="Failed"]', {
        timeout: LONG,
      });
      const caption = await metricPage.$eval('.metric.failing', (el) => el.textContent ?? '');
      assert.match(caption, /request-success-rate: .* Failed/);
    } finally {
      await metricPage.close();
    }
    await page.goto(`${dash.url}/`);
    await page.waitForFunction(
      (key: string) =>
        /Failed|Progressing/.test(
          document.querySelector(`tr[data-key="${key}"] [data-field="phase"]`)?.textContent ?? '',
        ),
      { timeout: LONG },
      `${w.ns}/${FAILING}`,
    );
    await page.screenshot({ path: join(shots, 'dashboard-list.png'), fullPage: true });
  });

  test('a GitSync page follows its GitSync live: a new attempted revision and its build error', async () => {
    const ref = {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'GitSync',
      namespace: w.ns,
      name: 'shop',
      group: 'weir.dev',
      version: 'v1alpha1',
      plural: 'gitsyncs',
    };
    // Suspended: the controller fetches nothing; the status below stands for what a sync wrote.
    await w.apply({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'GitSync',
      metadata: { name: 'shop' },
      spec: { url: 'https://git.example.com/shop/deploy.git', path: 'apps', suspend: true },
    });
    const applied = '4f1c2a9e0b7d3c5a8e6f1b2d9c0a7e3f5b8d1c6a';
    const attempted = '9e2b7c4d1a0f8e3b6c5d2a9f7e1b4c8d0a3f6e2b';
    const status = (lastAttemptedRevision: string, ready: Record<string, string>) => ({
      lastAppliedRevision: applied,
      lastAttemptedRevision,
      lastAppliedTime: new Date().toISOString(),
      conditions: [{ type: 'Ready', lastTransitionTime: new Date().toISOString(), ...ready }],
      inventory: [
        { apiVersion: 'apps/v1', kind: 'Deployment', namespace: w.ns, name: STEPS },
        { apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', namespace: w.ns, name: STEPS },
      ],
      canaries: [{ namespace: w.ns, name: STEPS, phase: 'Succeeded', gitRevision: applied }],
    });
    const ok = { status: 'True', reason: 'Applied', message: `applied revision ${applied}` };
    await w.kube.patchStatus(ref, status(applied, ok));
    await page.goto(`${dash.url}/gitsyncs/${w.ns}/shop`);
    await page.waitForSelector('dd[data-field="appliedRevision"]');
    const broken = {
      status: 'False',
      reason: 'BuildFailed',
      message: `revision ${attempted}: apps/podinfo/canary.yaml:14:7: spec.analysis.interval: "1 minute" is not a duration`,
    };
    // Written again until the page shows it, in case the controller's write of the status raced it.
    await waitFor(
      'the page showing the new attempted revision',
      async () => {
        await w.kube.patchStatus(ref, status(attempted, broken));
        return page.$eval(
          '#gitsync-body',
          (el, rev) => el.textContent?.includes(rev) || undefined,
          attempted,
        );
      },
      LONG,
      1000,
    );
    assert.equal(
      await page.$eval('#conditions td.where', (el) => el.textContent),
      'apps/podinfo/canary.yaml:14:7',
    );
    await page.waitForSelector('#not-applied');
    await page.screenshot({ path: join(shots, 'dashboard-gitsync.png'), fullPage: true });
  });

  test('cluster mode: the login page takes tokens; get-only gets the 403, patch aborts; a cross-site form is refused', async () => {
    await w.setImage(GUARDED, `example.com/${GUARDED}:2.0.0`);
    await waitFor(
      `${GUARDED} waiting at its manual pause`,
      async () => /waiting for `weir promote`/.test((await w.canary(GUARDED)).status?.message ?? ''),
      LONG,
      500,
    );
    const canaryUrl = `${cluster.url}/canaries/${w.ns}/${GUARDED}`;
    const as = async (token: string): Promise<Page> => {
      const p = await (await browser.createBrowserContext()).newPage();
      p.setDefaultTimeout(LONG);
      await p.goto(`${cluster.url}/login`);
      await p.$eval('textarea[name="token"]', (el, t) => ((el as HTMLTextAreaElement).value = t), token);
      await Promise.all([p.waitForNavigation(), p.click('form[action="/login"] button')]);
      return p;
    };

    const forged = await as('eyJhbGciOiJSUzI1NiJ9.forged.signature');
    await forged.waitForSelector('#login-error');
    assert.match(
      await forged.$eval('#login-error', (el) => el.textContent ?? ''),
      /forged, expired or already used/,
    );
    await forged.browserContext().close();

    const view = await as(viewer.token);
    await view.waitForSelector(`tr[data-key="${w.ns}/${GUARDED}"]`);
    await view.goto(canaryUrl);
    await view.click('button[data-action="promote"]');
    await view.waitForFunction(
      () => /may not patch/.test(document.getElementById('notice')?.textContent ?? ''),
      {
        timeout: LONG,
      },
    );
    assert.match(
      await view.$eval('#notice', (el) => `${el.className} ${el.textContent}`),
      new RegExp(
        `^error promote: ${viewer.user.replace(/[.]/g, '\\.')} may not patch Canary ${w.ns}/${GUARDED}`,
      ),
    );
    await view.browserContext().close();

    const act = await as(patcher.token);
    const address = evil.address() as { port: number };
    await act.goto(`http://127.0.0.1:${address.port}/`);
    await act.waitForFunction(() => /cross-site request refused/.test(document.body?.textContent ?? ''), {
      timeout: LONG,
    });
    assert.equal(
      (await w.canary(GUARDED)).metadata.annotations?.['weir.dev/abort'],
      undefined,
      'nothing aborted',
    );

    await act.goto(canaryUrl);
    await act.click('button[data-action="abort"]');
    await act.waitForFunction(
      () => /abort requested: rolls back/.test(document.getElementById('notice')?.textContent ?? ''),
      {
        timeout: LONG,
      },
    );
    await act.waitForFunction(
      () => /Failed/.test(document.querySelector('dd[data-field="phase"]')?.textContent ?? ''),
      { timeout: LONG },
    );
    assert.match((await w.canary(GUARDED)).status?.message ?? '', /aborted by user/);
    await act.browserContext().close();
  });
});
