// The demo's gate: Weir asks it before every weight increase (confirm-traffic-increase) and before
// promotion (confirm-promotion), and it opens only once the split meter has measured enough
// requests at the current step. So every printed split rests on a real sample however slow the
// machine is, instead of on how many requests happened to fit in one analysis interval; a closed
// gate only makes Weir ask again at its next tick. No meter running (between releases, --keep):
// always open.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SplitMeter } from './split-meter.ts';

/** Requests a step needs before the gate lets the run go on (the demo test asserts at least this many). */
export const MIN_STEP_REQUESTS = 200;

export interface StepGate {
  url: string;
  /** The meter the gate consults from now on (undefined: open). */
  use(meter: SplitMeter | undefined): void;
  close(): Promise<void>;
}

export async function startStepGate(minRequests = MIN_STEP_REQUESTS): Promise<StepGate> {
  let meter: SplitMeter | undefined;
  const server = createServer((req, res) => {
    req.resume();
    const step = meter?.current();
    // Weight 0 has nothing to measure; outside a Progressing step the meter cannot tell.
    const open = !step || step.phase !== 'Progressing' || step.weight === 0 || step.requests >= minRequests;
    res.statusCode = open ? 200 : 403;
    res.end(
      open ? 'measured' : `${step!.requests} of ${minRequests} requests measured at weight ${step!.weight}%`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    use(m) {
      meter = m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
