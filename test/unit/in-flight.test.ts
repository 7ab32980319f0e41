// Watch events held while a write of the same object awaits its answer (src/kube/in-flight.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InFlightWrites } from '../../src/kube/in-flight.ts';

test('events are held while a write is in flight and judged against its answer', () => {
  const f = new InFlightWrites();
  const ran: string[] = [];
  assert.equal(
    f.hold('a', '1', () => ran.push('1')),
    false,
    'no write in flight: judge now',
  );
  f.begin('a');
  f.begin('a'); // two writes of the same object
  assert.equal(
    f.hold('a', '5', () => ran.push('5')),
    true,
  );
  assert.equal(
    f.hold('a', '6', () => ran.push('6')),
    true,
  );
  assert.equal(
    f.hold('b', '7', () => ran.push('7')),
    false,
    'another object',
  );
  f.end('a', (rv) => rv === '5');
  assert.deepEqual(ran, [], 'one write still in flight');
  f.end('a', (rv) => rv === '5');
  assert.deepEqual(ran, ['6'], 'the echo (5) is dropped, the other change runs');
  assert.equal(f.size, 0);
  f.end('a', () => false); // an end without a flight is harmless
  assert.equal(f.size, 0);
});
