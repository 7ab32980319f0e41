// The `weir` command (also installed as `kubectl-weir`). Each error class maps to an exit code:
// usage 64, not found 1, invalid input 65, API unreachable 69, internal 70.
import { Command, CommanderError } from 'commander';
import type { RawOptions } from '../config.ts';
import { describeError, isWeirError, type ErrorCode } from '../errors.ts';
import { VERSION } from '../version.ts';
import {
  actionCommands,
  convertCommand,
  dashboardCommand,
  getCommand,
  lintCommand,
  listCommand,
  simulateCommand,
  statusCommand,
  syncCommand,
} from './commands.ts';

const EXIT: Partial<Record<ErrorCode, number>> = {
  USAGE: 64,
  CONFIG: 64,
  NOT_FOUND: 1,
  INVALID_SPEC: 65,
  UNREACHABLE: 69,
  KUBE_API: 69,
};

const EXAMPLES = `
Examples:
  weir get canary podinfo --watch        live view of a canary
  weir list canaries -A                  every canary in the cluster
  weir status podinfo --timeout 15m      wait for the rollout in CI (exit 0/1/2)
  weir promote podinfo                   past a pause step or a closed gate
  weir abort podinfo                     roll back now
  weir lint -f deploy/                   validate manifests offline
  weir convert -f flagger-canary.yaml    migrate from Flagger or Argo Rollouts
  weir simulate -f canary.yaml --from T --to T --prometheus URL
                                         replay a Canary's analysis on past data

Exit codes: 0 ok, 1 not found or failed, 2 timeout (status, sync), 64 usage or refused action,
65 invalid input, 69 Kubernetes API unreachable or failing, 70 internal error.`;

/** Commands added with addCommand() do not inherit exitOverride; errors must reach main(). */
function overrideExits(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) overrideExits(sub);
}

/** `run` receives each command's exit code. */
export function buildCli(run: (code: number) => void = (c) => (process.exitCode = c)): Command {
  const program = new Command('weir')
    .description('Progressive delivery for Kubernetes: canary, A/B and blue/green with automated analysis')
    .version(VERSION, '--client-version', 'print the CLI version')
    .addHelpText('after', EXAMPLES)
    .exitOverride();

  program
    .command('controller')
    .description('run the controller (in a cluster, or against a kubeconfig)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <ns>', 'watch only this namespace (env WEIR_NAMESPACE; default all)')
    .option(
      '--default-provider <name>',
      'routing provider when a Canary names none (env WEIR_DEFAULT_PROVIDER; default gatewayapi)',
    )
    .option(
      '--prometheus-address <url>',
      'Prometheus for built-in metrics and templates without an address (env WEIR_PROMETHEUS_ADDRESS)',
    )
    .option('--metric-timeout <ms>', 'metric query timeout in ms (default 5000)')
    .option('--slack-url <url>', 'global Slack incoming webhook for every Canary (env WEIR_SLACK_URL)')
    .option('--slack-channel <name>', 'channel for the global Slack webhook')
    .option('--slack-username <name>', 'username for the global Slack webhook (default weir)')
    .option(
      '--listen <host:port>',
      'address of /metrics, /healthz, /readyz (and the receivers without --receiver-listen) (env WEIR_LISTEN; default 0.0.0.0:8080)',
    )
    .option(
      '--receiver-listen <host:port>',
      'serve the GitSync receivers (POST /hooks/gitsync/...) on this address only, apart from /metrics (env WEIR_RECEIVER_LISTEN)',
    )
    .option(
      '--dashboard-listen <host:port>',
      'serve the web dashboard here (bearer tokens checked with TokenReview, actions with SubjectAccessReview; env WEIR_DASHBOARD_LISTEN; off by default)',
    )
    .option(
      '--no-cross-namespace-refs',
      'refuse MetricTemplate/AlertProvider references to another namespace (env WEIR_NO_CROSS_NAMESPACE_REFS=true)',
    )
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace (env WEIR_LOG_LEVEL; default info)')
    .option('--leader-elect', 'elect a leader through a Lease (run several replicas)')
    .option('--lease-namespace <ns>', 'namespace of the Lease (default $POD_NAMESPACE or weir-system)')
    .option(
      '--shard <name>',
      'own only the Canaries and GitSyncs labelled weir.dev/shard=<name>, with a Lease of its own (env WEIR_SHARD; default: those without the label)',
    )
    .option('--workers <n>', 'canaries reconciled concurrently (default 16)')
    .option(
      '--max-progressing <n>',
      'at most n Canaries progressing at once in the cluster; further runs wait in phase Queued (env WEIR_MAX_PROGRESSING; default no limit)',
    )
    .option(
      '--max-progressing-per-namespace <n>',
      'at most n Canaries progressing at once in one namespace; further runs wait in phase Queued (env WEIR_MAX_PROGRESSING_PER_NAMESPACE; default no limit)',
    )
    .option(
      '--default-service-account <name>',
      'GitSyncs naming no spec.serviceAccountName apply as this ServiceAccount of their namespace (env WEIR_DEFAULT_SERVICE_ACCOUNT; default: the controller itself)',
    )
    .option(
      '--gitsync-no-cross-namespace',
      'GitSyncs may write only in their own namespace: other namespaces and cluster-scoped objects are refused (env WEIR_GITSYNC_NO_CROSS_NAMESPACE=true)',
    )
    .option(
      '--gitsync-cross-namespace-allowed <ns,...>',
      'with --gitsync-no-cross-namespace: GitSyncs in these namespaces may still write into others',
    )
    .option(
      '--gitsync-cluster-scoped-allowed <ns,...>',
      'with --gitsync-no-cross-namespace: GitSyncs in these namespaces may still write cluster-scoped objects',
    )
    .option('--allow-file-urls', 'allow file:// GitSync URLs (env WEIR_ALLOW_FILE_URLS=true; default off)')
    .action(async (opts: RawOptions) => {
      // Loaded on demand: the other commands start faster without the controller's module graph.
      const [{ parseConfig }, { createLogger }, { runController }] = await Promise.all([
        import('../config.ts'),
        import('../log.ts'),
        import('../controller-main.ts'),
      ]);
      const config = parseConfig(opts);
      const log = createLogger(config.logLevel);
      const ctl = await runController(config, log);
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
      });
      log.info('shutting down');
      await ctl.stop();
    });

  program.addCommand(getCommand(run));
  program.addCommand(listCommand(run));
  program.addCommand(statusCommand(run));
  for (const cmd of actionCommands(run)) program.addCommand(cmd);
  program.addCommand(lintCommand(run));
  program.addCommand(convertCommand(run));
  program.addCommand(simulateCommand(run));
  program.addCommand(syncCommand(run));
  program.addCommand(dashboardCommand(run));

  program
    .command('version')
    .description('print the version')
    .action(() => console.log(`weir ${VERSION}`));
  overrideExits(program);
  return program;
}

/** The closest command names (edit distance ≤ 2, or a prefix), for "Did you mean this?". */
function suggestions(word: string, names: string[]): string[] {
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++)
        row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row;
    }
    return prev[b.length]!;
  };
  const w = word.toLowerCase();
  return names.filter((n) => distance(w, n) <= 2 || (w.length > 1 && n.startsWith(w)));
}

/**
 * Walks the command words of `args` and describes the first one that names no command, as
 * kubectl does (`weir foo --help` and `weir help foo` included: commander would print the global
 * help and exit 0 for the first, so a typo in a CI script would pass). Stops at the first option,
 * since what follows it may be the option's value.
 */
export function unknownCommand(program: Command, args: string[]): string | undefined {
  let cmd = program;
  const path = [program.name()];
  for (const word of args) {
    if (word.startsWith('-') || cmd.commands.length === 0) return undefined;
    if (word === 'help') continue;
    const next = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) {
      const names = cmd.commands.map((c) => c.name());
      const near = suggestions(word, names);
      const hint = near.length ? `\n\nDid you mean this?\n${near.map((n) => `\t${n}`).join('\n')}` : '';
      return `error: unknown command "${word}" for "${path.join(' ')}"${hint}\n\nRun '${path.join(' ')} --help' for usage.`;
    }
    cmd = next;
    path.push(next.name());
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  let code: number | undefined;
  try {
    const program = buildCli((c) => (code = c));
    const unknown = unknownCommand(program, argv.slice(2));
    if (unknown) {
      console.error(unknown);
      return 64;
    }
    await program.parseAsync(argv);
    return code ?? (typeof process.exitCode === 'number' ? process.exitCode : 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 64;
    if (isWeirError(err)) {
      console.error(`error: ${describeError(err)}`);
      return EXIT[err.code] ?? 1;
    }
    console.error(`internal error: ${describeError(err)}`);
    return 70;
  }
}
