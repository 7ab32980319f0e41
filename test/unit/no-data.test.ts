// No-data diagnosis: the selector extraction from rendered PromQL (tables), the diagnosis against a
// small in-memory series store that answers the diagnosis' count queries, and the message each cause
// puts in a NoData result. The real-Prometheus counterpart is test/integration/analysis-no-data.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  diagnoseNoData,
  noDataMessage,
  type InstantVectorQuery,
  type NoDataCause,
  type VectorSample,
} from '../../src/analysis/no-data.ts';
import { vectorSelectors, type LabelMatcher } from '../../src/analysis/promql-selectors.ts';
import { renderQuery } from '../../src/analysis/render.ts';
import { APP_HISTOGRAM_QUERIES } from '../../src/routing/app-histogram.ts';
import { ISTIO_QUERIES } from '../../src/routing/istio/index.ts';

const CTX = {
  name: 'app',
  namespace: 'prod',
  target: 'app',
  primary: 'app-primary',
  service: 'app',
  interval: '1m',
  variables: {},
};
const POD_RE = 'pod=~"app-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';

describe('vectorSelectors', () => {
  const cases: Array<[string, string, Array<{ name?: string; matchers: string[]; range?: string; fn?: string; modifiers?: string }>]> = [
    ['bare name', 'up', [{ name: 'up', matchers: [] }]],
    ['range in rate', 'rate(x_total{a="1"}[5m])', [{ name: 'x_total', matchers: ['a="1"'], range: '5m', fn: 'rate' }]],
    ['aggregation with by before', 'sum by (le) (rate(b{c!="d"}[1m]))', [{ name: 'b', matchers: ['c!="d"'], range: '1m', fn: 'rate' }]],
    ['by after, labels not metrics', 'sum(rate(b[1m])) by (le, pod)', [{ name: 'b', matchers: [], range: '1m', fn: 'rate' }]],
    ['offset and @ kept', 'increase(c[2m] offset -1m @ end())', [{ name: 'c', matchers: [], range: '2m', fn: 'increase', modifiers: 'offset -1m @ end()' }]],
    ['subquery: the selector is instant', 'max_over_time(up{job="x"}[5m:1m])', [{ name: 'up', matchers: ['job="x"'], fn: 'max_over_time' }]],
    ['nameless selector', '{__name__="m", job=~"a|b"}', [{ matchers: ['__name__="m"', 'job=~"a|b"'] }]],
    ['quoted metric name (Prometheus 3)', '{"my.metric", job="x"}', [{ matchers: ['__name__="my.metric"', 'job="x"'] }]],
    ['escaped quote in a value', `m{a="x\\"y"}`, [{ name: 'm', matchers: [`a="x\\"y"`] }]],
    ['single-quoted and raw strings', "m{a='1', b=~`x\\d`}", [{ name: 'm', matchers: ["a='1'", 'b=~`x\\d`'] }]],
    ['trailing comma', 'm{a="1",}', [{ name: 'm', matchers: ['a="1"'] }]],
    ['keywords, numbers, functions skipped', 'x > bool 1e-3 or vector(NaN) and on (a) y * Inf', [{ name: 'x', matchers: [] }, { name: 'y', matchers: [] }]],
    ['comment skipped', 'm # not{this="one"}\n + n', [{ name: 'm', matchers: [] }, { name: 'n', matchers: [] }]],
    ['strings in label_replace are not selectors', 'label_replace(m, "dst", "$1", "src", "(.*)")', [{ name: 'm', matchers: [], fn: 'label_replace' }]],
    ['a repeated selector once', 'm{a="1"} / m{a="1"}', [{ name: 'm', matchers: ['a="1"'] }]],
    ['recording rule name with colons', 'job:req:rate5m{job="a"}', [{ name: 'job:req:rate5m', matchers: ['job="a"'] }]],
  ]; // prettier-ignore
  for (const [what, query, expected] of cases) {
    test(what, () => {
      const got = vectorSelectors(query).map((s) => ({
        ...(s.name ? { name: s.name } : {}),
        matchers: s.matchers.map((m) => m.text),
        ...(s.range ? { range: s.range } : {}),
        ...(s.fn ? { fn: s.fn } : {}),
        ...(s.modifiers ? { modifiers: s.modifiers } : {}),
      }));
      assert.deepEqual(got, expected);
    });
  }

  test('matcher values are unescaped', () => {
    const [s] = vectorSelectors(`m{a="x\\"y\\\\z\\n"}`);
    assert.deepEqual(s?.matchers[0], { label: 'a', op: '=', value: 'x"y\\z\n', text: `a="x\\"y\\\\z\\n"` });
  });

  for (const broken of [
    'm{a="1"',
    'm{a}',
    'm{a=b}',
    'm{a="1" b="2"}',
    'm{a="1}',
    'rate(m[5m)',
    '{}',
    'm ! n',
  ]) {
    test(`not understood, so no selectors: ${broken}`, () => assert.deepEqual(vectorSelectors(broken), []));
  }

  test('the built-in app-histogram and istio queries', () => {
    const sr = vectorSelectors(renderQuery(APP_HISTOGRAM_QUERIES['request-success-rate'], CTX));
    assert.deepEqual(
      sr.map((s) => s.matchers.map((m) => m.text)),
      [
        ['namespace="prod"', POD_RE, 'status=~"5.*"'],
        ['namespace="prod"', POD_RE],
      ],
    );
    assert.ok(sr.every((s) => s.name === 'http_request_duration_seconds_count' && s.fn === 'rate'));
    const [dur] = vectorSelectors(renderQuery(ISTIO_QUERIES['request-duration'], CTX));
    assert.equal(dur?.name, 'istio_request_duration_milliseconds_bucket');
    assert.equal(dur?.range, '1m');
  });
});

/** A series: labels (with __name__) and how many samples the query's range holds. */
interface FakeSeries {
  labels: Record<string, string>;
  samplesInRange: number;
}

function matches(labels: Record<string, string>, m: LabelMatcher): boolean {
  const v = labels[m.label] ?? '';
  if (m.op === '=') return v === m.value;
  if (m.op === '!=') return v !== m.value;
  const re = new RegExp(`^(?:${m.value})$`);
  return m.op === '=~' ? re.test(v) : !re.test(v);
}

/**
 * Answers exactly the query shapes no-data.ts sends, over `series`; any other query rejects, so a
 * change of shape fails here rather than passing by accident.
 */
function fakeBackend(series: FakeSeries[]): { run: InstantVectorQuery; sent: string[] } {
  const sent: string[] = [];
  const select = (sel: string): FakeSeries[] => {
    const [s] = vectorSelectors(sel);
    assert.ok(s, `selector ${sel}`);
    return series.filter(
      (x) => (!s.name || x.labels.__name__ === s.name) && s.matchers.every((m) => matches(x.labels, m)),
    );
  };
  const count = (n: number): VectorSample[] => (n > 0 ? [{ labels: {}, value: n }] : []);
  const run: InstantVectorQuery = async (q) => {
    sent.push(q);
    let m = /^count\(last_over_time\((.+)\[1h\]\)\)$/.exec(q);
    if (m) return count(select(m[1]!).length);
    m = /^count by \((\w+)\) \(last_over_time\((.+)\[1h\]\)\)$/.exec(q);
    if (m) {
      const label = m[1]!;
      const values = new Set(select(m[2]!).map((x) => x.labels[label] ?? ''));
      return [...values].map((v) => ({ labels: v ? { [label]: v } : {}, value: 1 }));
    }
    m = /^max\(count_over_time\((.+)\[(\w+)\]\)\)$/.exec(q);
    if (m) {
      const counts = select(m[1]!)
        .map((x) => x.samplesInRange)
        .filter((n) => n > 0);
      return counts.length ? [{ labels: {}, value: Math.max(...counts) }] : [];
    }
    m = /^count\((.+)\)$/.exec(q);
    if (m) return count(select(m[1]!).filter((x) => x.samplesInRange > 0).length);
    throw new Error(`unexpected diagnosis query ${q}`);
  };
  return { run, sent };
}

const COUNT = 'http_request_duration_seconds_count';
const series = (ns: string, pod: string, status: string, samplesInRange = 6): FakeSeries => ({
  labels: { __name__: COUNT, namespace: ns, pod, status },
  samplesInRange,
});
const HINTS = { namespace: 'prod', workloads: ['app'] };
const SUCCESS_RATE = renderQuery(APP_HISTOGRAM_QUERIES['request-success-rate'], CTX);

describe('diagnoseNoData', () => {
  const cases: Array<{ what: string; store: FakeSeries[]; cause: NoDataCause; detail: string }> = [
    {
      what: 'the metric name does not exist',
      store: [{ labels: { __name__: 'up', namespace: 'prod' }, samplesInRange: 6 }],
      cause: 'metric-missing',
      detail: `Prometheus has no series of ${COUNT} in the last 1h: check the metric name and that Prometheus scrapes the app`,
    },
    {
      what: 'the metric exists in other namespaces only',
      store: [series('staging', 'app-1a-2b', '200'), series('dev', 'app-3c-4d', '200')],
      cause: 'namespace-mismatch',
      detail: `${COUNT} exists, but no series has namespace="prod" (namespace values there: dev, staging): check the namespace label that Prometheus's scrape config attaches`,
    },
    {
      what: 'no series matches the pod selector',
      store: [series('prod', 'app-primary-1a-2b', '200'), series('prod', 'other-3c-4d', '500')],
      cause: 'pod-mismatch',
      detail: `no series of ${COUNT}{namespace="prod"} has ${POD_RE}, the canary's pods (pod values there: app-primary-1a-2b, other-3c-4d): check that Prometheus scrapes those pods with that label and that they have served requests`,
    },
    {
      what: 'the series carry one sample in the range, and rate() needs two',
      store: [series('prod', 'app-1a-2b', '200', 1), series('prod', 'app-1a-2b', '500', 1)],
      cause: 'no-samples',
      detail: `the series of ${COUNT}{namespace="prod", ${POD_RE}} exist but carry only 1 sample in the last 1m, and rate() needs 2: the scrape interval is too long for the analysis interval; scrape at least twice per interval or lengthen the interval`,
    },
    {
      // The 5xx numerator has no series (no errors): its status matcher is not the cause.
      what: 'series with samples and no 5xx: no traffic, not the status matcher',
      store: [series('prod', 'app-1a-2b', '200')],
      cause: 'series-present',
      detail: 'its series exist and carry samples, so the canary may be receiving no traffic',
    },
    {
      what: 'too few samples outranks the missing 5xx series',
      store: [series('prod', 'app-1a-2b', '200', 0)],
      cause: 'no-samples',
      detail: `the series of ${COUNT}{namespace="prod", ${POD_RE}} exist but carry no sample in the last 1m, and rate() needs 2: the scrape interval is too long for the analysis interval; scrape at least twice per interval or lengthen the interval`,
    },
  ];
  for (const c of cases) {
    test(c.what, async () => {
      const got = await diagnoseNoData(SUCCESS_RATE, HINTS, fakeBackend(c.store).run, 'Prometheus');
      assert.deepEqual(got, { cause: c.cause, detail: c.detail });
    });
  }

  test('namespace matchers come before pod matchers whatever the query order', async () => {
    const query = `sum(rate(${COUNT}{${POD_RE}, namespace="prod"}[1m]))`;
    const got = await diagnoseNoData(query, HINTS, fakeBackend([series('dev', 'app-1a-2b', '200')]).run, 'P');
    assert.equal(got?.cause, 'namespace-mismatch');
  });

  test('a matcher whose value names the workload is the pod selector, whatever its label', async () => {
    const query =
      'sum(rate(istio_requests_total{destination_workload_namespace="prod",destination_workload=~"app"}[1m]))';
    const store = [{ labels: { __name__: 'istio_requests_total', destination_workload_namespace: 'prod', destination_workload: 'web' }, samplesInRange: 3 }]; // prettier-ignore
    const got = await diagnoseNoData(query, HINTS, fakeBackend(store).run, 'Prometheus');
    assert.equal(got?.cause, 'pod-mismatch');
    assert.match(
      got!.detail,
      /has destination_workload=~"app", the canary's pods \(destination_workload values there: web\)/,
    );
  });

  test('another label matcher that empties the only selector is named', async () => {
    const query = `sum(rate(${COUNT}{namespace="prod", ${POD_RE}, status="500"}[1m]))`;
    const got = await diagnoseNoData(
      query,
      HINTS,
      fakeBackend([series('prod', 'app-1a-2b', '200')]).run,
      'P',
    );
    assert.deepEqual(got, {
      cause: 'label-mismatch',
      detail: `no series of ${COUNT}{namespace="prod", ${POD_RE}} has status="500" (status values there: 200)`,
    });
  });

  test('an instant selector without a recent sample', async () => {
    const got = await diagnoseNoData('sum(up{job="x"})', { namespace: 'prod', workloads: [] }, fakeBackend([{ labels: { __name__: 'up', job: 'x' }, samplesInRange: 0 }]).run, 'P'); // prettier-ignore
    assert.equal(got?.cause, 'no-samples');
    assert.match(got!.detail, /carry no sample within the query lookback/);
  });

  test('avg_over_time needs one sample, not two', async () => {
    const got = await diagnoseNoData('avg_over_time(up[1m])', HINTS, fakeBackend([{ labels: { __name__: 'up' }, samplesInRange: 1 }]).run, 'P'); // prettier-ignore
    assert.equal(got?.cause, 'series-present');
  });

  test('many values are cut to five', async () => {
    const store = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((ns) => series(ns, 'app-1a-2b', '200'));
    const got = await diagnoseNoData(SUCCESS_RATE, HINTS, fakeBackend(store).run, 'P');
    assert.match(got!.detail, /\(namespace values there: a, b, c, d, e and 2 more\)/);
  });

  test('selectors sharing a prefix share its queries, and a missing metric stops at one', async () => {
    const healthy = fakeBackend([series('prod', 'app-1a-2b', '200')]);
    await diagnoseNoData(SUCCESS_RATE, HINTS, healthy.run, 'P');
    assert.equal(new Set(healthy.sent).size, healthy.sent.length, 'no query twice');
    assert.ok(healthy.sent.length <= 7, `${healthy.sent.length} queries: ${healthy.sent.join('\n')}`);
    const missing = fakeBackend([]);
    await diagnoseNoData(SUCCESS_RATE, HINTS, missing.run, 'P');
    assert.deepEqual(missing.sent, [`count(last_over_time(${COUNT}[1h]))`]);
  });

  test('a query without a selector it understands is not diagnosed', async () => {
    const none = fakeBackend([]);
    assert.equal(await diagnoseNoData('vector(1) / 0', HINTS, none.run, 'P'), undefined);
    assert.equal(await diagnoseNoData('m{a="1"', HINTS, none.run, 'P'), undefined);
    assert.deepEqual(none.sent, []);
  });

  test('an escaped value stays one matcher in every diagnosis query (no PromQL of its own)', async () => {
    const attack = renderQuery('max(up{job="self", team="{{ variables.team }}"})', {
      ...CTX,
      variables: { team: 'x\\"}) or vector(1) #' },
    });
    const { run, sent } = fakeBackend([{ labels: { __name__: 'up', job: 'self' }, samplesInRange: 1 }]);
    const got = await diagnoseNoData(attack, HINTS, run, 'P');
    assert.equal(got?.cause, 'label-mismatch');
    const team = vectorSelectors(attack)[0]!.matchers[1]!;
    assert.equal(team.value, 'x\\"}) or vector(1) #');
    for (const q of sent.filter((x) => x.includes('team='))) {
      assert.deepEqual(vectorSelectors(q)[0]?.matchers.at(-1), team, q);
    }
  });

  test('a failing diagnosis query rejects (the provider then keeps the plain message)', async () => {
    const failing: InstantVectorQuery = () => Promise.reject(new Error('HTTP 503'));
    await assert.rejects(diagnoseNoData(SUCCESS_RATE, HINTS, failing, 'P'), /HTTP 503/);
  });
});

describe('noDataMessage', () => {
  test('without a diagnosis: the plain hint', () => {
    assert.equal(
      noDataMessage('m', 'q', undefined),
      'metric m returned no data for query q: the canary may be receiving no traffic',
    );
  });
  const named: Array<[NoDataCause, string]> = [
    ['metric-missing', 'metric not found'],
    ['namespace-mismatch', 'no series in the namespace'],
    ['pod-mismatch', 'pod selector matches no series'],
    ['no-samples', 'too few samples in the interval'],
    ['label-mismatch', 'label matcher matches no series'],
    ['series-present', 'no traffic'],
  ];
  for (const [cause, name] of named) {
    test(`${cause}: the cause first, then the detail and the query`, () => {
      assert.equal(
        noDataMessage('m', 'q', { cause, detail: 'd' }),
        `metric m returned no data (${name}): d; query: q`,
      );
    });
  }
});
