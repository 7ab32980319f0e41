// Why a Prometheus-API query returned no data (Flagger #1365: a query that matches nothing silently
// stalls the rollout). Each vector selector of the query is narrowed one matcher at a time, with
// cheap count queries over a recent window, until a step matches nothing:
//   metric-missing      no series has the metric name at all
//   namespace-mismatch  the name exists, but not with the namespace matcher
//   pod-mismatch        the namespace has series, but none matches the pod (workload) selector
//   no-samples          every matcher matches, but the series carry too few samples in the
//                       query's range (rate() needs two: the scrape interval is too long)
// and otherwise the series are there with samples, so the query's own arithmetic is empty or 0/0:
// the canary has no traffic. The order matters: namespace matchers are added before pod matchers
// before any other, so the first empty step names the most general cause.
//
// The backend is reached through one function (an instant query returning a vector), so any
// provider that speaks Prometheus' query API can diagnose; the provider bounds it in time.
import { selectorText, vectorSelectors, type LabelMatcher, type VectorSelector } from './promql-selectors.ts';

export type NoDataCause =
  | 'metric-missing'
  | 'namespace-mismatch'
  | 'pod-mismatch'
  | 'no-samples'
  | 'label-mismatch'
  | 'series-present';

export interface NoDataDiagnosis {
  cause: NoDataCause;
  /** A sentence saying what matched nothing and what to do. */
  detail: string;
}

/** What the query was rendered for, to tell the namespace and pod matchers from the others. */
export interface NoDataHints {
  namespace: string;
  /** The canary's workload and service names, which pod selectors are built from. */
  workloads: string[];
  /** Whose pods the query selects: the canary's (default) or, for compare, the primary's. */
  side?: 'canary' | 'primary';
}

export interface VectorSample {
  labels: Record<string, string>;
  value: number;
}

/** One instant query against the backend; rejects on any failure. */
export type InstantVectorQuery = (promql: string) => Promise<VectorSample[]>;

/** How far back a series counts as existing: long enough to outlast a slow scrape or a restart. */
export const EXISTS_WINDOW = '1h';
/** The most label values a message lists. */
const MAX_VALUES = 5;
/** Functions that need two samples in their range to return anything. */
const TWO_SAMPLE_FUNCTIONS = new Set([
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'predict_linear',
]);
/** The most selectors diagnosed in one query; each costs a few queries. */
const MAX_SELECTORS = 4;

type Role = 'name' | 'namespace' | 'pod' | 'other';

/** Most general first: the cause reported when several selectors have one. */
const RANK: Record<NoDataCause, number> = {
  'metric-missing': 0,
  'namespace-mismatch': 1,
  'pod-mismatch': 2,
  'no-samples': 3,
  // A selector with series and samples explains the empty result better than a matcher that only
  // narrows another selector (a `status=~"5.."` numerator guarded by `or vector(0)`).
  'series-present': 4,
  'label-mismatch': 5,
};

/**
 * The diagnosis of a query that returned no data, or undefined when the query has no vector
 * selector this module understands. Rejects when a diagnosis query fails.
 */
export async function diagnoseNoData(
  query: string,
  hints: NoDataHints,
  run: InstantVectorQuery,
  backend: string,
): Promise<NoDataDiagnosis | undefined> {
  const selectors = vectorSelectors(query).slice(0, MAX_SELECTORS);
  if (selectors.length === 0) return undefined;
  const memo = new Map<string, Promise<VectorSample[]>>();
  const cached: InstantVectorQuery = (q) => {
    if (!memo.has(q)) memo.set(q, run(q));
    return memo.get(q)!;
  };
  let best: { found: NoDataDiagnosis; matchers: number } | undefined;
  // One selector at a time, so that the memo shares the common prefixes of similar selectors.
  for (const s of selectors) {
    const found = await diagnoseSelector(s, hints, cached, backend);
    const rank = RANK[found.cause] - (best ? RANK[best.found.cause] : Infinity);
    // Of two selectors with the same cause, the one with fewer matchers says it more plainly
    // (the total, not its 5xx part).
    if (rank < 0 || (rank === 0 && s.matchers.length < best!.matchers)) {
      best = { found, matchers: s.matchers.length };
    }
  }
  return best?.found;
}

async function diagnoseSelector(
  s: VectorSelector,
  hints: NoDataHints,
  run: InstantVectorQuery,
  backend: string,
): Promise<NoDataDiagnosis> {
  const ordered = orderMatchers(s.matchers, hints);
  const names = ordered.filter((m) => m.role === 'name');
  let prefix: Array<LabelMatcher & { role: Role }> = names;
  if ((s.name || names.length) && !(await exists(s, prefix, run))) {
    const what = selectorText({ name: s.name, matchers: names });
    return { cause: 'metric-missing', detail: missingDetail(what, backend) };
  }
  for (const m of ordered.filter((x) => x.role !== 'name')) {
    const before = prefix;
    prefix = [...prefix, m];
    if (await exists(s, prefix, run)) continue;
    const values = await labelValues(s, before, m.label, run);
    return mismatch(s, before, m, values, backend, hints.side);
  }
  return samplesFinding(s, run, hints.side);
}

/** __name__ matchers first, then namespace, pod and other matchers, each group in query order. */
function orderMatchers(matchers: LabelMatcher[], hints: NoDataHints): Array<LabelMatcher & { role: Role }> {
  const order: Role[] = ['name', 'namespace', 'pod', 'other'];
  return matchers
    .map((m) => ({ ...m, role: roleOf(m, hints) }))
    .sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role));
}

const POD_LABEL = /(^|_)(pod|pod_name|workload|deployment)$/i;

function roleOf(m: LabelMatcher, hints: NoDataHints): Role {
  if (m.label === '__name__') return 'name';
  if (/namespace/i.test(m.label) || (m.op === '=' && m.value === hints.namespace)) return 'namespace';
  if (POD_LABEL.test(m.label)) return 'pod';
  const workloads = hints.workloads.filter((w) => w.length > 0);
  return workloads.some((w) => m.value.includes(w)) ? 'pod' : 'other';
}

/** The selector narrowed to `matchers`, over `range`, with the query's own offset/@ modifiers. */
function narrowed(s: VectorSelector, matchers: LabelMatcher[], range: string): string {
  const base = selectorText({ name: s.name, matchers });
  return `${base}[${range}]${s.modifiers ? ` ${s.modifiers}` : ''}`;
}

async function exists(
  s: VectorSelector,
  matchers: LabelMatcher[],
  run: InstantVectorQuery,
): Promise<boolean> {
  const found = await run(`count(last_over_time(${narrowed(s, matchers, EXISTS_WINDOW)}))`);
  return found.some((x) => x.value > 0);
}

/** Distinct values of `label` among the series matching `matchers`; [] for a label not queryable so. */
async function labelValues(
  s: VectorSelector,
  matchers: LabelMatcher[],
  label: string,
  run: InstantVectorQuery,
): Promise<string[]> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(label)) return [];
  const found = await run(`count by (${label}) (last_over_time(${narrowed(s, matchers, EXISTS_WINDOW)}))`);
  return [...new Set(found.map((x) => x.labels[label] ?? ''))].filter(Boolean).sort();
}

async function samplesFinding(
  s: VectorSelector,
  run: InstantVectorQuery,
  side = 'canary',
): Promise<NoDataDiagnosis> {
  const full = selectorText(s);
  if (!s.range) {
    // An instant selector sees the newest sample within the query lookback (5m by default).
    const found = await run(`count(${full}${s.modifiers ? ` ${s.modifiers}` : ''})`);
    if (found.some((x) => x.value > 0)) return present(side);
    return {
      cause: 'no-samples',
      detail:
        `the series of ${full} exist but carry no sample within the query lookback (5m by default): ` +
        `they are no longer scraped, or scraped less often than that`,
    };
  }
  const found = await run(`max(count_over_time(${narrowed(s, s.matchers, s.range)}))`);
  const samples = Math.max(0, ...found.map((x) => x.value));
  const needed = s.fn && TWO_SAMPLE_FUNCTIONS.has(s.fn) ? 2 : 1;
  if (samples >= needed) return present(side);
  const carry = samples === 0 ? 'no sample' : `only ${samples} sample`;
  const why = needed === 2 ? `, and ${s.fn}() needs 2` : '';
  return {
    cause: 'no-samples',
    detail:
      `the series of ${full} exist but carry ${carry} in the last ${s.range}${why}: the scrape ` +
      `interval is too long for the analysis interval; scrape at least twice per interval or ` +
      `lengthen the interval`,
  };
}

function present(side: string): NoDataDiagnosis {
  return {
    cause: 'series-present',
    detail: `its series exist and carry samples, so the ${side} may be receiving no traffic`,
  };
}

function missingDetail(what: string, backend: string): string {
  return (
    `${backend} has no series of ${what} in the last ${EXISTS_WINDOW}: check the metric name and ` +
    `that ${backend} scrapes the app`
  );
}

function mismatch(
  s: VectorSelector,
  before: LabelMatcher[],
  m: LabelMatcher & { role: Role },
  values: string[],
  backend: string,
  side = 'canary',
): NoDataDiagnosis {
  const of = selectorText({ name: s.name, matchers: before });
  const seen = listValues(m.label, values);
  if (m.role === 'namespace') {
    return {
      cause: 'namespace-mismatch',
      detail:
        `${of} exists, but no series has ${m.text} (${seen}): check the namespace label that ` +
        `${backend}'s scrape config attaches`,
    };
  }
  if (m.role === 'pod') {
    return {
      cause: 'pod-mismatch',
      detail:
        `no series of ${of} has ${m.text}, the ${side}'s pods (${seen}): check that ${backend} ` +
        `scrapes those pods with that label and that they have served requests`,
    };
  }
  return { cause: 'label-mismatch', detail: `no series of ${of} has ${m.text} (${seen})` };
}

function listValues(label: string, values: string[]): string {
  if (values.length === 0) return `no series there has a ${label} label`;
  const shown = values.slice(0, MAX_VALUES).map((v) => (v.length > 80 ? `${v.slice(0, 80)}…` : v));
  const more = values.length > MAX_VALUES ? ` and ${values.length - MAX_VALUES} more` : '';
  return `${label} values there: ${shown.join(', ')}${more}`;
}

const CAUSE_NAMES: Record<NoDataCause, string> = {
  'metric-missing': 'metric not found',
  'namespace-mismatch': 'no series in the namespace',
  'pod-mismatch': 'pod selector matches no series',
  'no-samples': 'too few samples in the interval',
  'label-mismatch': 'label matcher matches no series',
  'series-present': 'no traffic',
};

/**
 * The NoData result's message. Diagnosed, the cause comes first and the (long) query last, so that
 * an Event cut at 1024 characters still says why; undiagnosed, the plain hint.
 */
export function noDataMessage(
  metric: string,
  query: string,
  diagnosis?: NoDataDiagnosis,
  side = 'canary',
): string {
  if (!diagnosis) {
    return `metric ${metric} returned no data for query ${query}: the ${side} may be receiving no traffic`;
  }
  return `metric ${metric} returned no data (${CAUSE_NAMES[diagnosis.cause]}): ${diagnosis.detail}; query: ${query}`;
}
