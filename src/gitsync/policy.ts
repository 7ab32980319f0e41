// GitSync's tenancy policy, set by controller flags (Flux's multi-tenancy model): which identity a
// GitSync applies as (its `spec.serviceAccountName`, else `--default-service-account`, else the
// controller itself), whether it may write outside its own namespace or cluster-scoped objects
// (`--gitsync-no-cross-namespace` with two allow-lists), whether `file://` URLs may be fetched
// (`--allow-file-urls`), and where each GitSync's private checkout lives. Pure functions: the build
// asks `confinementOf`, the sync asks `impersonationOf` and `checkUrl`.
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WeirError } from '../errors.ts';

export interface GitSyncPolicy {
  /** ServiceAccount (in the GitSync's namespace) for GitSyncs that name none; unset: the controller. */
  defaultServiceAccount?: string;
  /** Refuse objects outside the GitSync's namespace and cluster-scoped objects (with exceptions below). */
  noCrossNamespace: boolean;
  /** Namespaces whose GitSyncs may still write into other namespaces. */
  crossNamespaceAllowed: string[];
  /** Namespaces whose GitSyncs may still write cluster-scoped objects (Namespaces, CRDs, ClusterRoles…). */
  clusterScopedAllowed: string[];
  /** Whether `file://` URLs may be fetched (off: a GitSync could read the controller's filesystem). */
  allowFileUrls: boolean;
}

/** What a GitSync in one namespace may write; the build refuses the rest. */
export interface Confinement {
  otherNamespaces: boolean;
  clusterScoped: boolean;
}

export const OPEN_POLICY: GitSyncPolicy = {
  noCrossNamespace: false,
  crossNamespaceAllowed: [],
  clusterScopedAllowed: [],
  allowFileUrls: false,
};

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function nameList(flag: string, raw: string | undefined): string[] {
  const names = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!DNS_NAME.test(n) || n.length > 63)
      throw new WeirError('CONFIG', `${flag}: ${JSON.stringify(n)} is not a namespace name`);
  return names;
}

export function parseGitSyncPolicy(raw: {
  defaultServiceAccount?: string | undefined;
  noCrossNamespace?: boolean | undefined;
  crossNamespaceAllowed?: string | undefined;
  clusterScopedAllowed?: string | undefined;
  allowFileUrls?: boolean | undefined;
}): GitSyncPolicy {
  const sa = raw.defaultServiceAccount?.trim();
  if (sa && (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(sa) || sa.length > 253))
    throw new WeirError(
      'CONFIG',
      `--default-service-account: ${JSON.stringify(sa)} is not a ServiceAccount name`,
    );
  return {
    ...(sa ? { defaultServiceAccount: sa } : {}),
    noCrossNamespace: raw.noCrossNamespace ?? false,
    crossNamespaceAllowed: nameList('--gitsync-cross-namespace-allowed', raw.crossNamespaceAllowed),
    clusterScopedAllowed: nameList('--gitsync-cluster-scoped-allowed', raw.clusterScopedAllowed),
    allowFileUrls: raw.allowFileUrls ?? false,
  };
}

export function confinementOf(namespace: string, p: GitSyncPolicy): Confinement {
  return {
    otherNamespaces: !p.noCrossNamespace || p.crossNamespaceAllowed.includes(namespace),
    clusterScoped: !p.noCrossNamespace || p.clusterScopedAllowed.includes(namespace),
  };
}

/**
 * The user a GitSync's API calls impersonate: `system:serviceaccount:<its namespace>:<sa>`, always in
 * the GitSync's own namespace (so a tenant cannot borrow another namespace's account), or undefined
 * for the controller's own identity.
 */
export function impersonationOf(
  namespace: string,
  serviceAccountName: string | undefined,
  p: GitSyncPolicy,
): string | undefined {
  const sa = serviceAccountName ?? p.defaultServiceAccount;
  return sa ? `system:serviceaccount:${namespace}:${sa}` : undefined;
}

/** Why a GitSync's URL is refused, or undefined. `cacheRoot` is the root of every checkout. */
export function checkUrl(url: string, p: GitSyncPolicy, cacheRoot: string): string | undefined {
  if (!/^file:/i.test(url)) return undefined;
  if (!p.allowFileUrls)
    return 'spec.url: file:// URLs are disabled on this controller (they read its filesystem); an admin can allow them with --allow-file-urls';
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    return `spec.url: ${url} is not a valid file:// URL`;
  }
  if (!isAbsolute(path)) return `spec.url: ${url} is not an absolute file:// URL`;
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  const root = real(cacheRoot);
  const target = real(path);
  if (target === root || target.startsWith(root + sep) || root.startsWith(target + sep))
    return "spec.url: a file:// URL may not point into the controller's GitSync checkouts";
  return undefined;
}

/** The private checkout of one GitSync: namespace, name and uid (a re-created GitSync starts afresh). */
export function checkoutDir(cacheRoot: string, namespace: string, name: string, uid: string): string {
  return join(cacheRoot, namespace, `${name}-${uid}`);
}

/** Whether a directory entry under `<cacheRoot>/<namespace>/` is a checkout of GitSync `name`. */
export function isCheckoutOf(entry: string, name: string): boolean {
  const rest = entry.startsWith(`${name}-`) ? entry.slice(name.length + 1) : '';
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(rest);
}

// setTimeout takes a signed 32-bit delay: anything longer fires at once, so an interval of 30 days
// would loop about 600 times a second. Every GitSync timer goes through this.
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function clampDelay(ms: number): number {
  if (Number.isNaN(ms)) return MAX_TIMER_MS;
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}
