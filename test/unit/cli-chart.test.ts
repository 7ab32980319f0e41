// The terminal chart of `weir simulate`, snapshot-tested: values against the threshold band.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chart } from '../../src/cli/chart.ts';

test('a success rate that drops below its min: ● passing, ✗ failing, the bound as a line', () => {
  const points = [{}, ...Array.from({ length: 8 }, () => ({ value: 100 }))];
  points.push({ value: 97.1, failed: true }, { value: 90, failed: true });
  assert.equal(
    chart(points, { min: 99, from: '10:00', to: '10:10' }).join('\n'),
    [
      '   100 ┤ ●●●●●●●●',
      'min 99 ┤┄┄┄┄┄┄┄┄┄┄┄',
      '       │         ✗',
      '       │',
      '       │',
      '       │',
      '       │',
      '    90 ┤          ✗',
      '       └───────────',
      '        10:00  10:10',
    ].join('\n'),
  );
});

test('more ticks than columns share columns, and a failure in a shared column stays visible', () => {
  const points = Array.from({ length: 8 }, (_, i) => ({ value: i === 5 ? 700 : 100, failed: i === 5 }));
  assert.equal(
    chart(points, { max: 500, height: 4, width: 4, from: 'a', to: 'b' }).join('\n'),
    ['    700 ┤  ✗', 'max 500 ┤┄┄┄┄', '        │', '    100 ┤●●●●', '        └────', '         a   b'].join(
      '\n',
    ),
  );
});

test('no values at all', () => {
  assert.deepEqual(chart([{}, {}], { min: 1, from: 'a', to: 'b' }), ['(no values)']);
});
