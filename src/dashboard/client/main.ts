/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The dashboard's browser script (bundled with uPlot by esbuild, see ../assets.ts): keeps the
// server-rendered page live from the Server-Sent Events stream (no polling), draws the weight and
// metric charts, filters the list and sends the actions with the session's CSRF token.
import uPlot from 'uplot';
import {
  metricChartData,
  type CanarySummary,
  type CanaryView,
  type HistoryAnswer,
  type MetricHistory,
  type MetricSeries,
  type TimelinePoint,
} from '../model.ts';

type PageData =
  | { page: 'list' }
  | { page: 'canary'; namespace: string; name: string; view: CanaryView }
  | { page: 'gitsync'; namespace: string; name: string };

const data = JSON.parse(document.getElementById('weir-data')?.textContent ?? '{}') as PageData;
const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

function setField(root: ParentNode, field: string, value: string): void {
  for (const el of root.querySelectorAll<HTMLElement>(`[data-field="${field}"]`)) el.textContent = value;
}

function age(since: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(since)) / 1000);
  if (!since || Number.isNaN(s)) return '';
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

const phaseText = (s: CanarySummary) => s.phase + (s.paused ? ' (paused)' : '');

// ---- list page ----

function listRow(s: CanarySummary): HTMLTableRowElement {
  const key = `${s.namespace}/${s.name}`;
  const body = document.querySelector('#canaries tbody')!;
  let row = body.querySelector<HTMLTableRowElement>(`tr[data-key="${CSS.escape(key)}"]`);
  if (row) return row;
  row = document.createElement('tr');
  row.dataset.key = key;
  const link = document.createElement('a');
  link.href = `/canaries/${encodeURIComponent(s.namespace)}/${encodeURIComponent(s.name)}`;
  link.textContent = s.name;
  const cells = ['', 'namespace', 'phase', 'weight', 'step', 'age', 'failingMetric', 'message'].map((f) => {
    const td = document.createElement('td');
    if (f) td.dataset.field = f;
    return td;
  });
  cells[0]!.append(link);
  cells[1]!.textContent = s.namespace;
  row.append(...cells);
  body.append(row);
  document.getElementById('empty')?.remove();
  return row;
}

function updateRow(s: CanarySummary): void {
  const row = listRow(s);
  row.dataset.phase = s.phase;
  setField(row, 'phase', phaseText(s));
  row.querySelector('[data-field="phase"]')!.className = `phase phase-${s.phase}`;
  setField(row, 'weight', String(s.weight));
  setField(row, 'step', s.step);
  setField(row, 'failingMetric', s.failingMetric);
  setField(row, 'message', s.message);
  const ageCell = row.querySelector<HTMLElement>('[data-field="age"]')!;
  ageCell.dataset.since = s.created;
  ageCell.textContent = age(s.created);
  filterRows();
}

function filterRows(): void {
  const text = (document.getElementById('filter-text') as HTMLInputElement | null)?.value.toLowerCase() ?? '';
  const phase = (document.getElementById('filter-phase') as HTMLSelectElement | null)?.value ?? '';
  for (const row of document.querySelectorAll<HTMLTableRowElement>('#canaries tbody tr')) {
    const show =
      (row.dataset.key ?? '').toLowerCase().includes(text) && (!phase || row.dataset.phase === phase);
    row.hidden = !show;
  }
}

function listPage(): void {
  document.getElementById('filter-text')?.addEventListener('input', filterRows);
  document.getElementById('filter-phase')?.addEventListener('change', filterRows);
  const refreshAges = () => {
    for (const el of document.querySelectorAll<HTMLElement>('[data-field="age"]'))
      el.textContent = age(el.dataset.since ?? '');
  };
  refreshAges();
  setInterval(refreshAges, 10_000);
  const events = new EventSource('/events');
  events.addEventListener('canary', (e) => updateRow(JSON.parse((e as MessageEvent).data) as CanarySummary));
  events.addEventListener('deleted', (e) => {
    const d = JSON.parse((e as MessageEvent).data) as { namespace: string; name: string };
    document.querySelector(`tr[data-key="${CSS.escape(`${d.namespace}/${d.name}`)}"]`)?.remove();
  });
}

// ---- canary page ----

/** Dashed vertical lines, labelled, where the phase changes. */
function phaseMarkers(timeline: () => TimelinePoint[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u: uPlot) => {
        const ctx = u.ctx;
        const points = timeline();
        ctx.save();
        ctx.font = `${11 * devicePixelRatio}px system-ui`;
        ctx.fillStyle = '#475467';
        ctx.strokeStyle = '#98a2b3';
        ctx.setLineDash([4, 4]);
        points.forEach((p, i) => {
          if (i > 0 && points[i - 1]!.phase === p.phase) return;
          const x = Math.round(u.valToPos(p.t, 'x', true));
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillText(p.phase, x + 4, u.bbox.top + 12 * devicePixelRatio);
        });
        ctx.restore();
      },
    },
  };
}

const chartWidth = (el: HTMLElement) => Math.max(400, Math.min(el.clientWidth || 900, 1100));

function weightChart(el: HTMLElement, initial: TimelinePoint[]) {
  let timeline = initial;
  const series = (): uPlot.AlignedData => {
    // The line runs on to now at the latest weight.
    const now = Math.max(Date.now() / 1000, timeline[timeline.length - 1]?.t ?? 0);
    return [
      [...timeline.map((p) => p.t), now],
      [...timeline.map((p) => p.weight), timeline[timeline.length - 1]?.weight ?? 0],
    ];
  };
  const plot = new uPlot(
    {
      width: chartWidth(el),
      height: 240,
      scales: { y: { range: [0, 100] } },
      series: [
        {},
        { label: 'canary weight %', stroke: '#175cd3', width: 2, paths: uPlot.paths.stepped!({ align: 1 }) },
      ],
      plugins: [phaseMarkers(() => timeline)],
    },
    series(),
    el,
  );
  const mark = () => {
    el.dataset.points = String(timeline.length);
    el.dataset.weights = timeline.map((p) => p.weight).join(',');
    el.dataset.lastWeight = String(timeline[timeline.length - 1]?.weight ?? 0);
  };
  mark();
  return (next: TimelinePoint[]) => {
    timeline = next;
    plot.setData(series());
    mark();
  };
}

interface MetricChart {
  update(m: MetricSeries): void;
  history(h: MetricHistory | undefined): void;
}

/**
 * One metric: the backend's series of the canary (and primary) as lines, the recorded measurements
 * as points (failed ones in red), the threshold band as dashed min/max lines.
 */
function metricChart(host: HTMLElement, m: MetricSeries): MetricChart {
  const box = document.createElement('div');
  box.className = 'metric';
  box.dataset.metric = m.name;
  const caption = document.createElement('div');
  const target = document.createElement('div');
  const note = document.createElement('div');
  note.className = 'note';
  box.append(caption, target, note);
  host.append(box);
  let current = m;
  let history: MetricHistory | undefined;
  const series = (): uPlot.AlignedData => {
    const d = metricChartData(current, history);
    return [d.x, d.measured, d.canary, d.primary, d.min, d.max];
  };
  const failedPoints: uPlot.Plugin = {
    hooks: {
      draw: (u: uPlot) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = '#b42318';
        current.results.forEach((r, i) => {
          const v = current.values[i];
          if (r !== 'Failed' || v === null || v === undefined) return;
          ctx.beginPath();
          ctx.arc(
            u.valToPos(current.times[i]!, 'x', true),
            u.valToPos(v, 'y', true),
            5 * devicePixelRatio,
            0,
            7,
          );
          ctx.fill();
        });
        ctx.restore();
      },
    },
  };
  const plot = new uPlot(
    {
      width: 520,
      height: 200,
      series: [
        {},
        {
          label: 'measured',
          stroke: '#344054',
          width: 0,
          points: { show: true, size: 7 },
          paths: () => null,
        },
        { label: 'canary', stroke: '#175cd3', width: 2, spanGaps: true, points: { show: false } },
        { label: 'primary', stroke: '#98a2b3', width: 2, spanGaps: true, points: { show: false } },
        { label: 'min', stroke: '#12b76a', dash: [6, 4], spanGaps: true, points: { show: false } },
        { label: 'max', stroke: '#f79009', dash: [6, 4], spanGaps: true, points: { show: false } },
      ],
      plugins: [failedPoints],
    },
    series(),
    target,
  );
  const update = (x: MetricSeries) => {
    current = x;
    box.dataset.result = x.result;
    box.classList.toggle('failing', x.result === 'Failed');
    const last = x.values[x.values.length - 1];
    caption.textContent = `${x.name}: ${last ?? 'no value'} — ${x.result}${x.message ? ` (${x.message})` : ''}`;
    plot.setData(series());
  };
  update(m);
  return {
    update,
    history(h) {
      history = h;
      box.dataset.historyPoints = String(h?.canary?.times.length ?? 0);
      box.dataset.primaryPoints = String(h?.primary?.times.length ?? 0);
      note.textContent = h?.note ?? '';
      plot.setData(series());
    },
  };
}

/** Latest measurement time per metric: a new measurement fetches the history again. */
const measuredAt = (v: CanaryView) => v.metrics.map((m) => `${m.name}@${m.times.at(-1) ?? ''}`).join(',');

function canaryPage(page: Extract<PageData, { page: 'canary' }>): void {
  const updateWeights = weightChart(document.getElementById('weight-chart')!, page.view.timeline);
  const metricHost = document.getElementById('metric-charts')!;
  const metrics = new Map<string, MetricChart>();
  const base = `/canaries/${encodeURIComponent(page.namespace)}/${encodeURIComponent(page.name)}`;
  let histories: MetricHistory[] = [];
  let fetched = '';
  const showHistory = () => {
    for (const [name, chart] of metrics) chart.history(histories.find((h) => h.name === name));
  };
  // Fetched at load and again after each new measurement (an SSE event), never on a timer.
  const loadHistory = async (v: CanaryView) => {
    if (measuredAt(v) === fetched) return;
    fetched = measuredAt(v);
    try {
      const res = await fetch(`${base}/metric-history`, { credentials: 'same-origin' });
      const body = (await res.json()) as HistoryAnswer & { error?: string };
      histories = res.ok ? body.metrics : v.metrics.map((m) => ({ name: m.name, note: body.error ?? '' }));
    } catch (err) {
      histories = v.metrics.map((m) => ({ name: m.name, note: `no metric history: ${String(err)}` }));
    }
    showHistory();
  };
  const render = (v: CanaryView) => {
    setField(document, 'phase', phaseText(v.summary));
    setField(document, 'weight', String(v.summary.weight));
    setField(document, 'step', v.summary.step);
    setField(document, 'failedChecks', String(v.summary.failedChecks));
    setField(document, 'message', v.summary.message);
    if (v.deployed) {
      setField(document, 'primaryImage', v.deployed.primary.image ?? '');
      setField(document, 'primaryRevision', v.deployed.primary.revision ?? '');
      setField(document, 'canaryImage', v.deployed.canary.image ?? '');
      setField(document, 'canaryRevision', v.deployed.canary.revision ?? '');
    }
    updateWeights(v.timeline);
    for (const m of v.metrics) {
      const chart = metrics.get(m.name);
      if (chart) chart.update(m);
      else metrics.set(m.name, metricChart(metricHost, m));
    }
    showHistory();
    void loadHistory(v);
  };
  render(page.view);
  const query = new URLSearchParams({ namespace: page.namespace, name: page.name });
  const events = new EventSource(`/events?${query}`);
  events.addEventListener('view', (e) => render(JSON.parse((e as MessageEvent).data) as CanaryView));
  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-action]'))
    button.addEventListener('click', () => void act(page, button.dataset.action!));
}

async function act(page: { namespace: string; name: string }, kind: string): Promise<void> {
  const notice = document.getElementById('notice')!;
  notice.className = '';
  notice.textContent = `${kind}…`;
  const path = `/canaries/${encodeURIComponent(page.namespace)}/${encodeURIComponent(page.name)}/actions/${kind}`;
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'x-csrf-token': csrf },
      credentials: 'same-origin',
    });
    const body = (await res.json()) as { effect?: string; error?: string };
    notice.className = res.ok ? 'ok' : 'error';
    notice.textContent = res.ok
      ? `${kind} requested: ${body.effect}`
      : `${kind}: ${body.error ?? res.statusText}`;
  } catch (err) {
    notice.className = 'error';
    notice.textContent = `${kind}: ${String(err)}`;
  }
}

// ---- GitSync page ----

/** The server renders the page's content again at each change (every value escaped there). */
function gitSyncPage(page: { namespace: string; name: string }): void {
  const body = document.getElementById('gitsync-body')!;
  let updates = 0;
  const path = `/gitsyncs/${encodeURIComponent(page.namespace)}/${encodeURIComponent(page.name)}/events`;
  const events = new EventSource(path);
  events.addEventListener('gitsync', (e) => {
    body.innerHTML = (JSON.parse((e as MessageEvent).data) as { html: string }).html;
    body.dataset.updates = String(++updates);
  });
  events.addEventListener('deleted', () => {
    const gone = document.createElement('p');
    gone.className = 'failing';
    gone.id = 'deleted';
    gone.textContent = 'This GitSync was deleted.';
    body.prepend(gone);
  });
}

if (data.page === 'list') listPage();
else if (data.page === 'canary') canaryPage(data);
else if (data.page === 'gitsync') gitSyncPage(data);
