// A CPU hog: K busy child processes, each bounded in time, so the controllers run on a loaded machine.
import { spawn } from 'node:child_process';

export function startHog(k: number, maxMs: number): { stop(): void } {
  const loop = `const end = Date.now() + ${maxMs}; while (Date.now() < end) {}`;
  const children = Array.from({ length: k }, () =>
    spawn(process.execPath, ['-e', loop], { stdio: 'ignore' }),
  );
  const stop = () => children.forEach((c) => c.kill('SIGKILL'));
  process.on('exit', stop);
  return { stop };
}
