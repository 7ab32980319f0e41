// Failpoints: named places where a fault-injection test can make the controller die on purpose, to
// hit a crash window that random SIGKILLs would almost never land in (e.g. between the primary's
// template write and the status write that records the promotion). Off unless WEIR_FAILPOINT names
// the point; the chaos suite (test/chaos) sets it on a controller child process. Never set it in a
// real deployment.

export type FailpointName = 'after-promote-write' | 'after-status-write';

// Read once: the chaos suite sets it on the child's start, and process.env is a slow lookup.
const ARMED = process.env.WEIR_FAILPOINT;

/** SIGKILLs this process (no cleanup, no flush: a real crash) when WEIR_FAILPOINT names `name`. */
export function failpoint(name: FailpointName): void {
  if (ARMED !== name) return;
  process.stderr.write(`failpoint ${name}: killing the process\n`);
  process.kill(process.pid, 'SIGKILL');
}
