// Light pieces every command definition shares (no Kubernetes client here, so `weir lint`,
// `weir convert` and `--help` start without loading it): the connection flags and resource names.
import { Command, Option } from 'commander';

export interface KubeFlags {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  allNamespaces?: boolean;
}

/** Adds -n, --context and --kubeconfig to a command. */
export function withKubeFlags(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <ns>', 'namespace (default: the context’s namespace, else "default")')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)');
}

export const outputOption = (): Option =>
  new Option('-o, --output <format>', 'print the object(s) instead of the view').choices(['json', 'yaml']);

import type { ResourceType } from '../kube/resources.ts';

export { RESOURCES, type ResourceType } from '../kube/resources.ts';

export const EVENTS: ResourceType = { apiVersion: 'v1', kind: 'Event', plural: 'events' };
