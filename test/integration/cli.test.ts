// The weir CLI as users run it (`node bin/weir.js …`, a real process with KUBECONFIG) against the
// local control plane with canaries actually running under the Weir controller: the live view under
// tmux, `status` exit codes for a promoted, a failed and an unfinished run, every action changing
// the run, GitSync get/sync against a real git server, exit codes of user errors, and `convert`
// of Flagger and Argo Rollouts manifests validated by their real CRDs and by the API server.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { startWorld, type World } from '../cluster/canary-world.ts';
import { applyCrds, createNamespace, projectRoot } from '../cluster/cluster.ts';
import { commitFiles, startGitServer, type GitServer } from '../cluster/git-server.ts';
import { waitFor } from '../cluster/proc.ts';
import { FIXTURES } from '../fixtures/load.ts';
import { runWeir, showRun as show, WEIR_BIN, type WeirRunOptions } from '../cluster/weir-cli.ts';

const SHARED_CRDS = join(projectRoot, '..', 'shared', 'crds');

let w: World;
let git: GitServer | undefined;
const tmuxSocket = `weir-cli-${randomBytes(4).toString('hex')}`;

before(async () => {
  w = await startWorld('cli');
});
after(async () => {
  spawnSync('tmux', ['-L', tmuxSocket, 'kill-server']);
  await w?.stop();
  await git?.stop();
});

/** Runs `weir ARGS` with the test cluster's kubeconfig unless told otherwise. */
const weir = (args: string[], o: Partial<WeirRunOptions> = {}) =>
  runWeir(args, { kubeconfig: w.cluster.kubeconfigPath, ...o });

const canarySpec = (analysis: Record<string, unknown>) => ({
  provider: 'gatewayapi',
  targetRef: { kind: 'Deployment', name: '' },
  service: { port: 8080, gatewayRefs: [{ name: 'public', namespace: 'gateway' }] },
  analysis: {
    interval: '10s',
    metrics: [{ name: 'request-success-rate', thresholdRange: { min: 95 } }],
    ...analysis,
  },
});

/** A Deployment with exporters for its primary and canary pods, and its Canary, Initialized. */
async function setup(name: string, analysis: Record<string, unknown>, errorRate = 0) {
  await w.deploy(name, `example.com/${name}:1.0.0`);
  const ex = await w.exporters(name, { errorRate: 0 });
  const spec = canarySpec(analysis);
  spec.targetRef.name = name;
  await w.apply({ apiVersion: 'weir.dev/v1alpha1', kind: 'Canary', metadata: { name }, spec });
  await w.waitPhase(name, 'Initialized', 90_000);
  ex.canary.set({ errorRate });
  return ex;
}

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', tmuxSocket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

describe('weir CLI on a live cluster', { concurrency: true }, () => {
  test('get canary --watch under tmux shows weight and step advancing and ends on Succeeded; status exits 0', async (t) => {
    await setup('watched', { threshold: 2, stepWeight: 20, maxWeight: 60 });
    const cmd = `trap : INT; KUBECONFIG='${w.cluster.kubeconfigPath}' '${process.execPath}' '${WEIR_BIN}' get canary watched -n ${w.ns} --watch; echo "weir exited $?"; sleep 300`;
    tmux('new-session', '-d', '-s', 'watch', '-x', '200', '-y', '50', cmd);
    const frame = () => tmux('capture-pane', '-p', '-t', 'watch');
    // A cold start (tsx compiling the CLI) on a loaded machine can take a while; the error shows
    // what was drawn, so a wrong frame is told apart from a slow one.
    let first = '';
    await waitFor(
      'the first frame',
      () => /Status: +✔ Initialized/.test((first = frame())),
      60_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast frame:\n${first}`);
    });
    await w.setImage('watched', 'example.com/watched:2.0.0');
    // As in CI: `kubectl apply`, then `weir status` (the old revision's Initialized is no verdict).
    const status = weir(['status', 'watched', '-n', w.ns, '--timeout', '4m'], { timeoutMs: 300_000 });

    const seen: string[] = []; // "weight|step" as drawn, without repeats
    let last = '';
    await waitFor(
      'the view to show Succeeded after the run',
      () => {
        last = frame();
        const weight = /Weight: +canary (\d+)%/.exec(last)?.[1];
        const step = /Step: +(\d+\/\d+)/.exec(last)?.[1];
        const key = `${weight}|${step}`;
        if (weight && step && seen[seen.length - 1] !== key) seen.push(key);
        // The Succeeded Event is recorded after the status write; the view redraws when it arrives.
        return (
          seen.some((s) => s.startsWith('60|')) &&
          /Status: +✔ Succeeded/.test(last) &&
          /Events:[\s\S]*Succeeded/.test(last)
        );
      },
      240_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nframes seen: ${seen.join(' ')}\nlast frame:\n${last}`);
    });
    const during = seen.filter((s) => !s.startsWith('0|'));
    assert.deepEqual(
      during.slice(0, 3),
      ['20|1/3', '40|2/3', '60|3/3'],
      `each step drawn in order; all frames: ${seen.join(' ')}`,
    );
    assert.match(last, /Images: +example\.com\/watched:2\.0\.0 \(primary\)/, last);
    assert.match(
      last,
      /Metrics:\n +NAME +VALUE +MIN +MAX +AGE +RESULT\n +request-success-rate +[\d.]+ +95 +- +\S+ +✔/,
      last,
    );
    t.diagnostic(`last frame:\n${last.trimEnd()}`);
    tmux('send-keys', '-t', 'watch', 'C-c');
    await waitFor('Ctrl-C to end the watch', () => /weir exited 0/.test(frame()), 15_000, 200);

    const r = await status;
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[lines.length - 1]!, /✔ Canary .*\/watched is promoted \(Succeeded\)/);
    const texts = lines.slice(0, -1).map((l) => l.replace(/^\S+\s+/, ''));
    assert.ok(
      texts.some((t) => /^Progressing +weight \d+% +step \d\/3 +failed 0\/2/.test(t)),
      r.stdout,
    );
    assert.match(texts[texts.length - 1]!, /^Succeeded +weight 0%/, r.stdout);
    const weights = texts
      .filter((t) => t.startsWith('Progressing'))
      .map((t) => Number(/weight (\d+)%/.exec(t)?.[1]));
    assert.deepEqual(
      weights,
      [...weights].sort((a, b) => a - b),
      'weights only go up while progressing',
    );
    assert.deepEqual(
      texts.filter((t, i) => t === texts[i - 1]),
      [],
      'each change printed once',
    );

    const list = await weir(['list', 'canaries', '-n', w.ns]);
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, /^NAME +NAMESPACE +STATUS +WEIGHT +STEP +FAILED +LAST TRANSITION$/m);
    assert.match(list.stdout, new RegExp(`^watched +${w.ns} +✔ Succeeded +0% +3/3 +0/2 +\\S+ ago$`, 'm'));
    const json = await weir(['get', 'canary', 'watched', '-n', w.ns, '-o', 'json']);
    const obj = JSON.parse(json.stdout) as { kind: string; status: { phase: string }; metadata: object };
    assert.equal(obj.kind, 'Canary');
    assert.equal(obj.status.phase, 'Succeeded');
    assert.ok(!('managedFields' in obj.metadata));
    const all = await weir(['list', 'canaries', '-A', '-o', 'yaml']);
    const items = (parse(all.stdout) as { items: Array<{ metadata: { name: string; namespace: string } }> })
      .items;
    assert.ok(items.some((i) => i.metadata.name === 'watched' && i.metadata.namespace === w.ns));
  });

  test('status exits 1 when the canary fails analysis (even right after the new revision)', async () => {
    await setup('failing', { threshold: 1, stepWeight: 20, maxWeight: 60 }, 0.5);
    await w.setImage('failing', 'example.com/failing:2.0.0');
    // Started at once: the Canary still reads Initialized for the old revision, which is not a verdict.
    const r = await weir(['status', 'failing', '-n', w.ns, '--timeout', '3m'], { timeoutMs: 240_000 });
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stdout,
      /✖ Canary .*\/failing failed: RolledBack: Failed checks threshold reached 1: request-success-rate/,
    );
    assert.equal((await w.canary('failing')).status?.phase, 'Failed');
  });

  test('promote, pause, resume, abort, retry and promote --full steer a run; status times out with 2', async () => {
    const name = 'steered';
    await setup(name, {
      threshold: 3,
      steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 40 }, { pause: {} }],
    });
    const ns = ['-n', w.ns];
    for (const action of ['promote', 'abort', 'retry', 'resume']) {
      const r = await weir([action, name, ...ns]);
      assert.equal(r.code, 64, `${action} while idle is refused: ${show(r)}`);
      assert.match(
        r.stderr,
        new RegExp(`^error: ${action} refused: Canary ${w.ns}/${name} is Initialized`),
        r.stderr,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const idle = await w.canary(name);
    assert.deepEqual(
      Object.keys(idle.metadata.annotations ?? {}).filter((k) => k.startsWith('weir.dev/')),
      [],
      'a refused action patches nothing',
    );

    await w.setImage(name, 'example.com/steered:2.0.0');
    const atPause = (step: number) =>
      waitFor(
        `${name} paused at step ${step}`,
        async () => {
          const c = await w.canary(name);
          return c.status?.message?.startsWith(`Paused: step ${step}, waiting`) ? c : undefined;
        },
        90_000,
        300,
      );
    assert.equal((await atPause(2)).status?.canaryWeight, 20);

    const timeout = await weir(['status', name, ...ns, '--timeout', '3s']);
    assert.equal(timeout.code, 2, show(timeout));
    assert.match(timeout.stdout, /timed out after 3s: Canary .* is Progressing/);

    const pause = await weir(['pause', name, ...ns]);
    assert.equal(pause.code, 0, show(pause));
    assert.match(pause.stdout, /pause requested \(weir\.dev\/paused=true\)/);
    assert.equal((await weir(['pause', name, ...ns])).code, 64, 'already paused');
    const promote = await weir(['promote', name, ...ns]);
    assert.equal(promote.code, 0, show(promote));
    assert.match(
      promote.stdout,
      /promote requested \(weir\.dev\/promote=\S+ -weir\.dev\/promote-full\)\n +ends the pause at step 2: .*\(once resumed with `weir resume`\)/,
    );
    // Paused by the user, the promote waits: a whole analysis interval later nothing moved.
    await waitFor(
      `${name} to report the user pause`,
      async () => {
        const c = await w.canary(name);
        return c.status?.message?.startsWith('Paused: by user') ? c : undefined;
      },
      30_000,
      300,
    );
    await new Promise((r) => setTimeout(r, 11_000));
    const held = await w.canary(name);
    assert.equal(held.status?.stepIndex, 1, `held at the pause step: ${held.status?.message}`);
    assert.equal(held.status?.canaryWeight, 20);

    const resume = await weir(['resume', name, ...ns]);
    assert.equal(resume.code, 0, show(resume));
    assert.match(resume.stdout, /resume requested \(-weir\.dev\/paused\)/);
    assert.equal(
      (await atPause(4)).status?.canaryWeight,
      40,
      'the pending promote ended the pause, 40% came next',
    );
    assert.deepEqual(await w.routeWeights(name), { primary: 60, canary: 40 });

    const abort = await weir(['abort', name, ...ns]);
    assert.equal(abort.code, 0, show(abort));
    const failed = await w.waitPhase(name, 'Failed', 30_000);
    assert.match(failed.status?.message ?? '', /aborted by user/);
    assert.deepEqual(await w.routeWeights(name), { primary: 100, canary: 0 });
    assert.equal((await weir(['abort', name, ...ns])).code, 64, 'nothing left to abort');

    const retry = await weir(['retry', name, ...ns]);
    assert.equal(retry.code, 0, show(retry));
    assert.match(retry.stdout, /retry requested[\s\S]*runs the failed revision again/);
    const rerun = await waitFor(
      `${name} to run again`,
      async () => {
        const c = await w.canary(name);
        return c.status?.phase === 'Progressing' && c.status.canaryWeight === 20 ? c : undefined;
      },
      60_000,
      300,
    );
    assert.equal(rerun.status?.failedChecks, 0);

    const full = await weir(['promote', name, '--full', ...ns]);
    assert.equal(full.code, 0, show(full));
    assert.match(full.stdout, /full promotion requested/);
    const done = await w.waitPhase(name, ['Succeeded', 'Failed'], 90_000);
    assert.equal(done.status?.phase, 'Succeeded', done.status?.message);
    const ok = await weir(['status', name, ...ns, '--timeout', '20s']);
    assert.equal(ok.code, 0, show(ok));
  });

  test('get gitsync lists it; sync gitsync requests a sync and waits for the new revision', async () => {
    git = await startGitServer();
    const repo = await git.createRepo('apps');
    const cm = (v: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cli-synced\ndata:\n  v: "${v}"\n`;
    const first = await commitFiles(repo.url, { 'cm.yaml': cm('1') }, 'first');
    await w.apply({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'GitSync',
      metadata: { name: 'apps' },
      spec: { url: repo.url, interval: '1h', targetNamespace: w.ns },
    });
    const ready = await waitFor(
      'GitSync apps Ready at the first commit',
      async () => {
        const r = await weir(['get', 'gitsync', '-n', w.ns]);
        return r.code === 0 && r.stdout.includes(first) && / True /.test(r.stdout) ? r : undefined;
      },
      90_000,
      1000,
    );
    assert.match(ready.stdout, /^NAME +URL +REVISION +READY +MESSAGE$/m);
    assert.match(
      ready.stdout,
      new RegExp(`^apps +${repo.url.replace(/[.]/g, '\\.')} +\\S*${first}\\S* +True `, 'm'),
    );

    const second = await commitFiles(repo.url, { 'cm.yaml': cm('2') }, 'second');
    const r = await weir(['sync', 'gitsync', 'apps', '-n', w.ns, '--timeout', '90s'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /sync requested \(weir\.dev\/sync-requested=\S+\)/);
    assert.match(r.stdout, new RegExp(`✔ synced to revision \\S*${second}`));
    const g = await w.kube.get<
      {
        metadata: { annotations: Record<string, string> };
        status: { lastHandledSyncRequest: string };
      } & Record<string, never>
    >({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'GitSync',
      namespace: w.ns,
      name: 'apps',
    });
    assert.equal(g?.status.lastHandledSyncRequest, g?.metadata.annotations['weir.dev/sync-requested']);
    const synced = await w.kube.get<{ data: { v: string } } & Record<string, never>>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: w.ns,
      name: 'cli-synced',
    });
    assert.equal(synced?.data.v, '2', 'the sync applied the new commit (the interval is 1h)');
    const one = await weir(['get', 'gitsync', 'apps', '-n', w.ns, '-o', 'yaml']);
    assert.equal((parse(one.stdout) as { kind: string }).kind, 'GitSync');
  });

  test('user errors map to exit codes without stack traces', async () => {
    const missing = await weir(['get', 'canary', 'nope', '-n', w.ns]);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, new RegExp(`^error: Canary ${w.ns}/nope not found`));
    assert.equal((await weir(['promote', 'nope', '-n', w.ns])).code, 1);
    const usage = await weir(['get', 'canary']);
    assert.equal(usage.code, 64, show(usage));
    const badOutput = await weir(['list', 'canaries', '-o', 'table']);
    assert.equal(badOutput.code, 64, show(badOutput));
    const badTimeout = await weir(['status', 'x', '--timeout', 'soon']);
    assert.equal(badTimeout.code, 64, show(badTimeout));
    const badContext = await weir(['list', 'canaries', '--context', 'nowhere']);
    assert.equal(badContext.code, 64, show(badContext));
    // A kubeconfig whose server does not listen: the API is unreachable.
    const dead = join(w.logFile, '..', 'dead-kubeconfig');
    const kc = readFileSync(w.cluster.kubeconfigPath, 'utf8').replace(
      /server: \S+/,
      'server: https://127.0.0.1:1',
    );
    writeFileSync(dead, kc);
    const unreachable = await weir(['list', 'canaries'], { kubeconfig: dead });
    assert.equal(unreachable.code, 69, show(unreachable));
    assert.match(unreachable.stderr, /^error: cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:1/);
    // --kubeconfig and --context win over $KUBECONFIG (here the unreachable one).
    const context = /current-context: (\S+)/.exec(readFileSync(w.cluster.kubeconfigPath, 'utf8'))?.[1];
    assert.ok(context);
    const flags = await weir(
      ['list', 'canaries', '-n', w.ns, '--kubeconfig', w.cluster.kubeconfigPath, '--context', context],
      { kubeconfig: dead },
    );
    assert.equal(flags.code, 0, show(flags));
    assert.match(flags.stdout, /^(NAME +NAMESPACE|No canaries found\.)/, 'the table (or none yet)');
    for (const r of [missing, usage, badOutput, badTimeout, badContext, unreachable])
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('convert: Flagger and Argo inputs valid against their CRDs become Weir objects that lint and apply', async () => {
    // The shared cluster (the cluster test installs every third-party CRD there too); flagger.app
    // also defines `canaries`, so every command here names the group.
    const crdCluster = w.cluster;
    await applyCrds(crdCluster, [join(SHARED_CRDS, 'flagger'), join(SHARED_CRDS, 'argo-rollouts')]);
    const inputs = await createNamespace(crdCluster, 'convert-in');
    const outputs = await createNamespace(crdCluster, 'convert-out');
    for (const file of ['flagger.yaml', 'argo-rollout.yaml']) {
      const path = join(FIXTURES, 'convert', file);
      const created = await crdCluster.kubectl(['create', '--validate=strict', '-n', inputs, '-f', path]);
      assert.equal(created.code, 0, `${file} is valid against the real CRDs: ${created.stderr}`);

      const converted = await weir(['convert', '-f', path]);
      assert.equal(converted.code, 0, show(converted));
      assert.match(converted.stderr, /thing\(s\) not converted as they were:/, 'what was left out is listed');
      const kinds = parseAllDocuments(converted.stdout).map((d) => (d.toJS() as { kind: string }).kind);
      assert.ok(kinds.includes('Canary'), kinds.join());

      const lint = await weir(['lint', '-f', '-'], { input: converted.stdout });
      assert.equal(lint.code, 0, show(lint));
      assert.match(lint.stdout, /object\(s\) valid/);
      const applied = await crdCluster.kubectl(['create', '--validate=strict', '-n', outputs, '-f', '-'], {
        input: converted.stdout,
      });
      assert.equal(applied.code, 0, `the API server accepts the converted ${file}: ${applied.stderr}`);
    }
    const got = await crdCluster.kubectl(['get', 'canaries.weir.dev', '-n', outputs, '-o', 'name']);
    assert.deepEqual(got.stdout.trim().split('\n').sort(), [
      'canary.weir.dev/podinfo',
      'canary.weir.dev/rollouts-demo',
    ]);
    const strict = await weir(['convert', '--strict', '-f', join(FIXTURES, 'convert', 'flagger.yaml')]);
    assert.equal(strict.code, 65, '--strict fails when something was left out');
  });
});
