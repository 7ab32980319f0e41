// How loaded the whole machine was while the controllers rolled out: the busy share of every core
// (/proc/stat) and the CPU time of each process this benchmark started (API server, etcd, KWOK,
// Prometheus, the controllers...), from /proc. Step lateness on a saturated machine is the
// control plane's latency as much as the controller's; these figures say which.
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { nearestSample, parseStat } from './controllers.ts';

interface LoadSample {
  at: number;
  /** Jiffies of all cores: busy (everything but idle and iowait) and total. */
  busy: number;
  total: number;
  /** CPU seconds so far of each process of ours, by program name (summed over same-named ones). */
  byProgram: Map<string, number>;
}

export interface MachineLoad {
  /** Busy share of all cores within [from, to], in percent, and CPU seconds per program. */
  between(from: number, to: number): { busyPct: number; cpuSByProgram: Record<string, number> };
  stop(): void;
}

function coreJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((s, x) => s + x, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

interface Proc {
  pid: number;
  ppid: number;
  program: string;
  cpuS: number;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [argv0 = '', argv1 = ''] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    // Node processes are told apart by their script: the controller (weir.js) from a hog (-e).
    const program = basename(argv0) === 'node' ? `node ${basename(argv1)}` : basename(argv0);
    return {
      pid,
      ...parseStat(stat),
      program: program || stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** CPU seconds of every live descendant of `root`, by program name. */
function descendantsCpu(root: number): Map<string, number> {
  const procs = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p): p is Proc => !!p);
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out = new Map<string, number>();
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.set(c.program, (out.get(c.program) ?? 0) + c.cpuS);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/** Samples every `everyMs` until stopped. */
export function sampleMachineLoad(everyMs = 2000): MachineLoad {
  const samples: LoadSample[] = [];
  const take = () =>
    samples.push({ at: Date.now(), ...coreJiffies(), byProgram: descendantsCpu(process.pid) });
  take();
  const timer = setInterval(take, everyMs);
  timer.unref();
  const nearest = (at: number) => nearestSample(samples, at);
  return {
    between(from, to) {
      const a = nearest(from);
      const b = nearest(to);
      const busyPct =
        b.total > a.total ? Math.round((1000 * (b.busy - a.busy)) / (b.total - a.total)) / 10 : 0;
      const cpuSByProgram: Record<string, number> = {};
      // A process that exits within the window is left out (it has no later sample).
      for (const [program, cpuS] of b.byProgram) {
        const used = cpuS - (a.byProgram.get(program) ?? 0);
        if (used >= 0.05) cpuSByProgram[program] = Math.round(used * 10) / 10;
      }
      return { busyPct, cpuSByProgram };
    },
    stop: () => clearInterval(timer),
  };
}
