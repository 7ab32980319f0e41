// The weir CLI as users run it in the integration tests: `node bin/weir.js ARGS`, a real process
// with its own KUBECONFIG and no colours, its output collected, killed if it outlives timeoutMs.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './cluster.ts';

export const WEIR_BIN = join(projectRoot, 'bin', 'weir.js');

export interface WeirRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface WeirRunOptions {
  /** The kubeconfig the command reads (a path that does not exist: no cluster). */
  kubeconfig: string;
  /** Default 60 s. */
  timeoutMs?: number;
  /** Written to its standard input, which is then closed. */
  input?: string;
}

export function runWeir(args: string[], o: WeirRunOptions): Promise<WeirRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WEIR_BIN, ...args], {
      cwd: projectRoot,
      env: { ...process.env, KUBECONFIG: o.kubeconfig, NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // a command that never reads stdin closes it early
    child.stdin.end(o.input ?? '');
  });
}

/** A run as an assertion message shows it. */
export const showRun = (r: WeirRun) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
