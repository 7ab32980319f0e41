// The registry of Weir's kinds: everything needed to generate a CRD, validate an object and type it.
import { Type, type TSchema } from '@sinclair/typebox';
import { AlertProviderSpec } from './alert-provider.ts';
import { CanarySpec, CanaryStatus } from './canary.ts';
import { GitSyncSpec, GitSyncStatus } from './gitsync.ts';
import { MetricTemplateSpec } from './metric-template.ts';

export const GROUP = 'weir.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindDef {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  spec: TSchema;
  status?: TSchema;
  columns: PrinterColumn[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const ready = (name = 'Ready'): PrinterColumn => ({
  name,
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
});

export const KINDS: KindDef[] = [
  {
    kind: 'Canary',
    plural: 'canaries',
    singular: 'canary',
    shortNames: ['wcanary', 'wc'],
    categories: ['weir', 'all'],
    spec: CanarySpec,
    status: CanaryStatus,
    columns: [
      { name: 'Status', type: 'string', jsonPath: '.status.phase' },
      { name: 'Weight', type: 'integer', jsonPath: '.status.canaryWeight' },
      { name: 'Failed', type: 'integer', jsonPath: '.status.failedChecks' },
      { name: 'Step', type: 'integer', jsonPath: '.status.stepIndex' },
      { name: 'Last Transition', type: 'date', jsonPath: '.status.lastTransitionTime' },
      { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
      age,
    ],
  },
  {
    kind: 'MetricTemplate',
    plural: 'metrictemplates',
    singular: 'metrictemplate',
    shortNames: ['wmt'],
    categories: ['weir'],
    spec: MetricTemplateSpec,
    columns: [{ name: 'Provider', type: 'string', jsonPath: '.spec.provider.type' }, age],
  },
  {
    kind: 'AlertProvider',
    plural: 'alertproviders',
    singular: 'alertprovider',
    shortNames: ['wap'],
    categories: ['weir'],
    spec: AlertProviderSpec,
    columns: [{ name: 'Type', type: 'string', jsonPath: '.spec.type' }, age],
  },
  {
    kind: 'GitSync',
    plural: 'gitsyncs',
    singular: 'gitsync',
    shortNames: ['gs'],
    categories: ['weir'],
    spec: GitSyncSpec,
    status: GitSyncStatus,
    columns: [
      { name: 'URL', type: 'string', jsonPath: '.spec.url' },
      { name: 'Revision', type: 'string', jsonPath: '.status.lastAppliedRevision' },
      ready(),
      { name: 'Status', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message' },
      age,
    ],
  },
];

export function kindDef(kind: string): KindDef | undefined {
  return KINDS.find((k) => k.kind === kind);
}

/** The whole object's schema: apiVersion, kind, metadata (name checked), spec, status. */
export function objectSchema(def: KindDef): TSchema {
  return Type.Object(
    {
      apiVersion: Type.Literal(API_VERSION),
      kind: Type.Literal(def.kind),
      metadata: Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' }),
          namespace: Type.Optional(
            Type.String({ maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
          ),
        },
        { additionalProperties: true },
      ),
      spec: def.spec,
      ...(def.status ? { status: Type.Optional(def.status) } : {}),
    },
    { additionalProperties: false },
  );
}
