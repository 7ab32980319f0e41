// The controller's configuration, parsed once from flags and environment and injected everywhere.
// Flags win over environment variables (WEIR_*), which win over defaults.
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROVIDERS, type ProviderName } from './api/canary.ts';
import { isShardName, SHARD_LABEL, SHARD_NAME_RULE } from './api/shard.ts';
import type { Limits } from './canary/admission.ts';
import { WeirError } from './errors.ts';
import { parseGitSyncPolicy, type GitSyncPolicy } from './gitsync/policy.ts';

export interface Config {
  kubeconfig?: string;
  context?: string;
  /** Watch one namespace; undefined watches all. */
  namespace?: string;
  defaultProvider: ProviderName;
  prometheusAddress?: string;
  metricTimeoutMs: number;
  slack?: { url: string; channel?: string; username: string };
  listenHost: string;
  listenPort: number;
  /** --receiver-listen: the GitSync receivers on a listener of their own (else on --listen). */
  receiverListen?: { host: string; port: number };
  /** --dashboard-listen: the web dashboard (TokenReview + SubjectAccessReview); off without it. */
  dashboardListen?: { host: string; port: number };
  /** False with --no-cross-namespace-refs: Canaries use MetricTemplates/AlertProviders of their own namespace only. */
  crossNamespaceRefs: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  leaderElection: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  /**
   * --shard: this controller owns the Canaries and GitSyncs labelled weir.dev/shard=<shard>; without
   * it, those with no such label (docs/sharding.md).
   */
  shard?: string;
  workers: number;
  /** Concurrency limits on progressing Canaries (src/canary/admission.ts, docs/concurrency.md). */
  limits: Limits;
  /** Root of the GitSync checkouts (one directory per GitSync). */
  gitCacheDir: string;
  /** GitSync tenancy: see GitSyncPolicy in src/gitsync/policy.ts and docs/gitsync.md. */
  gitsync: GitSyncPolicy;
}

export interface RawOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  defaultProvider?: string;
  prometheusAddress?: string;
  metricTimeout?: string;
  slackUrl?: string;
  slackChannel?: string;
  slackUsername?: string;
  listen?: string;
  receiverListen?: string;
  dashboardListen?: string;
  /** Commander's value of --no-cross-namespace-refs: false when the flag is given. */
  crossNamespaceRefs?: boolean;
  logLevel?: string;
  leaderElect?: boolean;
  leaseNamespace?: string;
  shard?: string;
  workers?: string;
  maxProgressing?: string;
  maxProgressingPerNamespace?: string;
  gitCacheDir?: string;
  defaultServiceAccount?: string;
  gitsyncNoCrossNamespace?: boolean;
  gitsyncCrossNamespaceAllowed?: string;
  gitsyncClusterScopedAllowed?: string;
  allowFileUrls?: boolean;
}

/** Canaries (and GitSyncs) reconciled at once unless --workers says otherwise. */
export const DEFAULT_WORKERS = 16;

/** The Lease of the shard-less controller; a shard's is `weir-controller-<shard>`. */
export const LEASE_NAME = 'weir-controller';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function parseConfig(o: RawOptions, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (flag: string | undefined, name: string) => flag ?? env[`WEIR_${name}`];
  const provider = pick(o.defaultProvider, 'DEFAULT_PROVIDER') ?? 'gatewayapi';
  if (!(PROVIDERS as readonly string[]).includes(provider)) {
    throw new WeirError('CONFIG', `--default-provider: ${provider} is not one of ${PROVIDERS.join(', ')}`);
  }
  const listen = hostPort('--listen', pick(o.listen, 'LISTEN') ?? '0.0.0.0:8080');
  const receiverListenFlag = pick(o.receiverListen, 'RECEIVER_LISTEN');
  const receiverListen = receiverListenFlag ? hostPort('--receiver-listen', receiverListenFlag) : undefined;
  const dashboardFlag = pick(o.dashboardListen, 'DASHBOARD_LISTEN');
  const dashboardListen = dashboardFlag ? hostPort('--dashboard-listen', dashboardFlag) : undefined;
  const level = pick(o.logLevel, 'LOG_LEVEL') ?? 'info';
  if (!(LEVELS as readonly string[]).includes(level))
    throw new WeirError('CONFIG', `--log-level: ${level} is not one of ${LEVELS.join(', ')}`);
  const timeout = Number(pick(o.metricTimeout, 'METRIC_TIMEOUT_MS') ?? 5000);
  // Reconciles mostly wait on API writes (a Service create can take seconds on a busy API server),
  // and a waiting reconcile costs Node almost nothing: with 4, a thousand Canaries starting at once
  // queued behind slow writes for minutes (docs/performance.md). CPU work stays on one thread.
  const workers = Number(pick(o.workers, 'WORKERS') ?? DEFAULT_WORKERS);
  if (!Number.isInteger(workers) || workers < 1)
    throw new WeirError('CONFIG', `--workers: expected a positive integer`);
  const slackUrl = pick(o.slackUrl, 'SLACK_URL');
  const prometheusAddress = pick(o.prometheusAddress, 'PROMETHEUS_ADDRESS');
  const namespace = pick(o.namespace, 'NAMESPACE');
  const kubeconfig = o.kubeconfig ?? env.KUBECONFIG;
  const slackChannel = pick(o.slackChannel, 'SLACK_CHANNEL');
  const shard = shardFlag(pick(o.shard, 'SHARD'));
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(o.context ? { context: o.context } : {}),
    ...(namespace ? { namespace } : {}),
    defaultProvider: provider as ProviderName,
    ...(prometheusAddress ? { prometheusAddress } : {}),
    metricTimeoutMs: timeout,
    ...(slackUrl
      ? {
          slack: {
            url: slackUrl,
            ...(slackChannel ? { channel: slackChannel } : {}),
            username: pick(o.slackUsername, 'SLACK_USERNAME') ?? 'weir',
          },
        }
      : {}),
    listenHost: listen.host,
    listenPort: listen.port,
    ...(receiverListen ? { receiverListen } : {}),
    ...(dashboardListen ? { dashboardListen } : {}),
    // Allowed unless refused by the flag or WEIR_NO_CROSS_NAMESPACE_REFS=true (as in Flux); the
    // chart refuses by default.
    crossNamespaceRefs: o.crossNamespaceRefs !== false && env.WEIR_NO_CROSS_NAMESPACE_REFS !== 'true',
    logLevel: level as Config['logLevel'],
    leaderElection: o.leaderElect ?? env.WEIR_LEADER_ELECT === 'true',
    leaseNamespace: pick(o.leaseNamespace, 'LEASE_NAMESPACE') ?? env.POD_NAMESPACE ?? 'weir-system',
    // One Lease per shard: the replicas of a shard elect among themselves, never against another.
    leaseName: shard ? `${LEASE_NAME}-${shard}` : LEASE_NAME,
    identity: env.POD_NAME ?? `${hostname()}-${process.pid}`,
    ...(shard ? { shard } : {}),
    workers,
    limits: {
      ...limit('--max-progressing', pick(o.maxProgressing, 'MAX_PROGRESSING'), 'cluster'),
      ...limit(
        '--max-progressing-per-namespace',
        pick(o.maxProgressingPerNamespace, 'MAX_PROGRESSING_PER_NAMESPACE'),
        'perNamespace',
      ),
    },
    gitCacheDir: pick(o.gitCacheDir, 'GIT_CACHE_DIR') ?? join(tmpdir(), 'weir-gitsync'),
    gitsync: gitsyncPolicy(o, env),
  };
}

function gitsyncPolicy(o: RawOptions, env: NodeJS.ProcessEnv): GitSyncPolicy {
  const flag = (v: boolean | undefined, name: string) => v ?? env[`WEIR_${name}`] === 'true';
  return parseGitSyncPolicy({
    defaultServiceAccount: o.defaultServiceAccount ?? env.WEIR_DEFAULT_SERVICE_ACCOUNT,
    noCrossNamespace: flag(o.gitsyncNoCrossNamespace, 'GITSYNC_NO_CROSS_NAMESPACE'),
    crossNamespaceAllowed: o.gitsyncCrossNamespaceAllowed ?? env.WEIR_GITSYNC_CROSS_NAMESPACE_ALLOWED,
    clusterScopedAllowed: o.gitsyncClusterScopedAllowed ?? env.WEIR_GITSYNC_CLUSTER_SCOPED_ALLOWED,
    allowFileUrls: flag(o.allowFileUrls, 'ALLOW_FILE_URLS'),
  });
}

/** --shard (or WEIR_SHARD): empty is no shard; otherwise a shard name (src/api/shard.ts). */
function shardFlag(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!isShardName(value))
    throw new WeirError(
      'CONFIG',
      `--shard: ${JSON.stringify(value)} is not a shard name (the value of the ${SHARD_LABEL} label): ${SHARD_NAME_RULE}`,
    );
  return value;
}

/** A concurrency limit: unset (or empty) is no limit; otherwise a positive integer. */
function limit(flag: string, value: string | undefined, key: keyof Limits): Limits {
  if (value === undefined || value === '') return {};
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new WeirError('CONFIG', `${flag}: expected a positive integer (at least 1), got ${value}`);
  return { [key]: n };
}

function hostPort(flag: string, value: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new WeirError('CONFIG', `${flag}: expected host:port, got ${value}`);
  return { host: m[1]!, port: Number(m[2]) };
}
