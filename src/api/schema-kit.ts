// Building blocks for Weir's API schemas. Every schema here is plain JSON Schema (TypeBox) that is at
// once the TypeScript type, the runtime validator's input and the CRD's openAPIV3Schema, so the
// helpers only emit constructs that a Kubernetes structural schema accepts.
import {
  Type,
  type Static,
  type TSchema,
  type TUnsafe,
  type ObjectOptions,
  type TProperties,
} from '@sinclair/typebox';

/** A CEL rule as the API server runs it (`x-kubernetes-validations`); `weir lint` runs the same text. */
export interface CelRule {
  rule: string;
  message: string;
  /** JSONPath-like path relative to the node carrying the rule, e.g. `.steps`. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export const CEL = 'x-kubernetes-validations';

export function StringEnum<const T extends readonly string[]>(
  values: T,
  opts: { description?: string; default?: T[number] } = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...opts });
}

/** Go-style duration as Flagger and Kubernetes write them: `30s`, `1m`, `1h30m`, `500ms`. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';

export function Duration(opts: { description?: string; default?: string } = {}): TUnsafe<string> {
  return Type.Unsafe<string>({ type: 'string', pattern: DURATION_PATTERN, maxLength: 32, ...opts });
}

/** Rule: a duration field is at least `min` (both Go durations). */
export function minDuration(field: string, min: string): CelRule {
  return {
    rule: `!has(self.${field}) || duration(self.${field}) >= duration('${min}')`,
    message: `${field} must be at least ${min}`,
    fieldPath: `.${field}`,
  };
}

/**
 * Duration as Prometheus (and Gateway API) take it: whole numbers with units in the order h, m, s, ms
 * (`1m30s`, `90s`, `1h`, `500ms`). No fractions (`1.5m`) and no repeated or reordered units
 * (`30s1m`): Go accepts those, but Prometheus refuses them in a range selector. The digits of each
 * unit are bounded so a value never overflows CEL's duration() (Go's int64 nanoseconds).
 */
export const PROM_DURATION_PATTERN = '^([0-9]{1,6}h)?([0-9]{1,7}m)?([0-9]{1,9}s)?([0-9]{1,9}ms)?$';

export function PromDuration(opts: { description?: string; default?: string } = {}): TUnsafe<string> {
  return Type.Unsafe<string>({
    type: 'string',
    pattern: PROM_DURATION_PATTERN,
    minLength: 2,
    maxLength: 32,
    ...opts,
  });
}

/** Rule: a duration field lies within [min, max] (both Go durations), so every timer fed from it is bounded. */
export function durationRange(field: string, min: string, max: string): CelRule {
  return {
    rule: `!has(self.${field}) || duration(self.${field}) >= duration('${min}') && duration(self.${field}) <= duration('${max}')`,
    message: `${field} must be between ${min} and ${max}`,
    fieldPath: `.${field}`,
  };
}

export function StringMap(description?: string): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 4096 },
    maxProperties: 64,
    ...(description ? { description } : {}),
  });
}

export function IntOrString(description?: string): TUnsafe<number | string> {
  return Type.Unsafe<number | string>({
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    ...(description ? { description } : {}),
  });
}

/** An object closed to unknown fields (lint reports them; the API server prunes or rejects them). */
export function Obj<T extends TProperties>(props: T, opts: ObjectOptions & { rules?: CelRule[] } = {}) {
  const { rules, ...rest } = opts;
  return Type.Object(props, {
    additionalProperties: false,
    ...rest,
    ...(rules?.length ? { [CEL]: rules } : {}),
  });
}

/** A list of objects keyed by `name`: the API server rejects duplicate names. */
export function NamedList<T extends TSchema>(item: T, opts: { maxItems: number; description?: string }) {
  return Type.Array(item, {
    ...opts,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  });
}

export const Name = (description?: string) =>
  Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    ...(description ? { description } : {}),
  });

export const ObjectRef = (description: string) =>
  Obj(
    {
      name: Name('Name of the object.'),
      namespace: Type.Optional(Name("Namespace; defaults to the referrer's.")),
    },
    { description },
  );

export const Condition = Obj({
  type: Type.String({ maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown'] as const),
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
  message: Type.Optional(Type.String({ maxLength: 32768 })),
  lastTransitionTime: Type.Optional(Type.String({ format: 'date-time' })),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
});

/** A map from free keys to a structured value (k8s `additionalProperties`, not `patternProperties`). */
export function MapOf<T extends TSchema>(
  value: T,
  maxProperties: number,
): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>({
    type: 'object',
    additionalProperties: value,
    maxProperties,
  });
}
