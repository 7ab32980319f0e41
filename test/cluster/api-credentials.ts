// Credentials for a harness process that reads the API server the way an in-cluster component does:
// its own ServiceAccount, a ClusterRole with only the rules it needs, and a bound token (TokenRequest)
// written to a file, next to the API server's CA. Traefik and Prometheus' kubernetes_sd use these, so
// a missing RBAC rule fails the test as it would fail a real cluster.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig, V1PolicyRule } from '@kubernetes/client-node';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';

export interface ApiCredentials {
  /** API server URL (https://127.0.0.1:<port>). */
  server: string;
  /** PEM file of the API server's CA. */
  caFile: string;
  /** File holding the ServiceAccount's bearer token. */
  tokenFile: string;
  /** `system:serviceaccount:<ns>:<name>` */
  user: string;
  /** Deletes the ClusterRoleBinding, ClusterRole and ServiceAccount (idempotent). */
  revoke(): Promise<void>;
}

export interface CredentialOptions {
  /** Prefix of the ServiceAccount and cluster RBAC names; a random suffix keeps parallel users apart. */
  name: string;
  /** Namespace of the ServiceAccount. */
  namespace: string;
  rules: V1PolicyRule[];
  /** Directory the token and CA files are written to (the caller removes it). */
  dir: string;
  /** Token lifetime; default 2 h (a test run is far shorter). */
  expirationSeconds?: number;
}

export async function serviceAccountCredentials(
  kc: KubeConfig,
  opts: CredentialOptions,
): Promise<ApiCredentials> {
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new Error('kubeconfig has no current cluster');
  const name = `${opts.name}-${randomBytes(3).toString('hex')}`;
  const { namespace } = opts;
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const revoke = once(async () => {
    await Promise.all([
      ignoreNotFound(rbac.deleteClusterRoleBinding({ name })),
      ignoreNotFound(rbac.deleteClusterRole({ name })),
      ignoreNotFound(core.deleteNamespacedServiceAccount({ name, namespace })),
    ]);
  });
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    await rbac.createClusterRole({ body: { metadata: { name }, rules: opts.rules } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    });
    const req = await core.createNamespacedServiceAccountToken({
      name,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 7200 } },
    });
    const token = req.status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    const tokenFile = join(opts.dir, `${name}.token`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const caFile = join(opts.dir, `${name}-ca.crt`);
    writeFileSync(caFile, caPem(cluster));
    return {
      server: cluster.server,
      caFile,
      tokenFile,
      user: `system:serviceaccount:${namespace}:${name}`,
      revoke,
    };
  } catch (err) {
    await revoke();
    throw err;
  }
}

function caPem(cluster: { caData?: string; caFile?: string }): Buffer {
  if (cluster.caData) return Buffer.from(cluster.caData, 'base64');
  throw new Error('kubeconfig cluster has no certificate-authority-data');
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
