// Release windows end to end: a real controller on the local control plane and a Canary whose
// spec.schedule is closed now (today and tomorrow are blackout dates in UTC). A new revision waits in
// Queued with the next opening in its message and nothing changes in the cluster; `weir promote
// --now` (the real CLI) starts it, with an Event naming who asked; `weir get canary` shows the window.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { windowState } from '../../src/canary/window.ts';
import { gatewayCanary, startWorld, type World } from '../cluster/canary-world.ts';
import { projectRoot } from '../cluster/cluster.ts';
import { waitFor } from '../cluster/proc.ts';

const run = promisify(execFile);
let w: World;
before(async () => {
  w = await startWorld('canary-window');
});
after(async () => w?.stop());

const weir = (...args: string[]) =>
  run(process.execPath, [join(projectRoot, 'bin', 'weir.js'), ...args, '-n', w.ns], {
    cwd: projectRoot,
    env: { ...process.env, KUBECONFIG: w.cluster.kubeconfigPath, NO_COLOR: '1' },
  });

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe('release windows', () => {
  test('outside the window a new revision waits in Queued, untouched; promote --now starts it', async () => {
    const name = 'rw-app';
    const schedule = {
      timeZone: 'UTC',
      windows: [{ days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], start: '00:00', end: '24:00' }],
      blackoutDates: [day(0), day(1)],
    };
    await w.deploy(name, `example.com/${name}:1.0.0`);
    await w.exporters(name, { errorRate: 0 });
    await w.apply(gatewayCanary(name, { stepWeight: 50, maxWeight: 50 }, { schedule }));
    await w.waitPhase(name, 'Initialized', 60_000);
    await w.setImage(name, `example.com/${name}:2.0.0`);
    const queued = await w.waitPhase(name, 'Queued', 30_000);
    const expected = windowState(schedule as never, new Date());
    assert.ok(!expected.open && 'message' in expected);
    assert.equal(queued.status?.message, expected.message);
    assert.match(queued.status?.message ?? '', /; next opens \d{4}-\d\d-\d\dT00:00\+00:00$/);
    assert.equal((await w.deployment(name))?.spec.replicas, 0, 'no canary pods');
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 }, 'routes unchanged');
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:1.0.0`);
    assert.equal(queued.status?.canaryWeight, 0);

    const shown = await weir('get', 'canary', name);
    console.log(`weir get canary while queued:\n${shown.stdout}`);
    assert.match(shown.stdout, /^Window: +Mon-Sun 00:00-24:00 UTC; blackout .*; next opens /m);
    assert.match(shown.stdout, /the release window: .* `weir promote rw-app --now` overrides it/);
    await assert.rejects(weir('promote', name), /--now/, 'plain promote points to --now');

    const phases = await w.recordPhases(name);
    const asked = await weir('promote', name, '--now');
    assert.match(asked.stdout, /promotion outside the release window requested/);
    await w.waitPhase(name, 'Succeeded', 120_000);
    const seen = await phases.stop();
    assert.deepEqual(seen.slice(0, 2), ['Queued', 'Progressing'], seen.join(','));
    assert.equal(await w.image(`${name}-primary`), `example.com/${name}:2.0.0`);
    const override = await waitFor('WindowOverridden event', async () =>
      (await w.events(name)).find((e) => e.reason === 'WindowOverridden'),
    );
    assert.match(
      override.message,
      /^Release window overridden by \S+.* \(weir promote --now\): blackout date /,
    );
  });

  test('an unknown time zone: the controller reports the field, Ready=False, nothing created', async () => {
    const name = 'rw-zone';
    await w.deploy(name, `example.com/${name}:1.0.0`);
    const schedule = { timeZone: 'Mars/Olympus', windows: [{ days: ['Mon'], start: '09:00', end: '16:00' }] };
    await w.apply(gatewayCanary(name, { stepWeight: 50, maxWeight: 50 }, { schedule }));
    const c = await waitFor('Ready=False naming spec.schedule.timeZone', async () => {
      const got = await w.canary(name);
      const ready = got.status?.conditions?.find((x) => x.type === 'Ready');
      return ready?.status === 'False' ? got : undefined;
    });
    assert.match(c.status?.message ?? '', /spec\.schedule\.timeZone: unknown time zone "Mars\/Olympus"/);
    assert.equal(await w.deployment(`${name}-primary`), undefined, 'nothing applied');
  });

  test('a window crossing midnight is refused by the API server, naming the field', async () => {
    const schedule = { windows: [{ days: ['Fri'], start: '22:00', end: '02:00' }] };
    await assert.rejects(
      w.apply(gatewayCanary('rw-bad', { stepWeight: 50, maxWeight: 50 }, { schedule })),
      /spec\.schedule\.windows\[0\]\.end.*does not cross midnight/s,
    );
  });
});
