// Child processes for test infrastructure: output goes to a log file, every process is killed when
// the test process exits (normally, on failure, or on SIGINT/SIGTERM), and waits are bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
  tail(lines?: number): string;
}

const live = new Set<Managed>();
let hooked = false;

function killAll(): void {
  for (const m of live) {
    try {
      m.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

export function startProcess(
  name: string,
  cmd: string,
  args: string[],
  opts: { logDir: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Managed {
  hookExit();
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Two pipes share one file: neither may end it (stderr written after stdout closed would throw
  // "write after end" and crash the test process); 'close' means both have drained.
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  child.on('close', () => out.end());
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(-1));
  });
  const m: Managed = {
    name,
    child,
    logFile,
    exited,
    tail(lines = 30) {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        live.delete(m);
        return;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      live.delete(m);
    },
  };
  live.add(m);
  void exited.then(() => live.delete(m));
  return m;
}

/**
 * How much longer waits for a condition last than their nominal timeout: 3× under CI, whose run
 * starts two test runners at once on a 2-core machine, where a start-up that takes 5 s alone can take
 * 40 s (a CI run missed a CLI's first frame by a 30 s wait). Waits only end early on success, so a
 * longer one costs time only when the condition never comes; `WEIR_TEST_WAIT_SCALE` overrides it.
 */
export const WAIT_SCALE = Math.max(
  1,
  Number(process.env.WEIR_TEST_WAIT_SCALE ?? (process.env.CI ? 3 : 1)) || 1,
);

/** Polls `check` until it returns a truthy value or `timeoutMs` (× WAIT_SCALE) passes; the error names `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs * WAIT_SCALE;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : '';
      throw new Error(`timed out after ${timeoutMs * WAIT_SCALE} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
