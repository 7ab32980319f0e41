// The chaos suite's invariants (test/chaos/invariants.ts) are pure: each must pass a clean history
// and name the Canary when its rule is broken, or the suite could pass while the controller fails.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkInvariants, type InvariantInput } from '../chaos/invariants.ts';
import { createRng, seedFrom } from '../chaos/prng.ts';
import type { History, StatusSample } from '../chaos/recorder.ts';
import type { SlackMessage } from '../cluster/slack-capture.ts';

const ns = 'chaos-x';
const msg = (text: string, at = Date.now()): SlackMessage => ({
  receivedAt: new Date(at),
  payload: { text },
  text,
  contentType: 'application/json',
});
const sample = (s: Partial<StatusSample>): StatusSample => ({ at: 0, metrics: [], ...s });
const ok = [{ name: 'request-success-rate', result: 'Successful', value: 100 }];

function clean(): InvariantInput {
  const history: History = {
    statuses: new Map([
      [
        'app',
        [
          sample({ phase: 'Initialized', lastAppliedSpec: 'r1', canaryWeight: 0 }),
          sample({ phase: 'Progressing', lastAppliedSpec: 'r2', canaryWeight: 0 }),
          sample({ phase: 'Progressing', lastAppliedSpec: 'r2', canaryWeight: 25, metrics: ok }),
          sample({ phase: 'Progressing', lastAppliedSpec: 'r2', canaryWeight: 50, metrics: ok }),
          sample({ phase: 'Promoting', lastAppliedSpec: 'r2', canaryWeight: 0, metrics: ok }),
          sample({ phase: 'Succeeded', lastAppliedSpec: 'r2', canaryWeight: 0, metrics: ok }),
        ],
      ],
    ]),
    weights: new Map([['app', [0, 25, 50, 0]]]),
    weightBreaks: new Map(),
    primaryImages: new Map([['app-primary', ['img:1', 'img:2']]]),
    targets: new Map(),
    gaps: 0,
  };
  return {
    ns,
    plans: [{ name: 'app', initialImage: 'img:1', stepWeight: 25, maxWeight: 50 }],
    releases: [{ canary: 'app', image: 'img:2', expect: 'Succeeded', outcome: 'Succeeded' }],
    history,
    finalPhases: new Map([['app', 'Succeeded']]),
    slack: [
      msg(`app.${ns}: New revision detected, progressing canary analysis`),
      msg(`app.${ns}: Canary analysis completed successfully, promotion finished`),
    ],
  };
}

test('a clean run passes every invariant', () => {
  assert.deepEqual(checkInvariants(clean()), []);
});

test('each broken rule is reported', () => {
  const cases: Array<[string, (i: InvariantInput) => void, RegExp]> = [
    ['outcome', (i) => (i.releases[0]!.outcome = 'Failed'), /expected Succeeded, ended Failed/],
    ['unearned primary', (i) => i.history.primaryImages.get('app-primary')!.push('img:bad'), /ran img:bad/],
    ['skipped step', (i) => i.history.weights.set('app', [0, 50, 0]), /weight went 0 -> 50/],
    ['repeated step', (i) => i.history.weights.set('app', [0, 25, 50, 25, 50, 0]), /weight went 50 -> 25/],
    ['non-terminal', (i) => i.finalPhases.set('app', 'Progressing'), /left in phase Progressing/],
    ['duplicate alert', (i) => i.slack.push(i.slack[1]!), /2 "promotion finished" alerts for 1/],
    ['missing alert', (i) => i.slack.pop(), /0 "promotion finished" alerts for 1 transitions \(lost\)/],
    [
      'promotion on faulty data',
      (i) =>
        (i.history.statuses.get('app')![4]!.metrics = [{ name: 'request-success-rate', result: 'Error' }]),
      /promoted with request-success-rate=Error/,
    ],
    [
      'advance on faulty data',
      (i) =>
        (i.history.statuses.get('app')![3]!.metrics = [{ name: 'request-success-rate', result: 'NoData' }]),
      /advanced to 50 with request-success-rate=NoData/,
    ],
  ];
  for (const [what, breakIt, expected] of cases) {
    const input = clean();
    breakIt(input);
    const found = checkInvariants(input);
    assert.ok(
      found.some((v) => expected.test(v)),
      `${what}: ${JSON.stringify(found)}`,
    );
  }
});

const PROMOTED = 'Canary analysis completed successfully, promotion finished';

/**
 * The clean run whose "promotion finished" alert stays in status.pendingAlerts from t=200 to t=500
 * (its removal recorded then), captured at `captures` (ms), with the controller killed at `kills`.
 */
function outbox(captures: number[], kills: number[]): InvariantInput {
  const i = clean();
  const samples = i.history.statuses.get('app')!;
  const done = samples.pop()!;
  samples.forEach((s, k) => (s.at = k * 10));
  samples.push({ ...done, at: 200, pending: [{ id: 'p2', message: PROMOTED }] }, { ...done, at: 500 });
  i.slack = [i.slack[0]!, ...captures.map((at) => msg(`app.${ns}: ${PROMOTED}`, at))];
  i.kills = kills;
  return i;
}

test('alerts are delivered at least once: a duplicate passes only when a kill explains it', () => {
  // Captured at 250, killed at 300 with the alert still pending: the next controller sends it again.
  assert.deepEqual(checkInvariants(outbox([250, 400], [300])), []);
  const unexplained: Array<[string, InvariantInput]> = [
    ['no kill', outbox([250, 400], [])],
    ['killed before the first capture', outbox([250, 400], [240])],
    ['killed after the removal was recorded', outbox([250, 600], [550])],
    ['killed before the alert was pending', outbox([250, 400], [150])],
    ['one kill, two extra copies', outbox([250, 400, 450], [300])],
  ];
  for (const [what, input] of unexplained)
    assert.deepEqual(
      checkInvariants(input),
      [
        `app: ${input.slack.length - 1} "promotion finished" alerts for 1 transitions (${input.slack.length - 2} extra, ${what === 'one kill, two extra copies' ? 1 : 0} explained by a kill)`,
      ],
      what,
    );
  // Two kills while it was pending (captured before each): two extra copies explained.
  assert.deepEqual(checkInvariants(outbox([250, 350, 450], [300, 400])), []);
  // A kill never excuses a lost alert.
  assert.match(
    checkInvariants(outbox([], [300])).join('\n'),
    /0 "promotion finished" alerts for 1 transitions \(lost\)/,
  );
});

test('the PRNG replays from its seed; --seed wins over the environment', () => {
  const a = createRng(42);
  const b = createRng(42);
  const xs = Array.from({ length: 5 }, () => a.int(0, 1000));
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.int(0, 1000)),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => createRng(43).int(0, 1000)),
  );
  assert.equal(seedFrom(['--seed', '7'], { WEIR_CHAOS_SEED: '9' }), 7);
  assert.equal(seedFrom([], { WEIR_CHAOS_SEED: '9' }), 9);
  assert.throws(() => seedFrom(['--seed', 'x'], {}), /--seed/);
});
