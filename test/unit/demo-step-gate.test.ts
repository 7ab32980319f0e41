// The demo's step gate: closed (403, saying how many requests are still missing) while the split
// meter has measured fewer than the minimum at a Progressing step above 0%, open otherwise.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { SplitMeter } from '../../scripts/demo/split-meter.ts';
import { startStepGate } from '../../scripts/demo/step-gate.ts';

const gate = await startStepGate(200);
after(() => gate.close());

const meterAt = (phase: string, weight: number, requests: number): SplitMeter => ({
  stop: () => Promise.resolve(0),
  current: () => ({ phase, weight, requests }),
});

async function ask(): Promise<[number, string]> {
  const res = await fetch(gate.url, { method: 'POST', body: '{}' });
  return [res.status, await res.text()];
}

test('no meter: open', async () => {
  gate.use(undefined);
  assert.equal((await ask())[0], 200);
});

test('a Progressing step above 0% with too few requests: closed, saying why', async () => {
  gate.use(meterAt('Progressing', 40, 150));
  assert.deepEqual(await ask(), [403, '150 of 200 requests measured at weight 40%']);
});

test('enough requests, weight 0 or another phase: open', async () => {
  for (const [phase, weight, requests] of [
    ['Progressing', 40, 200],
    ['Progressing', 0, 0],
    ['Promoting', 60, 10],
  ] as const) {
    gate.use(meterAt(phase, weight, requests));
    assert.equal((await ask())[0], 200, `${phase} ${weight}% ${requests}`);
  }
});
