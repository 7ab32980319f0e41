// The dashboard in a real headless browser (Debian's chromium driven by puppeteer-core) against the
// local control plane and a real controller, served as `weir dashboard` serves it (127.0.0.1, the
// user's kubeconfig, the one-time URL token): the weight chart moves as the steps happen, clicking
// Promote ends a manual pause, and a failing metric shows on its chart. Screenshots of the list and
// the Canary page go to $WEIR_SCREENSHOT_DIR (scripts/screenshots.ts: docs/img), else the test logs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { startLocalDashboard, type RunningDashboard } from '../../src/dashboard/serve.ts';
import { silentLogger } from '../../src/log.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { projectRoot } from '../cluster/cluster.ts';

const CHROMIUM = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';
const STEPS = 'dash-steps';
const FAILING = 'dash-failing';
// A loaded 2-core CI machine: every wait is on a DOM condition, with room to spare.
const LONG = 180_000;

let w: World;
let dash: RunningDashboard & { loginUrl: string };
let browser: Browser;
let page: Page;
let shots: string;

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
  ]);
  await Promise.all([w.waitPhase(STEPS, 'Initialized', 90_000), w.waitPhase(FAILING, 'Initialized', 90_000)]);
  dash = await startLocalDashboard({
    kc: w.cluster.kc,
    log: silentLogger(),
    namespace: w.ns,
    port: 0,
    user: 'admin',
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
  await w?.stop();
});

/** The weights the chart plots (as its element records them after every redraw), repeats collapsed. */
const chartWeights = async (p: Page): Promise<string> => {
  const all = (await p.$eval('#weight-chart', (el) => (el as HTMLElement).dataset.weights ?? '')).split(',');
  return all.filter((x, i) => i === 0 || x !== all[i - 1]).join(',');
};

describe('dashboard in headless Chromium', () => {
  test('the one-time URL logs in once; the list shows both Canaries', async () => {
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
});
