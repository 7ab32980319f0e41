// Go-built tools that a test run builds in the background while other tests already run.
// scripts/run-tests.ts builds the control plane first (every integration test needs it) and starts
// the data-plane tools' build (Traefik, the largest, podinfo, Prometheus) beside it; it names a status
// directory in WEIR_BACKGROUND_BUILD. The harness modules that need one of those tools ask `awaitBin`,
// which returns at once when the tool is cached and otherwise waits for that build to finish.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binPath, projectRoot, type Component } from './cluster.ts';
import { waitFor } from './proc.ts';

const ENV = 'WEIR_BACKGROUND_BUILD';
// Traefik alone takes 15–30 minutes cold on 2 cores; give the build more than that before failing.
const BUILD_WAIT_MS = 60 * 60_000;

/**
 * Starts `tools/build.sh <tools>` detached from the caller's wait, logging into a fresh status
 * directory, and returns the environment entry that lets `awaitBin` (in any child process) wait for
 * it. The build runs in the caller's network namespace (it needs the Go module proxy).
 */
export function startBackgroundBuild(tools: string[]): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-build-'));
  const out = openSync(join(dir, 'build.log'), 'a');
  const script = `bash "$1" "\${@:2}"; echo $? > "${join(dir, 'exit-code')}"`;
  const child = spawn(
    'bash',
    ['-c', script, 'build', join(projectRoot, 'test/cluster/tools/build.sh'), ...tools],
    {
      stdio: ['ignore', out, out],
    },
  );
  child.unref();
  process.on('exit', () => child.kill());
  return { [ENV]: dir };
}

/** The tool's binary; waits for a background build of it when one runs (see the file comment). */
export async function awaitBin(component: Component, name: string): Promise<string> {
  const dir = process.env[ENV];
  const built = (): string | undefined => {
    try {
      return binPath(component, name);
    } catch {
      return undefined;
    }
  };
  const now = built();
  if (now || !dir) return now ?? binPath(component, name);
  const exitCode = (): string | undefined => {
    const f = join(dir, 'exit-code');
    return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
  };
  // Built, or the whole background build ended (then binPath names what is missing).
  const log = join(dir, 'build.log');
  await waitFor(
    `${component} from the background build (log: ${log})`,
    () => Boolean(built() || exitCode()),
    BUILD_WAIT_MS,
    2000,
  );
  const bin = built();
  if (bin) return bin;
  throw new Error(`building ${component} failed (exit ${exitCode()}); log: ${log}`);
}
