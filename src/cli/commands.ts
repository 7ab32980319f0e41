// Every `weir` command's interface: arguments, flags, help and examples. The implementations are
// imported when a command runs, so `--help`, `lint` and `convert` never load the Kubernetes client.
import { Command, Option } from 'commander';
import type { ActionKind } from './actions.ts';
import { WeirError } from '../errors.ts';
import { outputOption, withKubeFlags, type KubeFlags } from './flags.ts';
import type { ViewFlags } from './get.ts';
import type { GetFlags } from './gitsync.ts';
import type { SimulateFlags } from './simulate.ts';

export type Run = (code: number) => void;

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`;

const viewFlags = (cmd: Command) =>
  cmd
    .option('-w, --watch', 'keep the view open and redraw it on every change')
    .option('--no-color', 'no colours (also off when stdout is not a terminal or NO_COLOR is set)')
    .addOption(outputOption());

export function getCommand(run: Run): Command {
  const get = new Command('get')
    .description('show a Canary, or GitSyncs')
    .addHelpText('after', examples('weir get canary podinfo --watch', 'weir get gitsync -A'));
  get.addCommand(
    viewFlags(
      withKubeFlags(
        new Command('canary')
          .alias('canaries')
          .description('show a Canary: phase, step, weights, images, replicas, metrics, gates and events')
          .argument('<name>', 'Canary name'),
      ),
    )
      .addHelpText(
        'after',
        examples(
          'weir get canary podinfo -n test',
          'weir get canary podinfo --watch',
          'weir get canary podinfo -o yaml',
        ),
      )
      .action(async (name: string, flags: ViewFlags) =>
        run(await (await import('./get.ts')).getCanaryCommand(name, flags)),
      ),
  );
  get.addCommand(
    withKubeFlags(
      new Command('gitsync')
        .alias('gitsyncs')
        .description('list GitSyncs (or show one): URL, applied revision, readiness')
        .argument('[name]', 'GitSync name'),
    )
      .option('-A, --all-namespaces', 'GitSyncs of every namespace')
      .option('--no-color', 'no colours')
      .addOption(outputOption())
      .addHelpText(
        'after',
        examples('weir get gitsync', 'weir get gitsync apps -o yaml', 'weir get gitsync -A'),
      )
      .action(async (name: string | undefined, flags: GetFlags) =>
        run(await (await import('./gitsync.ts')).getGitSyncs(name, flags)),
      ),
  );
  return get;
}

export function listCommand(run: Run): Command {
  const list = new Command('list')
    .description('list Canaries')
    .addHelpText('after', examples('weir list canaries -A'));
  list.addCommand(
    viewFlags(
      withKubeFlags(
        new Command('canaries')
          .alias('canary')
          .description('list Canaries: status, weight, step, failed checks, last transition'),
      ),
    )
      .option('-A, --all-namespaces', 'Canaries of every namespace')
      .addHelpText(
        'after',
        examples('weir list canaries', 'weir list canaries -A --watch', 'weir list canaries -o json'),
      )
      .action(async (flags: ViewFlags) => run(await (await import('./get.ts')).listCanariesCommand(flags))),
  );
  return list;
}

export function statusCommand(run: Run): Command {
  return withKubeFlags(
    new Command('status')
      .description('wait for a Canary to finish: exit 0 promoted, 1 failed, 2 timeout (for CI)')
      .argument('<name>', 'Canary name')
      .option('-t, --timeout <duration>', 'give up after this long', '10m'),
  )
    .addHelpText(
      'after',
      '\nExit codes: 0 Succeeded (or idle and promoted), 1 Failed, 2 timeout, 64 usage, 69 API unreachable.\n' +
        examples(
          'kubectl apply -f deploy.yaml && weir status podinfo --timeout 15m',
          'weir status podinfo -n prod',
        ),
    )
    .action(async (name: string, flags: KubeFlags & { timeout: string }) =>
      run(await (await import('./status.ts')).statusCommand(name, flags)),
    );
}

const ACTIONS: Array<[Exclude<ActionKind, 'promote-full'>, string, string[]]> = [
  [
    'promote',
    'promote a Canary one step, past its pause step or closed gate (--full: all the way)',
    ['weir promote podinfo', 'weir promote podinfo --full', 'weir promote podinfo --now'],
  ],
  ['abort', 'stop the run now and roll back to the primary', ['weir abort podinfo -n test']],
  ['retry', 'run a Failed canary again without changing the Deployment', ['weir retry podinfo']],
  ['pause', 'hold a running canary at its current weight (analysis keeps running)', ['weir pause podinfo']],
  ['resume', 'let a paused canary advance again', ['weir resume podinfo']],
];

export function actionCommands(run: Run): Command[] {
  return ACTIONS.map(([kind, description, lines]) => {
    const cmd = withKubeFlags(new Command(kind).description(description).argument('<name>', 'Canary name'));
    if (kind === 'promote')
      cmd
        .option('--full', 'skip the remaining steps: promote at the next passing analysis')
        .option('--now', 'start a run queued outside its release window (spec.schedule) now');
    return cmd
      .addHelpText(
        'after',
        '\nThe request is an annotation on the Canary; it is refused (exit 64) when it makes no sense in the current phase.\n' +
          examples(...lines),
      )
      .action(async (name: string, flags: KubeFlags & { full?: boolean; now?: boolean }) =>
        run(await (await import('./actions.ts')).runAction(promoteKind(kind, flags), name, flags)),
      );
  });
}

export function lintCommand(run: Run): Command {
  return new Command('lint')
    .description('validate Weir objects offline with the same rules as the API server')
    .requiredOption('-f, --filename <path...>', 'file, directory or - for stdin')
    .addHelpText(
      'after',
      '\nExit codes: 0 valid, 1 problems found.\n' +
        examples('weir lint -f canary.yaml', 'weir lint -f deploy/', 'kustomize build . | weir lint -f -'),
    )
    .action(async (flags: { filename: string[] }) =>
      run((await import('./lint.ts')).runLint(flags.filename)),
    );
}

export function convertCommand(run: Run): Command {
  return new Command('convert')
    .description(
      'convert Flagger Canary/MetricTemplate/AlertProvider and Argo Rollout/AnalysisTemplate to Weir',
    )
    .requiredOption('-f, --filename <path...>', 'manifest file(s), or - for stdin')
    .option('--strict', 'exit 65 when anything could not be converted as it was')
    .option(
      '--provider <name>',
      "Flagger's -mesh-provider (Helm meshProvider): written into Canaries that set no spec.provider",
    )
    .addHelpText(
      'after',
      '\nThe converted objects go to stdout as YAML; what was not carried over is listed on stderr.\n' +
        examples(
          'weir convert -f flagger-canary.yaml > weir-canary.yaml',
          'weir convert --provider istio -f flagger-canaries.yaml',
          'weir convert -f rollout.yaml -f analysis-templates.yaml | weir lint -f -',
          'kubectl get canaries.flagger.app -o yaml | weir convert -f -',
        ),
    )
    .action(async (flags: { filename: string[]; strict?: boolean; provider?: string }) =>
      run((await import('./convert/index.ts')).runConvert(flags)),
    );
}

export function simulateCommand(run: Run): Command {
  return withKubeFlags(
    new Command('simulate')
      .description(
        "replay a Canary's analysis over a past window of Prometheus data: the weight each tick would reach, each metric's verdict, and whether the run would have promoted or rolled back",
      )
      .requiredOption(
        '-f, --filename <path...>',
        'the Canary, and MetricTemplates and Secrets it uses (file, directory or -)',
      )
      .requiredOption(
        '--from <time>',
        'RFC 3339 time the new revision is deployed at, e.g. 2026-11-20T10:00:00Z',
      )
      .requiredOption('--to <time>', 'RFC 3339 time the replay ends at')
      .option(
        '--prometheus <url>',
        'Prometheus of built-in metrics; also replaces the address of prometheus MetricTemplates',
      )
      .option(
        '--primary-selector <name>',
        'what {{ target }} becomes for the primary (compare, judge); default <target>-primary',
      )
      .option('--no-color', 'no colours')
      .addOption(new Option('-o, --output <format>', 'print the result as JSON').choices(['json'])),
  )
    .addHelpText(
      'after',
      '\nEvery analysis tick is measured as the controller would have measured it at that time (query_range\n' +
        'at the tick); gates are assumed open and pods ready. MetricTemplates missing from -f are read from the\n' +
        'cluster (-n, --context, --kubeconfig). Times are printed in UTC.\n' +
        'Exit codes: 0 would have promoted, 1 would have rolled back (or frozen), 2 no decision by --to, 64 usage.\n' +
        examples(
          'weir simulate -f canary.yaml --prometheus http://localhost:9090 --from 2026-11-20T10:00:00Z --to 2026-11-20T11:00:00Z',
          'weir simulate -f canary.yaml -f templates.yaml --from 2026-11-20T10:00Z --to 2026-11-20T12:00Z -o json',
        ),
    )
    .action(async (flags: SimulateFlags) => run(await (await import('./simulate.ts')).runSimulate(flags)));
}

export function syncCommand(run: Run): Command {
  const sync = new Command('sync')
    .description('request an immediate reconciliation')
    .addHelpText('after', examples('weir sync gitsync apps -n weir-system'));
  sync.addCommand(
    withKubeFlags(
      new Command('gitsync')
        .description('sync a GitSync now and wait until it has applied the latest revision')
        .argument('<name>', 'GitSync name')
        .option('-t, --timeout <duration>', 'give up after this long', '2m'),
    )
      .addHelpText(
        'after',
        '\nExit codes: 0 synced and Ready, 1 sync failed, 2 timeout.\n' +
          examples('weir sync gitsync apps -n weir-system'),
      )
      .action(async (name: string, flags: KubeFlags & { timeout: string }) =>
        run(await (await import('./gitsync.ts')).syncGitSync(name, flags)),
      ),
  );
  return sync;
}

function promoteKind(
  kind: Exclude<ActionKind, 'promote-full'>,
  flags: { full?: boolean; now?: boolean },
): ActionKind {
  if (kind !== 'promote') return kind;
  if (flags.full && flags.now) throw new WeirError('USAGE', 'promote: --full and --now do not go together');
  return flags.full ? 'promote-full' : flags.now ? 'promote-now' : kind;
}

export function dashboardCommand(run: Run): Command {
  return withKubeFlags(
    new Command('dashboard').description(
      'serve the web dashboard on 127.0.0.1 with your kubeconfig, behind a one-time URL token',
    ),
  )
    .option('-p, --port <port>', 'port on 127.0.0.1 (0: any free port)', '3100')
    .option(
      '--prometheus-address <url>',
      "the Prometheus of the built-in metrics' chart history, as the controller's (env WEIR_PROMETHEUS_ADDRESS)",
    )
    .addHelpText(
      'after',
      '\nWithout -n the dashboard shows the Canaries of every namespace your kubeconfig may list.\n' +
        examples('weir dashboard', 'weir dashboard -n test --port 8090'),
    )
    .action(async (flags: import('./dashboard.ts').DashboardFlags) =>
      run(await (await import('./dashboard.ts')).runDashboard(flags)),
    );
}
