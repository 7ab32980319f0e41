// A controller replica with leader election, as the leader tests and the leader-partition chaos
// scenario start it: its POD_NAME is its identity in the Lease.
import { join } from 'node:path';
import { CoordinationV1Api, type KubeConfig, type V1LeaseSpec } from '@kubernetes/client-node';
import { projectRoot } from './cluster.ts';
import { startProcess, type Managed } from './proc.ts';

export interface ReplicaOptions {
  /** POD_NAME: the Lease's holderIdentity while this replica leads. */
  id: string;
  kubeconfig: string;
  /** The Lease's namespace, and WEIR_NAMESPACE. */
  ns: string;
  logDir: string;
  /** Added to (or overriding) the replica's environment; WEIR_LOG_LEVEL is info unless set here. */
  env?: Record<string, string>;
}

export function startReplica(o: ReplicaOptions): Managed {
  return startProcess(
    `controller-${o.id}`,
    process.execPath,
    [
      join(projectRoot, 'bin', 'weir.js'),
      'controller',
      '--kubeconfig',
      o.kubeconfig,
      '--leader-elect',
      '--lease-namespace',
      o.ns,
    ],
    {
      logDir: o.logDir,
      env: {
        ...process.env,
        POD_NAME: o.id,
        WEIR_NAMESPACE: o.ns,
        WEIR_LISTEN: '127.0.0.1:0',
        WEIR_LOG_LEVEL: 'info',
        ...o.env,
      },
    },
  );
}

/** Reads the controller's Lease in `ns`; undefined while there is none (or it cannot be read). */
export function leaseReader(kc: KubeConfig, ns: string): () => Promise<V1LeaseSpec | undefined> {
  const leases = kc.makeApiClient(CoordinationV1Api);
  return async () =>
    (await leases.readNamespacedLease({ name: 'weir-controller', namespace: ns }).catch(() => undefined))
      ?.spec;
}
