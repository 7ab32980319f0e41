// Starts the local control plane with Weir's and Gateway API's CRDs and keeps it up until Ctrl-C:
// `npm run dev:cluster`, then `export KUBECONFIG=<printed path>` in another shell.
import { join } from 'node:path';
import { projectRoot, startCluster } from '../test/cluster/cluster.ts';

const cluster = await startCluster({
  crds: [join(projectRoot, 'crds'), join(projectRoot, '..', 'shared', 'crds', 'gateway-api')],
});
console.log(`cluster ready: export KUBECONFIG=${cluster.kubeconfigPath}`);
console.log(`component logs: ${cluster.logDir}`);
const keepAlive = setInterval(() => undefined, 60_000); // the children alone do not hold the event loop
await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
clearInterval(keepAlive);
await cluster.stop();
