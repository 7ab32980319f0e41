// A real Prometheus (the installed binary) on a free loopback port, for analysis tests.
//
// Targets are fed through file_sd: the harness writes one JSON file that Prometheus watches, so tests
// can add or remove exporters after Prometheus started without a restart or reload. Each target group
// carries its own `job` label (a file_sd label wins over the scrape config's job_name), plus any extra
// labels such as `pod` and `namespace` that Kubernetes service discovery would attach.
// A target change reaches the scrape loop within ~5-6 s: Prometheus 2.42 batches discovery updates
// every 5 s and has no flag to shorten that, so wait with `waitForTargetUp`, not a sleep.
//
// With `kubernetesPods`, a second job discovers pods the way a cluster's Prometheus does:
// kubernetes_sd_configs (role pod) against the API server with a ServiceAccount token and the CA,
// keeping Running pods annotated `prometheus.io/scrape: "true"`, scraping their IP on the port of
// `prometheus.io/port` (path `prometheus.io/path`, default /metrics), labelled `namespace` and `pod`.
// Pod IPs answer only inside the run's network namespace (netns.ts).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { awaitBin } from './tool-build.ts';
import { freePort } from './ports.ts';
import { startProcess, waitFor, type Managed } from './proc.ts';

export interface ScrapeTarget {
  job: string;
  /** host:port on 127.0.0.1 */
  address: string;
  labels?: Record<string, string>;
  /** defaults to /metrics */
  metricsPath?: string;
}

/** Where kubernetes_sd_configs reads pods from: see api-credentials.ts for a token with `pods` list/watch. */
export interface KubernetesPodsSd {
  /** API server URL. */
  server: string;
  /** File holding a bearer token allowed to list and watch pods. */
  tokenFile: string;
  /** PEM file of the API server's CA. */
  caFile: string;
  /** Namespaces to discover pods in; default all. */
  namespaces?: string[];
  /** The job label of discovered pods; default `kubernetes-pods`. */
  job?: string;
}

/** RBAC rules kubernetes_sd_configs (role pod) needs. */
export const POD_SD_RULES = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }];

export interface StartPrometheusOptions {
  targets?: ScrapeTarget[];
  /**
   * Also discover annotated pods through the API server (kubernetes_sd_configs, role pod). Runs the
   * Prometheus built by tools/build.sh (Debian's has no Kubernetes discovery).
   */
  kubernetesPods?: KubernetesPodsSd;
  /** scrape and rule-evaluation interval; default '1s' */
  scrapeInterval?: string;
  /** where prometheus.log goes; default: inside the instance's temp dir (removed on stop) */
  logDir?: string;
  /** extra flags, e.g. ['--query.lookback-delta=30s'] */
  extraArgs?: string[];
  binary?: string;
  startTimeoutMs?: number;
  /** Log every query Prometheus answers to this file (global.query_log_file), one JSON line each. */
  queryLogFile?: string;
  /**
   * Past samples to start with, as OpenMetrics text (ending `# EOF`): backfilled into the data dir
   * with `promtool tsdb create-blocks-from openmetrics` before Prometheus starts. Keep them within the
   * retention (15 days) and before the start, where scrapes cannot overlap them.
   */
  backfill?: string;
}

/** One sample of an instant vector: labels and [unix seconds, value as string ("NaN" possible)]. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export type PromQueryData =
  | { resultType: 'vector'; result: PromSample[] }
  | { resultType: 'matrix'; result: PromSeries[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] };

/** The body of /api/v1/query, success or error, as Prometheus sent it, plus the HTTP status. */
export type PromQueryResponse =
  | { httpStatus: number; status: 'success'; data: PromQueryData; warnings?: string[] }
  | { httpStatus: number; status: 'error'; errorType: string; error: string; data?: unknown };

export interface PrometheusInstance {
  url: string;
  process: Managed;
  /** Instant query; never throws on a PromQL error, so callers can classify `errorType`. */
  query(promql: string, opts?: { time?: Date }): Promise<PromQueryResponse>;
  /** Instant query that must succeed with a vector; throws otherwise. */
  queryVector(promql: string): Promise<PromSample[]>;
  /** Polls until `promql` returns a non-empty vector that `accept` (if given) accepts. */
  waitForSeries(
    promql: string,
    timeoutMs?: number,
    accept?: (samples: PromSample[]) => boolean,
  ): Promise<PromSample[]>;
  /** Polls until Prometheus has scraped `address` successfully (`up == 1`). */
  waitForTargetUp(address: string, timeoutMs?: number): Promise<void>;
  addTarget(target: ScrapeTarget): Promise<void>;
  removeTarget(address: string): Promise<void>;
  setTargets(targets: ScrapeTarget[]): Promise<void>;
  targets(): ScrapeTarget[];
  stop(): Promise<void>;
}

const SD_FILE = 'targets.json';

export async function startPrometheus(opts: StartPrometheusOptions = {}): Promise<PrometheusInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-prom-'));
  let targets = [...(opts.targets ?? [])];
  try {
    await writeTargets(dir, targets);
    await writeFile(
      join(dir, 'prometheus.yml'),
      renderConfig(dir, opts.scrapeInterval ?? '1s', opts.kubernetesPods, opts.queryLogFile),
    );
    if (opts.backfill !== undefined) await backfill(dir, opts.backfill);
    const { proc, url } = await launch(dir, opts);

    // Writes are serialised (they share one temp file) and each writes the latest list, so
    // concurrent addTarget calls from parallel tests neither collide nor lose a target.
    let writing: Promise<void> = Promise.resolve();
    const setTargets = (next: ScrapeTarget[]): Promise<void> => {
      targets = [...next];
      const write = writing.then(() => writeTargets(dir, targets));
      writing = write.catch(() => undefined);
      return write;
    };
    const query = (promql: string, q?: { time?: Date }) => instantQuery(url, promql, q?.time);
    const queryVector = async (promql: string): Promise<PromSample[]> => {
      const res = await query(promql);
      if (res.status !== 'success') throw new Error(`query ${promql}: ${res.errorType}: ${res.error}`);
      if (res.data.resultType !== 'vector') throw new Error(`query ${promql}: got ${res.data.resultType}`);
      return res.data.result;
    };
    const waitForSeries = (promql: string, timeoutMs = 30_000, accept?: (s: PromSample[]) => boolean) =>
      waitFor(
        `series ${promql} in Prometheus`,
        async () => {
          const samples = await queryVector(promql);
          return samples.length > 0 && (!accept || accept(samples)) ? samples : undefined;
        },
        timeoutMs,
      );

    return {
      url,
      process: proc,
      query,
      queryVector,
      waitForSeries,
      async waitForTargetUp(address, timeoutMs = 30_000) {
        await waitForSeries(`up{instance=${JSON.stringify(address)}} == 1`, timeoutMs);
      },
      addTarget: (t) => setTargets([...targets.filter((x) => x.address !== t.address), t]),
      removeTarget: (address) => setTargets(targets.filter((x) => x.address !== address)),
      setTargets,
      targets: () => [...targets],
      async stop() {
        await proc.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function renderConfig(dir: string, interval: string, pods?: KubernetesPodsSd, queryLog?: string): string {
  // JSON is valid YAML; no templating of user strings into YAML syntax.
  return JSON.stringify(
    {
      global: {
        scrape_interval: interval,
        evaluation_interval: interval,
        scrape_timeout: interval,
        ...(queryLog ? { query_log_file: queryLog } : {}),
      },
      scrape_configs: [
        {
          job_name: 'weir-test',
          file_sd_configs: [{ files: [join(dir, SD_FILE)], refresh_interval: '1s' }],
        },
        ...(pods ? [podScrapeConfig(pods)] : []),
      ],
    },
    null,
    2,
  );
}

/** The usual `kubernetes-pods` job of a cluster's Prometheus (annotation-driven), as Flagger's docs use. */
function podScrapeConfig(pods: KubernetesPodsSd): Record<string, unknown> {
  const meta = '__meta_kubernetes_pod_';
  return {
    job_name: pods.job ?? 'kubernetes-pods',
    kubernetes_sd_configs: [
      {
        role: 'pod',
        api_server: pods.server,
        authorization: { credentials_file: pods.tokenFile },
        tls_config: { ca_file: pods.caFile },
        ...(pods.namespaces ? { namespaces: { names: pods.namespaces } } : {}),
      },
    ],
    relabel_configs: [
      { source_labels: [`${meta}annotation_prometheus_io_scrape`], action: 'keep', regex: 'true' },
      { source_labels: [`${meta}phase`], action: 'keep', regex: 'Running' },
      // One target per pod: the annotated port on the pod IP, whatever container ports it declares.
      {
        source_labels: ['__address__', `${meta}annotation_prometheus_io_port`],
        action: 'replace',
        regex: '([^:]+)(?::\\d+)?;(\\d+)',
        replacement: '$1:$2',
        target_label: '__address__',
      },
      {
        source_labels: [`${meta}annotation_prometheus_io_path`],
        action: 'replace',
        regex: '(.+)',
        target_label: '__metrics_path__',
      },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: [`${meta}name`], target_label: 'pod' },
    ],
  };
}

/** Atomic replace (write + rename), as Prometheus' file_sd docs ask, so it never reads half a file. */
async function writeTargets(dir: string, targets: ScrapeTarget[]): Promise<void> {
  const groups = targets.map((t) => ({
    targets: [t.address],
    labels: { ...t.labels, job: t.job, ...(t.metricsPath ? { __metrics_path__: t.metricsPath } : {}) },
  }));
  const tmp = join(dir, `.${SD_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(groups, null, 2));
  await rename(tmp, join(dir, SD_FILE));
}

/** Writes `openMetrics` as TSDB blocks into the instance's data dir (promtool, from the prometheus package). */
async function backfill(dir: string, openMetrics: string): Promise<void> {
  const input = join(dir, 'backfill.om');
  await writeFile(input, openMetrics);
  const r = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', input, join(dir, 'data')], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(
      `promtool backfill failed (exit ${r.status}): ${r.error?.message ?? ''}${r.stderr}${r.stdout}`,
    );
  }
}

/** Starts the binary; retries on a new port if another process grabbed the one we picked. */
async function launch(dir: string, opts: StartPrometheusOptions): Promise<{ proc: Managed; url: string }> {
  const logDir = opts.logDir ?? dir;
  const binary = await prometheusBinary(opts);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = startProcess(
      'prometheus',
      binary,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        '--web.enable-lifecycle',
        '--log.level=info',
        ...(opts.extraArgs ?? []),
      ],
      { logDir },
    );
    const gone = exitWatch(proc);
    let spawnError = '';
    proc.child.once('error', (err) => (spawnError = `${err.message}\n`));
    const outcome = await waitFor(
      `prometheus ${url}/-/ready`,
      async () => {
        if (gone()) return 'exited';
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
        if (!res.ok) return undefined;
        // The port was picked before Prometheus bound it: make sure it is ours that answers.
        const flags = await fetch(`${url}/api/v1/status/flags`, { signal: AbortSignal.timeout(2000) });
        const body = (await flags.json()) as { data?: Record<string, string> };
        return body.data?.['storage.tsdb.path'] === join(dir, 'data') ? 'ready' : undefined;
      },
      opts.startTimeoutMs ?? 30_000,
      100,
    ).catch(async (err: Error) => {
      await proc.stop();
      throw new Error(`${err.message}\n--- ${proc.logFile} (tail) ---\n${proc.tail()}`);
    });
    if (outcome === 'ready') return { proc, url };
    const log = spawnError + (await finalLog(proc));
    if (attempt < 3 && /address already in use/i.test(log)) continue;
    throw new Error(`prometheus exited before ready\n--- ${proc.logFile} (tail) ---\n${log}`);
  }
}

/**
 * The installed `prometheus` (Debian's, without Kubernetes discovery) unless kubernetes_sd is asked
 * for: then the build at PROMETHEUS_VERSION (tools/build.sh prometheus), which has it.
 */
async function prometheusBinary(opts: StartPrometheusOptions): Promise<string> {
  if (opts.binary) return opts.binary;
  return opts.kubernetesPods ? await awaitBin('prometheus', 'prometheus') : 'prometheus';
}

/** True once the process has exited (including a spawn failure such as a missing binary). */
function exitWatch(m: Managed): () => boolean {
  let gone = false;
  void m.exited.then(() => (gone = true));
  return () => gone;
}

/** The log tail once the exited process' output has reached the file (it is piped asynchronously). */
async function finalLog(m: Managed): Promise<string> {
  const closed = m.child.stdout?.readableEnded && m.child.stderr?.readableEnded;
  if (!closed) await Promise.race([once(m.child, 'close'), delay(1000)]);
  await delay(100); // the file stream's last write
  return m.tail();
}

async function instantQuery(url: string, promql: string, time?: Date): Promise<PromQueryResponse> {
  const body = new URLSearchParams({ query: promql });
  if (time) body.set('time', (time.getTime() / 1000).toFixed(3));
  // POST keeps long queries out of the URL; Prometheus accepts both.
  const res = await fetch(`${url}/api/v1/query`, {
    method: 'POST',
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`prometheus query ${promql}: HTTP ${res.status}, non-JSON body: ${text.slice(0, 200)}`);
  }
  return {
    httpStatus: res.status,
    ...(parsed as Omit<PromQueryResponse, 'httpStatus'>),
  } as PromQueryResponse;
}
