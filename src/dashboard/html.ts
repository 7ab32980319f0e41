// The dashboard's pages, rendered on the server as plain HTML; the script (client/main.ts) then keeps
// them live from the Server-Sent Events stream. Every value from the cluster goes through esc().
import type { CanaryObject } from '../canary/context.ts';
import { strategyOf } from '../api/strategy.ts';
import type { CanarySummary, CanaryView } from './model.ts';

export const esc = (s: unknown): string =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

/** JSON for a <script type="application/json"> block: no "</script>" can end it early. */
const jsonBlock = (data: unknown): string => JSON.stringify(data).replace(/</g, '\\u003c');

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
header .who{margin-left:auto;opacity:.8;font-size:12px}
main{padding:16px 20px;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e6ea}
th{font-weight:600;background:#eef0f3}
.phase{font-weight:600}.phase-Failed,.failing{color:#b42318}.phase-Succeeded{color:#067647}
.phase-Progressing,.phase-Promoting,.phase-Finalising{color:#175cd3}
.panel{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:12px 16px;margin:12px 0}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:8px}
.facts dt{font-size:12px;color:#667085}.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.actions button{margin-right:8px;padding:6px 12px;border-radius:4px;border:1px solid #98a2b3;background:#fff;cursor:pointer}
.actions button.danger{border-color:#b42318;color:#b42318}
#notice{min-height:1.4em;margin-top:8px}#notice.error{color:#b42318}
.filters{margin-bottom:10px;display:flex;gap:10px}
.login{max-width:520px;margin:60px auto}.login textarea{width:100%;height:120px}
.metric{display:inline-block;vertical-align:top;margin-right:16px}
.metric .note{font-size:12px;color:#667085;max-width:520px}
.facts dd[data-field$="Revision"]{font-family:monospace;font-size:12px;word-break:break-all}
`;

export interface PageContext {
  user: string;
  csrf: string;
}

export function layout(title: string, body: string, ctx?: PageContext, data?: unknown): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Weir</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
${ctx ? `<meta name="csrf-token" content="${esc(ctx.csrf)}">` : ''}
<link rel="stylesheet" href="/assets/uPlot.min.css"><style>${STYLE}</style></head>
<body><header><a href="/">Weir</a><a href="/">Canaries</a>${ctx ? '<a href="/gitsyncs" id="nav-gitsyncs">GitSyncs</a>' : ''}${
    ctx
      ? `<span class="who">${esc(ctx.user)}</span><form method="post" action="/logout"><button type="submit">Log out</button></form>`
      : ''
  }</header>
<main>${body}</main>
${data !== undefined ? `<script type="application/json" id="weir-data">${jsonBlock(data)}</script>` : ''}
${ctx ? '<script src="/assets/dashboard.js" defer></script>' : ''}
</body></html>`;
}

export function loginPage(message: string, local: boolean): string {
  const how = local
    ? 'Open the URL that <code>weir dashboard</code> printed (its token works once), or paste that token here.'
    : 'Paste a Kubernetes bearer token: <code>kubectl create token &lt;serviceaccount&gt;</code>, or an OIDC ID token your API server accepts. It is checked with a TokenReview and kept in memory only.';
  return layout(
    'Log in',
    `<div class="login panel"><h2>Log in</h2>${message ? `<p class="failing" id="login-error">${esc(message)}</p>` : ''}
<p>${how}</p>
<form method="post" action="/login"><textarea name="token" autocomplete="off" spellcheck="false" required></textarea>
<p><button type="submit">Log in</button></p></form></div>`,
  );
}

export const rowCells = (s: CanarySummary): string =>
  `<td><a href="/canaries/${encodeURIComponent(s.namespace)}/${encodeURIComponent(s.name)}">${esc(s.name)}</a></td>
<td>${esc(s.namespace)}</td><td class="phase phase-${esc(s.phase)}" data-field="phase">${esc(s.phase)}${s.paused ? ' (paused)' : ''}</td>
<td data-field="weight">${s.weight}</td><td data-field="step">${esc(s.step)}</td>
<td data-field="age" data-since="${esc(s.created)}"></td><td class="failing" data-field="failingMetric">${esc(s.failingMetric)}</td>
<td data-field="message">${esc(s.message)}</td>`;

export function listPage(rows: CanarySummary[], ctx: PageContext): string {
  const body = rows
    .map(
      (s) =>
        `<tr data-key="${esc(`${s.namespace}/${s.name}`)}" data-phase="${esc(s.phase)}">${rowCells(s)}</tr>`,
    )
    .join('\n');
  return layout(
    'Canaries',
    `<div class="filters"><input id="filter-text" placeholder="filter by name or namespace">
<select id="filter-phase"><option value="">all phases</option>${[
      'Initialized',
      'Progressing',
      'WaitingPromotion',
      'Promoting',
      'Succeeded',
      'Failed',
      'Frozen',
      'Queued',
    ]
      .map((p) => `<option>${p}</option>`)
      .join('')}</select></div>
<table id="canaries"><thead><tr><th>Name</th><th>Namespace</th><th>Phase</th><th>Weight</th><th>Step</th><th>Age</th><th>Failing metric</th><th>Message</th></tr></thead>
<tbody>${body}</tbody></table>${rows.length ? '' : '<p id="empty">No Canaries you may list.</p>'}`,
    ctx,
    { page: 'list' },
  );
}

export const ACTIONS = [
  ['promote', 'Promote'],
  ['promote-full', 'Promote --full'],
  ['promote-now', 'Promote --now'],
  ['abort', 'Abort'],
  ['retry', 'Retry'],
  ['pause', 'Pause'],
  ['resume', 'Resume'],
] as const;

function stepsOf(c: CanaryObject): string {
  const a = c.spec?.analysis;
  if (!a) return '';
  if (strategyOf(c.spec) === 'steps')
    return `<ol id="steps">${(a.steps ?? [])
      .map((s, i) => `<li data-step="${i}">${esc(JSON.stringify(s))}</li>`)
      .join('')}</ol>`;
  return `<p>stepWeight ${esc(a.stepWeight ?? '')}, maxWeight ${esc(a.maxWeight ?? '')}, interval ${esc(a.interval ?? '')}</p>`;
}

export interface CanaryPageExtras {
  events: Array<{ type: string; reason: string; message: string; time: string }>;
}

export function canaryPage(
  c: CanaryObject,
  view: CanaryView,
  extras: CanaryPageExtras,
  ctx: PageContext,
): string {
  const s = view.summary;
  const fact = (label: string, field: string, value: unknown) =>
    `<div><dt>${label}</dt><dd data-field="${field}">${esc(value)}</dd></div>`;
  const gates = (c.spec?.analysis?.webhooks ?? []).map(
    (w) => `<li>${esc(w.name)} (${esc(w.type ?? 'rollout')})</li>`,
  );
  const conditions = (c.status?.conditions ?? []).map(
    (x) => `<li>${esc(x.type)}=${esc(x.status)} ${esc(x.reason ?? '')}: ${esc(x.message ?? '')}</li>`,
  );
  return layout(
    `${s.namespace}/${s.name}`,
    `<h1>${esc(s.namespace)}/${esc(s.name)}</h1>
<div class="panel"><dl class="facts">
${fact('Phase', 'phase', s.phase + (s.paused ? ' (paused)' : ''))}${fact('Canary weight', 'weight', s.weight)}
${fact('Step', 'step', s.step)}${fact('Failed checks', 'failedChecks', s.failedChecks)}
${fact('Primary image', 'primaryImage', view.deployed?.primary.image ?? '')}${fact('Primary revision', 'primaryRevision', view.deployed?.primary.revision ?? '')}
${fact('Canary image', 'canaryImage', view.deployed?.canary.image ?? '')}${fact('Canary revision', 'canaryRevision', view.deployed?.canary.revision ?? '')}
</dl><p data-field="message">${esc(s.message)}</p>
<div class="actions">${ACTIONS.map(
      ([kind, label]) =>
        `<button type="button" data-action="${kind}"${kind === 'abort' ? ' class="danger"' : ''}>${label}</button>`,
    ).join('')}</div><div id="notice" role="status"></div></div>
<div class="panel"><h3>Canary weight over time</h3><div id="weight-chart" data-points="0"></div></div>
<div class="panel"><h3>Metrics</h3><div id="metric-charts"></div></div>
<div class="panel"><h3>Steps</h3>${stepsOf(c)}</div>
<div class="panel"><h3>Gates</h3><ul>${gates.join('') || '<li>none</li>'}</ul><h3>Conditions</h3><ul>${conditions.join('')}</ul></div>
<div class="panel"><h3>Events</h3><table id="events"><tbody>${extras.events
      .map(
        (e) =>
          `<tr><td>${esc(e.time)}</td><td>${esc(e.type)}</td><td>${esc(e.reason)}</td><td>${esc(e.message)}</td></tr>`,
      )
      .join('')}</tbody></table></div>`,
    ctx,
    { page: 'canary', namespace: s.namespace, name: s.name, view },
  );
}

export function errorPage(status: number, message: string, ctx?: PageContext): string {
  return layout(
    String(status),
    `<div class="panel"><h2>${status}</h2><p id="error">${esc(message)}</p></div>`,
    ctx,
  );
}
