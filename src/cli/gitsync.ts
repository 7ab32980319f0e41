// `weir get gitsync [NAME]` and `weir sync gitsync NAME`: the GitSync table, and an immediate sync
// requested through the annotation weir.dev/sync-requested=<ISO time>, which the GitSync controller
// acknowledges by copying the value to status.lastHandledSyncRequest once it has synced.
import type { GitSyncSpec, GitSyncStatus } from '../api/gitsync.ts';
import type { Obj } from '../kube/client.ts';
import { call, collectionPath, connect, getObject, listObjects } from './kube.ts';
import { RESOURCES, type KubeFlags } from './flags.ts';
import { formatList, formatObject, type Format } from './output.ts';
import { parseTimeout } from './status.ts';
import { styleFor, table, type Style } from './style.ts';
import { watchCollection } from './watch.ts';

export const SYNC_REQUEST_ANNOTATION = 'weir.dev/sync-requested';

export interface GitSyncObject extends Obj {
  metadata: Obj['metadata'] & { name: string; namespace: string };
  spec: GitSyncSpec;
  status?: GitSyncStatus;
}

const readyOf = (g: GitSyncObject) => g.status?.conditions?.find((c) => c.type === 'Ready');

export function renderGitSyncs(items: GitSyncObject[], style: Style): string {
  if (!items.length) return 'No GitSyncs found.';
  const rows = items.map((g) => {
    const ready = readyOf(g);
    const status = ready?.status ?? 'Unknown';
    return [
      g.metadata.name,
      g.spec?.url ?? '-',
      g.status?.lastAppliedRevision ?? '-',
      status === 'True' ? style.green('True') : status === 'False' ? style.red('False') : status,
      (ready?.message ?? '').replace(/\s+/g, ' '),
    ];
  });
  return [table([['NAME', 'URL', 'REVISION', 'READY', 'MESSAGE'], ...rows]), renderRollbacks(items, style)]
    .filter(Boolean)
    .join('\n\n');
}

/**
 * Rollbacks of the Canaries the GitSyncs apply: Pinned (Git asks for a revision the cluster does not
 * run) first, in yellow, then what was written back to Git. Empty when there are none.
 */
export function renderRollbacks(items: GitSyncObject[], style: Style): string {
  const rows = items.flatMap((g) =>
    (g.status?.rollbacks ?? []).map((r) => [
      g.metadata.name,
      `${r.namespace}/${r.canary}`,
      r.state === 'Pinned' ? style.yellow(r.state) : r.state,
      r.message,
    ]),
  );
  rows.sort((a, b) => Number(b[2] !== 'WrittenBack') - Number(a[2] !== 'WrittenBack'));
  return rows.length ? table([['GITSYNC', 'CANARY', 'ROLLBACK', 'MESSAGE'], ...rows]) : '';
}

export type GetFlags = KubeFlags & { output?: Format; color?: boolean };

export async function getGitSyncs(name: string | undefined, flags: GetFlags): Promise<number> {
  const cli = connect(flags);
  const items = name
    ? [await getObject<GitSyncObject>(cli, RESOURCES.gitSync, cli.namespace, name)]
    : await listObjects<GitSyncObject>(
        cli,
        RESOURCES.gitSync,
        flags.allNamespaces ? undefined : cli.namespace,
      );
  if (flags.output)
    console.log(name ? formatObject(items[0], flags.output) : formatList(items, flags.output));
  else console.log(renderGitSyncs(items, styleFor(process.stdout, flags.color)));
  return 0;
}

export async function syncGitSync(name: string, flags: KubeFlags & { timeout: string }): Promise<number> {
  const timeoutMs = parseTimeout(flags.timeout);
  const cli = connect(flags);
  const ns = cli.namespace;
  await getObject<GitSyncObject>(cli, RESOURCES.gitSync, ns, name);
  const requested = new Date().toISOString();
  await call(cli, `patch GitSync ${ns}/${name}`, () =>
    cli.kube.mergePatch(
      { apiVersion: RESOURCES.gitSync.apiVersion, kind: 'GitSync', namespace: ns, name },
      { metadata: { annotations: { [SYNC_REQUEST_ANNOTATION]: requested } } },
    ),
  );
  console.log(`GitSync ${ns}/${name}: sync requested (${SYNC_REQUEST_ANNOTATION}=${requested})`);
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const w = watchCollection<GitSyncObject>(cli.kc, {
    path: collectionPath(RESOURCES.gitSync, ns),
    fieldSelector: `metadata.name=${name}`,
    onEvent: (e) => {
      if (e.type === 'DELETED') {
        console.log(`GitSync ${ns}/${name} was deleted`);
        return finish(1);
      }
      const g = e.object;
      if (g.status?.lastHandledSyncRequest !== requested) return;
      const ready = readyOf(g);
      if (ready?.status === 'True') {
        console.log(
          `✔ synced to revision ${g.status?.lastAppliedRevision ?? '?'}: ${ready.message ?? ''}`.trimEnd(),
        );
        finish(0);
      } else {
        console.log(
          `✖ sync failed (applied revision ${g.status?.lastAppliedRevision ?? 'none'}): ${ready?.reason ?? ''} ${ready?.message ?? ''}`.trimEnd(),
        );
        finish(1);
      }
    },
  });
  const timer = setTimeout(() => {
    console.log(
      `◌ timed out after ${flags.timeout} waiting for the GitSync controller to handle the request`,
    );
    finish(2);
  }, timeoutMs);
  const code = await done;
  clearTimeout(timer);
  w.stop();
  return code;
}
