// `weir dashboard`: the web dashboard on 127.0.0.1 with the user's kubeconfig (like `kubectl argo
// rollouts dashboard`), behind a random one-time URL token (like Jupyter): the token is exchanged
// for a session cookie once, so a copied URL or another local user's browser cannot reuse it.
import { WeirError } from '../errors.ts';
import { startLocalDashboard } from '../dashboard/serve.ts';
import { createLogger } from '../log.ts';
import type { KubeFlags } from './flags.ts';
import { connect } from './kube.ts';

export interface DashboardFlags extends KubeFlags {
  port: string;
  prometheusAddress?: string;
}

export async function runDashboard(flags: DashboardFlags): Promise<number> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new WeirError('USAGE', `--port: ${flags.port} is not a port number`);
  const cli = connect(flags);
  const prometheus = flags.prometheusAddress ?? process.env.WEIR_PROMETHEUS_ADDRESS;
  const context = cli.kc.getCurrentContext();
  const dashboard = await startLocalDashboard({
    kc: cli.kc,
    log: createLogger('warn', process.stderr),
    port,
    user: `${cli.kc.getContextObject(context)?.user ?? 'kubeconfig user'} (context ${context})`,
    // query_range history for built-in metrics and templates without an address, as the controller's.
    history: { ...(prometheus ? { prometheusAddress: prometheus } : {}) },
    // -n narrows the view to one namespace; without it, every namespace the kubeconfig may list.
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
  });
  console.log(
    `Weir dashboard for context ${context} (Ctrl-C stops it). Open this URL; its token works once:`,
  );
  console.log(`  ${dashboard.loginUrl}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await dashboard.stop();
  return 0;
}
