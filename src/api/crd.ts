// Turns a kind's schema into a CustomResourceDefinition (apiextensions.k8s.io/v1).
import type { TSchema } from '@sinclair/typebox';
import { GROUP, VERSION, type KindDef } from './kinds.ts';

type Json = Record<string, unknown>;

/** Rewrites JSON Schema into a Kubernetes structural schema: drops what the API server refuses. */
export function toStructural(schema: TSchema | Json): Json {
  const src = JSON.parse(JSON.stringify(schema)) as Json;
  return walk(src);
}

function walk(node: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$id' || key === '$schema') continue;
    // Kubernetes forbids additionalProperties next to properties; unknown fields are pruned instead.
    if (key === 'additionalProperties' && (value === false || value === true)) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, walk(v as Json)]));
    } else if ((key === 'items' || key === 'additionalProperties') && value && typeof value === 'object') {
      out[key] = walk(value as Json);
    } else if (key === 'anyOf' && Array.isArray(value)) {
      out[key] = value.map((v) => walk(v as Json));
    } else {
      out[key] = value;
    }
  }
  return out;
}

export function toCrd(def: KindDef): Json {
  const properties: Json = { spec: toStructural(def.spec) };
  if (def.status) properties.status = toStructural(def.status);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'weir' } },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: def.categories,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          ...(def.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: def.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                ...properties,
              },
            },
          },
        },
      ],
    },
  };
}
