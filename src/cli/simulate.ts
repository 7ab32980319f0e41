// `weir simulate -f canary.yaml --from T --to T`: the Canary's run replayed over a past window of
// Prometheus data (src/canary/simulate.ts drives the controller's decide()). Each analysis tick is
// measured by the controller's own runAnalysis, through providers that answer every instant query
// with a one-step range query (`query_range`, start = end = the tick) at the tick's time, and the
// judge's range queries over the window ending at the tick. MetricTemplates (and their Secrets) come
// from the -f files, else from the cluster.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { CanarySpec, MetricCheck, ProviderName } from '../api/canary.ts';
import { API_VERSION } from '../api/kinds.ts';
import type { MetricTemplateSpec } from '../api/metric-template.ts';
import { formatProblems, validateObject } from '../api/validate.ts';
import { runAnalysis } from '../analysis/evaluate.ts';
import type { MetricProviderFactory } from '../analysis/provider.ts';
import { METRIC_PROVIDERS } from '../analysis/registry.ts';
import { simulate } from '../canary/simulate.ts';
import { WeirError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { parseDuration } from '../vocab/duration.ts';
import type { MetricResult } from '../vocab/metric-result.ts';
import type { KubeFlags } from './flags.ts';
import { files } from './lint.ts';
import { renderSimulation, simulationJson, exitCodeOf } from './simulate-view.ts';
import { styleFor } from './style.ts';

export interface SimulateFlags extends KubeFlags {
  filename: string[];
  from: string;
  to: string;
  primarySelector?: string;
  prometheus?: string;
  output?: 'json';
  color?: boolean;
}

/** The controller's default --default-provider. */
const DEFAULT_PROVIDER: ProviderName = 'gatewayapi';
const QUERY_TIMEOUT_MS = 10_000;

interface Loaded {
  name: string;
  namespace: string;
  spec: CanarySpec;
  templates: Map<string, MetricTemplateSpec>;
  secrets: Map<string, Record<string, string>>;
}

export async function runSimulate(flags: SimulateFlags): Promise<number> {
  const fromMs = timeFlag('--from', flags.from);
  const toMs = timeFlag('--to', flags.to);
  if (toMs <= fromMs)
    throw new WeirError('USAGE', `--to ${flags.to} must be later than --from ${flags.from}`);
  if (flags.prometheus !== undefined) urlFlag(flags.prometheus);
  const loaded = load(flags.filename, flags.namespace);
  needsPrometheus(loaded.spec, flags.prometheus);
  await fromCluster(loaded, flags);
  const provider = loaded.spec.provider ?? DEFAULT_PROVIDER;
  const stepMs = parseDuration(loaded.spec.analysis.interval);
  const measure = async (at: number, metrics: MetricCheck[]): Promise<MetricResult[]> => {
    const { spec } = loaded;
    const results = await runAnalysis(
      {
        spec: { ...spec, analysis: { ...spec.analysis, metrics } },
        name: loaded.name,
        namespace: loaded.namespace,
        provider,
        at,
        ...(flags.primarySelector ? { primaryTarget: flags.primarySelector } : {}),
      },
      {
        getTemplate: (ns, name) => loaded.templates.get(`${ns}/${name}`),
        getSecret: (ns, name) => loaded.secrets.get(`${ns}/${name}`),
        ...(flags.prometheus ? { defaultAddress: flags.prometheus } : {}),
        defaultTimeoutMs: QUERY_TIMEOUT_MS,
        log: silentLogger(),
        providers: replayProviders(at, stepMs, flags.prometheus),
      },
    );
    // A query that fails (not one that finds no data) says nothing about the release: stop and say why.
    const broken = results.find((r) => r.result === 'Error');
    if (broken) throw new WeirError('METRIC_QUERY', `cannot simulate: ${broken.message}`);
    return results;
  };
  const sim = await simulate({ ...loaded, fromMs, toMs }, measure);
  const header = { name: loaded.name, namespace: loaded.namespace, spec: loaded.spec, fromMs, toMs };
  if (flags.output === 'json') console.log(JSON.stringify(simulationJson(header, sim), null, 2));
  else console.log(renderSimulation(header, sim, styleFor(process.stdout, flags.color)).join('\n'));
  return exitCodeOf(sim.outcome);
}

/**
 * Every provider of the registry, answering at `atMs`: an instant query becomes a range query of one
 * step at that time (the same PromQL evaluation), so any provider with range queries can be replayed.
 * `--prometheus` replaces the address of every prometheus provider.
 */
function replayProviders(
  atMs: number,
  stepMs: number,
  prometheus: string | undefined,
): Record<string, MetricProviderFactory> {
  const replay = ([type, factory]: [string, MetricProviderFactory]): [string, MetricProviderFactory] => [
    type,
    (opts) => {
      const spec = prometheus && type === 'prometheus' ? { ...opts.spec, address: prometheus } : opts.spec;
      const real = factory({ ...opts, spec });
      const range = real.queryRange?.bind(real);
      if (!range) {
        throw new WeirError(
          'CONFIG',
          `provider ${type} cannot run range queries, which weir simulate needs to read the past; it replays providers with Prometheus' query API (prometheus, victoriametrics)`,
        );
      }
      return {
        type: real.type,
        ...(real.name ? { name: real.name } : {}),
        query: async (q) => (await range(q, { startMs: atMs, endMs: atMs, stepMs }))[0]!,
        queryRange: range,
      };
    },
  ];
  return Object.fromEntries(Object.entries(METRIC_PROVIDERS).map(replay));
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

function timeFlag(flag: string, value: string): number {
  const ms = RFC3339.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    throw new WeirError(
      'USAGE',
      `${flag}: ${JSON.stringify(value)} is not an RFC 3339 time, e.g. 2026-11-20T10:00:00Z`,
    );
  }
  return ms;
}

function urlFlag(value: string): void {
  let ok = false;
  try {
    ok = ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    ok = false;
  }
  if (!ok) throw new WeirError('USAGE', `--prometheus: ${JSON.stringify(value)} is not an http(s) URL`);
}

/** Built-in metrics (and templates without an address) run on --prometheus: refuse early without it. */
function needsPrometheus(spec: CanarySpec, prometheus: string | undefined): void {
  if (prometheus) return;
  const builtin = spec.analysis.metrics?.find((m) => !m.templateRef);
  if (builtin) {
    throw new WeirError(
      'USAGE',
      `metric ${builtin.name} is a built-in metric: give --prometheus <url>, the Prometheus its query runs on (the controller's --prometheus-address)`,
    );
  }
}

/** The one Canary of the files, defaulted and valid, and the MetricTemplates and Secrets beside it. */
function load(paths: string[], namespaceFlag: string | undefined): Loaded {
  const canaries: Array<{ name: string; namespace: string; spec: CanarySpec }> = [];
  const templates = new Map<string, MetricTemplateSpec>();
  const secrets = new Map<string, Record<string, string>>();
  for (const file of paths.flatMap(files)) {
    for (const [i, obj] of documents(file).entries()) {
      const where = `${file}: document ${i + 1} (${String(obj.kind)}/${obj.metadata?.name ?? '?'})`;
      const namespace = obj.metadata?.namespace ?? namespaceFlag ?? 'default';
      const key = `${namespace}/${obj.metadata?.name ?? ''}`;
      if (obj.apiVersion === 'v1' && obj.kind === 'Secret') {
        secrets.set(key, secretData(obj as SecretDoc));
        continue;
      }
      if (obj.apiVersion !== API_VERSION) continue;
      if (obj.kind !== 'Canary' && obj.kind !== 'MetricTemplate') continue;
      const { object, problems } = validateObject(obj);
      if (problems.length) throw new WeirError('INVALID_SPEC', `${where}: ${formatProblems(problems)}`);
      if (obj.kind === 'MetricTemplate') templates.set(key, object.spec as MetricTemplateSpec);
      else canaries.push({ name: obj.metadata!.name!, namespace, spec: object.spec as CanarySpec });
    }
  }
  if (canaries.length !== 1) {
    const found = canaries.map((c) => `${c.namespace}/${c.name}`).join(', ');
    throw new WeirError(
      'USAGE',
      `-f: expected exactly one Canary (${API_VERSION}) in ${paths.join(', ')}, found ${canaries.length}${found ? `: ${found}` : ''}`,
    );
  }
  return { ...canaries[0]!, templates, secrets };
}

interface Doc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}
type SecretDoc = Doc & { data?: Record<string, string>; stringData?: Record<string, string> };

function documents(file: string): Doc[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new WeirError('NOT_FOUND', `-f ${file}: cannot read it`, { cause: err });
  }
  return parseAllDocuments(text).flatMap((doc, i) => {
    if (doc.errors.length) {
      throw new WeirError(
        'INVALID_SPEC',
        `${file}: document ${i + 1}: ${doc.errors[0]!.message.split('\n')[0]}`,
      );
    }
    const obj = doc.toJS() as Doc | null;
    return obj && typeof obj === 'object' ? [obj] : [];
  });
}

function secretData(s: SecretDoc): Record<string, string> {
  const decoded = Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]);
  return { ...Object.fromEntries(decoded), ...s.stringData };
}

/** MetricTemplates (and their Secrets) the files do not hold, read from the cluster. */
async function fromCluster(loaded: Loaded, flags: KubeFlags): Promise<void> {
  const missing = (loaded.spec.analysis.metrics ?? []).flatMap((m) => {
    if (!m.templateRef) return [];
    const key = `${m.templateRef.namespace ?? loaded.namespace}/${m.templateRef.name}`;
    return loaded.templates.has(key) ? [] : [key];
  });
  if (!missing.length) return;
  // Loaded only now: without cluster reads, simulate never loads the Kubernetes client.
  const { connect, getObject } = await import('./kube.ts');
  const { RESOURCES } = await import('./flags.ts');
  for (const key of new Set(missing)) {
    const [ns, name] = key.split('/') as [string, string];
    const read = async <T>(what: string, fn: (cli: ReturnType<typeof connect>) => Promise<T>): Promise<T> => {
      try {
        return await fn(connect(flags));
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new WeirError(
          'NOT_FOUND',
          `${what} is not in the -f files and could not be read from the cluster: ${why}`,
          { cause: err },
        );
      }
    };
    const template = await read(`MetricTemplate ${key}`, (cli) =>
      getObject<{ spec: MetricTemplateSpec }>(cli, RESOURCES.metricTemplate, ns, name),
    );
    loaded.templates.set(key, template.spec);
    const secretRef = template.spec.provider.secretRef;
    if (!secretRef || loaded.secrets.has(`${ns}/${secretRef.name}`)) continue;
    const secret = await read(`Secret ${ns}/${secretRef.name}`, (cli) =>
      getObject<SecretDoc & Record<string, unknown>>(cli, RESOURCES.secret, ns, secretRef.name),
    );
    loaded.secrets.set(`${ns}/${secretRef.name}`, secretData(secret));
  }
}
