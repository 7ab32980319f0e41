// The dashboard's GitSync pages, rendered on the server from the object alone (pure, tested from
// tables): the list, and one GitSync's revisions, conditions (with the file:line of a build error),
// inventory and the Canaries it carries. Everything from the object, which a repository's content
// can reach (condition messages quote manifests), goes through esc().
import type { GitSyncObject } from '../cli/gitsync.ts';
import { esc, layout, type PageContext } from './html.ts';

/** Where a build error points: `path/file.yaml:12` (or `:12:3`) as the GitSync's messages write them. */
export function errorLocations(message: string): string[] {
  const found = message.match(/[\w./@+-]+\.(?:ya?ml|json):\d+(?::\d+)?/g) ?? [];
  return [...new Set(found)];
}

const gitSyncHref = (namespace: string, name: string) =>
  `/gitsyncs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;

export const canaryHref = (namespace: string, name: string) =>
  `/canaries/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;

const readyOf = (g: GitSyncObject) => g.status?.conditions?.find((c) => c.type === 'Ready');

export function gitSyncListPage(items: GitSyncObject[], ctx: PageContext, problem = ''): string {
  const rows = items.map((g) => {
    const { namespace, name } = g.metadata;
    const ready = readyOf(g);
    return `<tr data-key="${esc(`${namespace}/${name}`)}"><td><a href="${esc(gitSyncHref(namespace, name))}">${esc(name)}</a></td>
<td>${esc(namespace)}</td><td>${esc(g.spec?.url)}</td><td>${esc(ready?.status ?? 'Unknown')}</td>
<td>${esc(g.status?.lastAppliedRevision)}</td><td>${esc(g.status?.lastAttemptedRevision)}</td>
<td>${esc(ready?.message ?? '')}</td></tr>`;
  });
  return layout(
    'GitSyncs',
    `<h1>GitSyncs</h1>${problem ? `<p class="failing" id="problem">${esc(problem)}</p>` : ''}
<table id="gitsyncs"><thead><tr><th>Name</th><th>Namespace</th><th>Repository</th><th>Ready</th><th>Applied revision</th><th>Attempted revision</th><th>Message</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>${items.length ? '' : '<p id="empty">No GitSyncs you may list.</p>'}`,
    ctx,
  );
}

function conditionRows(g: GitSyncObject): string {
  return (g.status?.conditions ?? [])
    .map((c) => {
      const where = errorLocations(c.message ?? '');
      return `<tr data-condition="${esc(c.type)}"><td>${esc(c.type)}</td><td>${esc(c.status)}</td><td>${esc(c.reason ?? '')}</td>
<td class="where">${where.map((w) => `<code>${esc(w)}</code>`).join(' ')}</td><td>${esc(c.message ?? '')}</td></tr>`;
    })
    .join('\n');
}

function inventoryRows(g: GitSyncObject): string {
  return (g.status?.inventory ?? [])
    .map(
      (e) =>
        `<tr><td>${esc(e.apiVersion)}</td><td>${esc(e.kind)}</td><td>${esc(e.namespace ?? '')}</td><td>${esc(e.name)}</td></tr>`,
    )
    .join('\n');
}

/** The Canaries in the inventory, with the phase and Git revision status.canaries records for each. */
function canaryRows(g: GitSyncObject): string {
  const known = new Map((g.status?.canaries ?? []).map((c) => [`${c.namespace}/${c.name}`, c]));
  return (g.status?.inventory ?? [])
    .filter((e) => e.kind === 'Canary' && e.apiVersion.startsWith('weir.dev/'))
    .map((e) => {
      const namespace = e.namespace ?? g.metadata.namespace;
      const c = known.get(`${namespace}/${e.name}`);
      return `<tr><td><a class="canary-link" href="${esc(canaryHref(namespace, e.name))}">${esc(namespace)}/${esc(e.name)}</a></td>
<td>${esc(c?.phase ?? '')}</td><td>${esc(c?.gitRevision ?? '')}</td></tr>`;
    })
    .join('\n');
}

export function gitSyncPage(g: GitSyncObject, ctx: PageContext): string {
  const { namespace, name } = g.metadata;
  return layout(`GitSync ${namespace}/${name}`, `<div id="gitsync-body">${gitSyncBody(g)}</div>`, ctx, {
    page: 'gitsync',
    namespace,
    name,
  });
}

/** The GitSync page's content, sent again on the page's stream at every change of the GitSync. */
export function gitSyncBody(g: GitSyncObject): string {
  const { namespace, name } = g.metadata;
  const s = g.status ?? {};
  const fact = (label: string, field: string, value: unknown) =>
    `<div><dt>${label}</dt><dd data-field="${field}">${esc(value)}</dd></div>`;
  const ref = g.spec?.ref ?? {};
  const behind = s.lastAttemptedRevision && s.lastAttemptedRevision !== s.lastAppliedRevision;
  return `<h1>GitSync ${esc(namespace)}/${esc(name)}</h1>
<div class="panel"><dl class="facts">
${fact('Repository', 'url', g.spec?.url)}${fact('Ref', 'ref', ref.branch ?? ref.tag ?? ref.commit ?? '')}${fact('Path', 'path', g.spec?.path)}
${fact('Applied revision', 'appliedRevision', s.lastAppliedRevision ?? '')}${fact('Attempted revision', 'attemptedRevision', s.lastAttemptedRevision ?? '')}
${fact('Applied at', 'appliedTime', s.lastAppliedTime ?? '')}${fact('Suspended', 'suspend', g.spec?.suspend ? 'yes' : 'no')}
</dl>${behind ? '<p class="failing" id="not-applied">The attempted revision is not applied: see the conditions.</p>' : ''}</div>
<div class="panel"><h3>Conditions</h3><table id="conditions"><thead><tr><th>Type</th><th>Status</th><th>Reason</th><th>Where</th><th>Message</th></tr></thead>
<tbody>${conditionRows(g)}</tbody></table></div>
<div class="panel"><h3>Canaries</h3><table id="canaries"><thead><tr><th>Canary</th><th>Phase</th><th>Git revision</th></tr></thead>
<tbody>${canaryRows(g)}</tbody></table></div>
<div class="panel"><h3>Inventory</h3><table id="inventory"><thead><tr><th>API version</th><th>Kind</th><th>Namespace</th><th>Name</th></tr></thead>
<tbody>${inventoryRows(g)}</tbody></table></div>`;
}
