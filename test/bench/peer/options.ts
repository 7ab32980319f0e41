// Options of `npm run bench:peer -- [--n 20] [--interval 15s] [--idle 60] [--rollouts 1] ...`.
import { parseArgs } from 'node:util';

export interface PeerOptions {
  /** Canaries that roll out, per controller. */
  n: number;
  /** Canaries whose check fails (failure detection time), per controller. */
  failing: number;
  /** analysis.interval, seconds. */
  intervalS: number;
  /** Seconds of the idle window (every Canary Initialized, nothing changing). */
  idleS: number;
  /** Successive rollouts of every Canary. */
  rollouts: number;
  /** Busy processes started beside the controllers during the rollouts (0 = none). */
  hog: number;
  /** The whole run gives up after this many minutes. */
  timeoutMin: number;
  /** Where the JSON result goes (a directory). */
  outDir: string;
  /** The controllers to run: both side by side, or one alone (at a scale where they would compete). */
  controllers: Array<'weir' | 'flagger'>;
}

const HELP = `npm run bench:peer -- [options]
  --n N            canaries that roll out, per controller (default 20)
  --failing F      canaries whose check fails, per controller (default 3, at most n)
  --interval D     analysis interval, e.g. 15s (default 15s)
  --idle S         seconds of the idle window (default 60)
  --rollouts R     successive rollouts (default 1)
  --hog K          K busy processes beside the controllers during rollouts (default 0)
  --timeout M      give up after M minutes (default 45 + n/20)
  --out DIR        directory of the JSON result (default bench-results)
  --only C         run one controller alone: weir or flagger (default: both at once)`;

export function parseOptions(argv: string[]): PeerOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string', default: '20' },
      failing: { type: 'string', default: '3' },
      interval: { type: 'string', default: '15s' },
      idle: { type: 'string', default: '60' },
      rollouts: { type: 'string', default: '1' },
      hog: { type: 'string', default: '0' },
      timeout: { type: 'string' },
      out: { type: 'string', default: 'bench-results' },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (flag: string, v: string, min: number): number => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new Error(`--${flag}: expected an integer ≥ ${min}, got ${v}`);
    return x;
  };
  const interval = /^(\d+)s$/.exec(values.interval);
  if (!interval) throw new Error(`--interval: expected seconds like 15s, got ${values.interval}`);
  const n = int('n', values.n, 1);
  return {
    n,
    failing: Math.min(int('failing', values.failing, 0), n),
    // Weir's shortest analysis.interval is 10s (weir convert raises shorter Flagger ones to it).
    intervalS: int('interval', interval[1]!, 10),
    idleS: int('idle', values.idle, 0),
    rollouts: int('rollouts', values.rollouts, 1),
    hog: int('hog', values.hog, 0),
    timeoutMin: values.timeout ? int('timeout', values.timeout, 1) : 45 + Math.ceil(n / 20),
    outDir: values.out,
    controllers: onlyOption(values.only),
  };
}

function onlyOption(v: string | undefined): PeerOptions['controllers'] {
  if (v === undefined) return ['weir', 'flagger'];
  if (v === 'weir' || v === 'flagger') return [v];
  throw new Error(`--only: expected weir or flagger, got ${v}`);
}
