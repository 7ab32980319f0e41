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
}

export async function writeCredentials(dir: string): Promise<Pki> {
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
  writeFileSync(tokenFile, `${token},weir-admin,weir-admin,"system:masters"\n`, { mode: 0o600 });
  return { certDir, saKey, saPub, tokenFile, token };
}

export function kubeconfigYaml(server: string, ca: Buffer, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'weir', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
    users: [{ name: 'weir-admin', user: { token } }],
    contexts: [{ name: 'weir', context: { cluster: 'weir', user: 'weir-admin' } }],
    'current-context': 'weir',
  });
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
