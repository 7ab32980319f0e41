// Credentials of a test cluster: the ServiceAccount signing key pair, the static admin token file
// the apiserver authenticates with, and the admin kubeconfig written once the apiserver's CA exists.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface Pki {
  certDir: string;
  saKey: string;
  saPub: string;
  tokenFile: string;
  token: string;
  /** Bearer tokens of the extra users asked for (each its own identity in the audit log), by name. */
  users: Record<string, string>;
}

/**
 * `extraUsers`: more `system:masters` users, one token each, so that several clients (two controller
 * replicas, say) show up under their own names in the API server's audit log.
 */
export async function writeCredentials(dir: string, extraUsers: string[] = []): Promise<Pki> {
  const certDir = join(dir, 'pki');
  mkdirSync(certDir, { recursive: true });
  // The service-account key pair signs and verifies ServiceAccount tokens (apiserver + token controller).
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const saKey = join(certDir, 'sa.key');
  const saPub = join(certDir, 'sa.pub');
  writeFileSync(saKey, privateKey, { mode: 0o600 });
  writeFileSync(saPub, publicKey);
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(certDir, 'tokens.csv');
  // token,user,uid,"groups": an admin who bypasses RBAC, while RBAC stays enforced for everyone else.
  const users = Object.fromEntries(extraUsers.map((u) => [u, randomBytes(24).toString('hex')]));
  const lines = [[token, 'weir-admin'], ...Object.entries(users).map(([u, t]) => [t, u])];
  writeFileSync(tokenFile, lines.map(([t, u]) => `${t},${u},${u},"system:masters"\n`).join(''), {
    mode: 0o600,
  });
  return { certDir, saKey, saPub, tokenFile, token, users };
}

export function kubeconfigYaml(server: string, ca: Buffer, token: string, user = 'weir-admin'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'weir', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'weir', context: { cluster: 'weir', user } }],
    'current-context': 'weir',
  });
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
