// The objects both controllers run on: the same Deployments, and one Flagger Canary + MetricTemplate
// per app that Weir gets through `weir convert` (convertDocuments), so the two analyses are the same
// spec by construction, not by hand-copying. Each controller queries its own Prometheus.
import { convertDocuments } from '../../../src/cli/convert/index.ts';

type Json = Record<string, unknown>;

export const TEMPLATE = 'availability';

/** What every check asks: 100 while the Prometheus' own scrape target is up. */
export const QUERY = '100 * sum(up{job="self"})';

export interface AppSpec {
  name: string;
  /** A failing app's check wants at most 50 (it gets 100), so its rollout fails and rolls back. */
  failing: boolean;
}

export interface AnalysisSpec {
  interval: string;
  stepWeight: number;
  maxWeight: number;
  threshold: number;
}

export function deployment(ns: string, name: string, image: string): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

export function flaggerTemplate(ns: string, prometheusUrl: string): Json {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: TEMPLATE, namespace: ns },
    spec: { provider: { type: 'prometheus', address: prometheusUrl }, query: QUERY },
  };
}

export function flaggerCanary(ns: string, app: AppSpec, a: AnalysisSpec): Json {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: app.name, namespace: ns },
    spec: {
      provider: 'gatewayapi:v1',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: app.name },
      progressDeadlineSeconds: 600,
      service: { port: 8080, gatewayRefs: [{ name: 'public', namespace: 'gateway' }] },
      analysis: {
        interval: a.interval,
        threshold: a.threshold,
        maxWeight: a.maxWeight,
        stepWeight: a.stepWeight,
        metrics: [
          {
            name: TEMPLATE,
            templateRef: { name: TEMPLATE, namespace: ns },
            thresholdRange: app.failing ? { max: 50 } : { min: 99 },
            interval: '1m',
          },
        ],
      },
    },
  };
}

/** Weir's objects for the same apps: the Flagger manifests through `weir convert`, re-namespaced. */
export function weirObjects(weirNs: string, prometheusUrl: string, apps: AppSpec[], a: AnalysisSpec): Json[] {
  const docs = [flaggerTemplate(weirNs, prometheusUrl), ...apps.map((app) => flaggerCanary(weirNs, app, a))];
  const { objects, notes } = convertDocuments(docs);
  const problems = notes.list.filter((n) => /fix it before applying/.test(n.message));
  if (problems.length)
    throw new Error(`weir convert of the benchmark's Canaries: ${problems.map((n) => n.message).join('; ')}`);
  return objects;
}
