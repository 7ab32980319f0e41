// One sync of one GitSync: credentials -> fetch -> build -> apply -> prune, with every failure turned
// into an Outcome (reason, message, whether a retry can help) instead of an exception. Nothing is
// applied unless the whole build is valid; nothing is pruned unless the whole apply succeeded.
import type { V1Secret } from '@kubernetes/client-node';
import type { GitSyncSpec } from '../api/gitsync.ts';
import type { CanaryObject } from '../canary/context.ts';
import { parseDuration } from '../vocab/duration.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { ApplyError, applyAll, type AppliedRecord, type ApplyReport, type InventoryEntry } from './apply.ts';
import { build, describeProblems, keyOf, type BuildLimits } from './build.ts';
import { FetchError, credentialsFromSecret, fetchRevision, redactUrl, type GitCredentials } from './fetch.ts';
import { checkUrl, clampDelay, confinementOf, impersonationOf, type GitSyncPolicy } from './policy.ts';
import { leftGit, prune, type PruneReport } from './prune.ts';
import type { ApiClient } from '../kube/rest.ts';
import type { Outcome } from './status.ts';

export interface SyncInput {
  api: ApiClient;
  obj: { metadata: { namespace: string; name: string } };
  spec: GitSyncSpec;
  previousInventory: InventoryEntry[];
  dir: string;
  memory: Map<string, AppliedRecord>;
  /** Deployments targeted by Canaries already in the cluster (`namespace/name`). */
  canaryTargets: Set<string>;
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  limits: BuildLimits;
  /** Tenancy flags of the controller. */
  policy: GitSyncPolicy;
  /** Root of every GitSync's checkout (a file:// URL may not point into it). */
  cacheRoot: string;
  log: Logger;
}

export interface SyncReport {
  outcome: Outcome;
  apply?: ApplyReport;
  prune?: PruneReport;
  /** Event texts, set only when something happened. */
  applyMessage?: string;
  pruneMessage?: string;
  skipMessage?: string;
  ms: { fetch: number; build: number; apply: number; prune: number };
}

const list = (names: string[], max = 8) =>
  names.length > max ? `${names.slice(0, max).join(', ')} and ${names.length - max} more` : names.join(', ');

export async function syncOnce(input: SyncInput): Promise<SyncReport> {
  const { spec } = input;
  const owner = { namespace: input.obj.metadata.namespace, name: input.obj.metadata.name };
  // Everything this sync reads and writes in the cluster (discovery aside) goes as the GitSync's
  // ServiceAccount when it has one: the API server's RBAC is the tenant boundary.
  const as = impersonationOf(owner.namespace, spec.serviceAccountName, input.policy);
  const api = as ? input.api.impersonate(as) : input.api;
  const ms = { fetch: 0, build: 0, apply: 0, prune: 0 };
  const fail = (o: Omit<Extract<Outcome, { ok: false }>, 'ok'>): SyncReport => ({
    outcome: { ok: false, ...o },
    ms,
  });
  const timeoutMs = clampDelay(parseDuration(spec.timeout ?? '60s'));
  const urlRefused = checkUrl(spec.url, input.policy, input.cacheRoot);
  if (urlRefused) return fail({ reason: 'URLNotAllowed', message: urlRefused, stalled: true });

  let credentials: GitCredentials | undefined;
  if (spec.secretRef) {
    const secret = await input.readSecret(owner.namespace, spec.secretRef.name).catch(() => undefined);
    if (!secret)
      return fail({
        reason: 'SecretNotFound',
        message: `spec.secretRef: Secret ${owner.namespace}/${spec.secretRef.name} not found`,
        stalled: false,
      });
    credentials = credentialsFromSecret(secret.data);
  }

  let t = Date.now();
  let fetched: { revision: string; refName: string };
  try {
    fetched = await fetchRevision({
      dir: input.dir,
      url: spec.url,
      ref: spec.ref ?? {},
      timeoutMs,
      credentials,
      allowFile: input.policy.allowFileUrls,
    });
  } catch (err) {
    const reason = err instanceof FetchError ? err.reason : 'FetchFailed';
    return fail({
      reason: reason === 'FetchFailed' ? 'FetchFailed' : reason,
      message:
        err instanceof FetchError
          ? err.message
          : `fetch from ${redactUrl(spec.url)} failed: ${describeError(err)}`,
      stalled: reason === 'InvalidRef',
    });
  }
  ms.fetch = Date.now() - t;
  const { revision, refName } = fetched;
  const at = `revision ${refName}@${revision.slice(0, 12)}`;

  t = Date.now();
  let built;
  try {
    built = await build(
      input.dir,
      spec.path ?? '.',
      {
        namespace: owner.namespace,
        targetNamespace: spec.targetNamespace,
        confinement: confinementOf(owner.namespace, input.policy),
        // Discovery (cached per API version) is the truth: a misspelt kind fails the build, not
        // the apply halfway through.
        scopeOf: (apiVersion, kind) => api.scope(apiVersion, kind),
      },
      input.limits,
    );
  } catch (err) {
    // Discovery failed (the API server is unreachable): retry, this is not the repository's fault.
    return fail({ reason: 'BuildFailed', message: `${at}: ${describeError(err)}`, stalled: false, revision });
  }
  ms.build = Date.now() - t;
  if (!built.ok)
    return fail({
      reason: 'BuildFailed',
      message: `${at}: ${describeProblems(built.problems)}`,
      stalled: true,
      revision,
    });

  // Canaries in Git count before they reach the cluster: the first sync of a Deployment and its
  // Canary already leaves the Deployment's replicas to Weir.
  const targets = new Set(input.canaryTargets);
  for (const d of built.objects) {
    if (d.obj.kind !== 'Canary') continue;
    const c = d.obj as unknown as CanaryObject;
    if (c.spec?.targetRef?.name) targets.add(`${c.metadata.namespace}/${c.spec.targetRef.name}`);
  }

  t = Date.now();
  let applied: ApplyReport;
  try {
    applied = await applyAll(api, built.objects, {
      owner,
      revision,
      canaryTargets: targets,
      memory: input.memory,
      deadline: Date.now() + timeoutMs,
      owned: new Set(input.previousInventory.map((e) => keyOf(e))),
      adopt: spec.adopt ?? false,
    });
  } catch (err) {
    const partial = err instanceof ApplyError ? err.report.inventory : [];
    return fail({
      reason: 'ApplyFailed',
      message: `${at}: ${describeError(err)}`,
      stalled: false,
      revision,
      // Keep tracking what was there and what got created, so a later prune still finds it.
      inventory: [...input.previousInventory, ...partial],
    });
  }
  ms.apply = Date.now() - t;

  let pruned: PruneReport | undefined;
  if (spec.prune) {
    t = Date.now();
    const candidates = leftGit(input.previousInventory, applied.inventory);
    try {
      pruned = await prune(api, candidates, owner, confinementOf(owner.namespace, input.policy));
    } catch (err) {
      return {
        ...fail({
          reason: 'PruneFailed',
          message: `${at}: ${describeError(err)}`,
          stalled: false,
          revision,
          inventory: [...applied.inventory, ...candidates],
        }),
        apply: applied,
      };
    }
    ms.prune = Date.now() - t;
  }

  const changes = [
    applied.created.length ? `created ${list(applied.created)}` : '',
    applied.configured.length ? `configured ${list(applied.configured)}` : '',
  ].filter(Boolean);
  const report: SyncReport = {
    outcome: {
      ok: true,
      revision,
      refName,
      inventory: applied.inventory,
      changed: changes.length > 0 || !!pruned?.deleted.length,
    },
    apply: applied,
    ms,
    ...(pruned ? { prune: pruned } : {}),
  };
  if (changes.length)
    report.applyMessage = `Applied ${at}: ${changes.join('; ')} (${applied.unchanged} unchanged)`;
  if (pruned?.deleted.length) report.pruneMessage = `Pruned ${at}: deleted ${list(pruned.deleted)}`;
  const skipped = [
    ...applied.skipped.map((s) => `${s.object} (${s.reason})`),
    ...(pruned?.kept ?? []).map((k) => `${k.object} not pruned (${k.reason})`),
  ];
  if (skipped.length) report.skipMessage = `Left alone: ${list(skipped)}`;
  input.log.debug(
    {
      ms,
      created: applied.created.length,
      configured: applied.configured.length,
      unchanged: applied.unchanged,
    },
    'sync details',
  );
  return report;
}
