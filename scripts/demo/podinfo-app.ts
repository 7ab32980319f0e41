// The demo's application: podinfo (real binary, run on its KWOK pod's IP by the pod runner) with a
// gatewayapi Canary whose Gateway is the data plane's Traefik, and the releases the demo plays. A
// bad release is a property of the pod template, as in Flagger's tutorials: it adds --random-error.
import type { LoadResponse } from '../../test/cluster/load.ts';

export const APP = 'podinfo';
/** The HTTPRoute's hostname: requests through Traefik carry it as their Host header. */
export const HOST = 'podinfo.example';
const IMAGE = 'ghcr.io/stefanprodan/podinfo';
/**
 * Metrics on their own port: Prometheus' scrapes then neither count as traffic in podinfo's request
 * histogram nor meet --random-error's failures.
 */
const BASE_ARGS = ['--port=9898', '--port-metrics=9797'];

export interface Release {
  tag: string;
  args: string[];
  label: string;
}

export const FIRST_TAG = '6.0.0';
export const GOOD: Release = { tag: '6.0.1', args: BASE_ARGS, label: 'a good release' };
export const BAD: Release = {
  tag: '6.0.2',
  args: [...BASE_ARGS, '--random-error'],
  label:
    'a bad release: its pod template adds --random-error (podinfo then answers about 1 in 9 requests with 500)',
};

/**
 * The Deployment (2 replicas of podinfo:FIRST_TAG, scraped through its annotations) and its Canary.
 * `gateUrl`: a confirm-traffic-increase and confirm-promotion gate (the demo's split meter, which
 * opens once it has measured the current step).
 */
export function appManifest(gatewayName: string, namespace: string, gateUrl: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${APP}, labels: {app: ${APP}}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ${APP}}}
  template:
    metadata:
      labels: {app: ${APP}}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9797"}
    spec:
      containers:
        - name: ${APP}
          image: ${IMAGE}:${FIRST_TAG}
          args: ${JSON.stringify(BASE_ARGS)}
          ports: [{name: http, containerPort: 9898}, {name: http-metrics, containerPort: 9797}]
---
apiVersion: weir.dev/v1alpha1
kind: Canary
metadata: {name: ${APP}}
spec:
  provider: gatewayapi
  targetRef: {kind: Deployment, name: ${APP}}
  service:
    port: 9898
    hosts: [${HOST}]
    gatewayRefs: [{name: ${gatewayName}, namespace: ${namespace}}]
  analysis:
    interval: 10s
    threshold: 2
    stepWeight: 20
    maxWeight: 60
    metrics:
      - {name: request-success-rate, thresholdRange: {min: 99}}
      - {name: request-duration, thresholdRange: {max: 500}}
    webhooks:
      - {name: step-measured, type: confirm-traffic-increase, url: "${gateUrl}", timeout: 5s}
      - {name: last-step-measured, type: confirm-promotion, url: "${gateUrl}", timeout: 5s}
`;
}

/** A strategic merge patch of the Deployment's pod template: the release's image and args. */
export function releasePatch(release: Release): string {
  const container = { name: APP, image: `${IMAGE}:${release.tag}`, args: release.args };
  return JSON.stringify({ spec: { template: { spec: { containers: [container] } } } });
}

// --random-error answers 500, 400 or 409 with an empty body, which names no pod or tag. Only the
// release under test ever runs with it (the primary runs the last promoted, healthy template), so
// such an answer is the release's.
const RANDOM_ERROR_STATUSES = new Set([500, 400, 409]);

/** Whether an answer came from `release`'s pods. */
export function answeredBy(release: Release): (r: LoadResponse) => boolean {
  const failsOnPurpose = release.args.includes('--random-error');
  return (r) => r.tag === release.tag || (failsOnPurpose && !r.tag && RANDOM_ERROR_STATUSES.has(r.status));
}
