// What the "declare it in Git" scenarios share: a canary world with a git server, the podinfo Deployment and its Canary as files in a
// repository (the Deployment with comments, as people write them, so edits can be checked to keep
// them), and the GitSync verbs on any cluster client — read its status, and request a sync the way
// `weir sync gitsync` does, resolving once the controller acknowledged it.
import { after, before } from 'node:test';
import type { GitSyncStatus } from '../../src/api/gitsync.ts';
import { SYNC_REQUEST_ANNOTATION } from '../../src/gitsync/controller.ts';
import type { Kube } from '../../src/kube/client.ts';
import { startWorld, type World } from './canary-world.ts';
import { startGitServer, type GitServer } from './git-server.ts';
import { waitFor } from './proc.ts';

export interface GitCanaryWorld {
  /** The canary world (namespace, whole controller, exporters); set once `before` ran. */
  w: World;
  /** The loopback git server. */
  git: GitServer;
}

/** A canary world and a git server for the test file: started before its tests, stopped after. */
export function gitCanaryWorld(prefix: string): GitCanaryWorld {
  const env = {} as GitCanaryWorld;
  before(async () => {
    [env.w, env.git] = await Promise.all([startWorld(prefix), startGitServer()]);
  });
  after(async () => {
    await env.w?.stop();
    await env.git?.stop();
  });
  return env;
}

export const podinfoDeployment = (image: string): string => `# podinfo, deployed by GitSync
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  labels: {app: podinfo}
spec:
  replicas: 2
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec:
      containers:
        - name: app
          image: ${image} # bumped by CI
          ports: [{containerPort: 8080}]
`;

/** A gatewayapi Canary of podinfo judged by the request success rate. */
export const podinfoCanary = (analysis: {
  interval: string;
  threshold: number;
}): string => `apiVersion: weir.dev/v1alpha1
kind: Canary
metadata:
  name: podinfo
spec:
  provider: gatewayapi
  targetRef: {kind: Deployment, name: podinfo}
  service:
    port: 8080
    gatewayRefs: [{name: public, namespace: gateway}]
  analysis:
    interval: ${analysis.interval}
    threshold: ${analysis.threshold}
    stepWeight: 30
    maxWeight: 60
    metrics: [{name: request-success-rate, thresholdRange: {min: 95}}]
`;

export interface GitSyncRef {
  namespace: string;
  name: string;
}

const objectRef = (g: GitSyncRef) => ({ apiVersion: 'weir.dev/v1alpha1', kind: 'GitSync', ...g });

export async function gitSyncStatus(kube: Kube, g: GitSyncRef): Promise<GitSyncStatus> {
  return ((await kube.get(objectRef(g))) as { status?: GitSyncStatus } | undefined)?.status ?? {};
}

/** Requests a sync (annotation weir.dev/sync-requested) and waits until the controller handled it. */
export async function requestSync(kube: Kube, g: GitSyncRef, timeoutMs = 30_000): Promise<GitSyncStatus> {
  const value = `${new Date().toISOString()}-${Math.random()}`;
  await kube.mergePatch(objectRef(g), { metadata: { annotations: { [SYNC_REQUEST_ANNOTATION]: value } } });
  return waitFor(
    'sync handled',
    async () => {
      const s = await gitSyncStatus(kube, g);
      return s.lastHandledSyncRequest === value ? s : undefined;
    },
    timeoutMs,
    100,
  );
}
