// Validation of Weir objects outside the API server (`weir lint`, the controller, GitSync): the same
// schema the CRDs carry, defaults applied first, then the same CEL rules evaluated with cel-js.
import { Environment } from '@marcbachmann/cel-js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CONDITION_FIELDS, conditionProblem } from '../analysis/conditions.ts';
import { CEL, PROM_DURATION_PATTERN, type CelRule } from './schema-kit.ts';
import { API_VERSION, KINDS, kindDef, objectSchema, type KindDef } from './kinds.ts';

export interface Problem {
  /** Dotted field path as the API server prints it, e.g. `spec.analysis.stepWeights[1]`. */
  path: string;
  message: string;
}

type Json = Record<string, unknown>;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, validateFormats: false });
ajv.addVocabulary([
  CEL,
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]);

// Kubernetes' CEL list library functions that the rules use, which plain CEL lacks.
const cel = new Environment({ unlistedVariablesAreDyn: true }).registerFunction({
  name: 'isSorted',
  receiverType: 'list',
  returnType: 'bool',
  handler: (list: unknown[]) => list.every((v, i) => i === 0 || (list[i - 1] as number) <= (v as number)),
  params: [],
});

const compiled = new Map<string, ValidateFunction>();

function validatorFor(def: KindDef): ValidateFunction {
  let fn = compiled.get(def.kind);
  if (!fn) {
    fn = ajv.compile(objectSchema(def));
    compiled.set(def.kind, fn);
  }
  return fn;
}

/** Validates one object (any kind) and returns the defaulted copy and every problem found. */
export function validateObject(input: unknown): { object: Json; problems: Problem[] } {
  const object = structuredClone(input) as Json;
  if (!object || typeof object !== 'object' || Array.isArray(object)) {
    return { object: {}, problems: [{ path: '', message: 'expected an object' }] };
  }
  if (object.apiVersion !== API_VERSION) {
    return {
      object,
      problems: [
        { path: 'apiVersion', message: `expected ${API_VERSION}, got ${String(object.apiVersion)}` },
      ],
    };
  }
  const def = kindDef(String(object.kind));
  if (!def) {
    const known = KINDS.map((k) => k.kind).join(', ');
    return {
      object,
      problems: [{ path: 'kind', message: `unknown kind ${String(object.kind)}; expected one of ${known}` }],
    };
  }
  const validate = validatorFor(def);
  const problems: Problem[] = [];
  if (!validate(object)) problems.push(...(validate.errors ?? []).map(fromAjv));
  if (object.spec && typeof object.spec === 'object') {
    problems.push(...celProblems(def.spec as Json, object.spec, 'spec'));
    if (def.kind === 'Canary') {
      problems.push(...timeZoneProblems(object.spec as Json));
      problems.push(...metricConditionProblems(object.spec as Json));
    }
  }
  return { object, problems: dedupe(problems) };
}

/**
 * validateObject() once per object generation: the controller reconciles a Canary many times per
 * analysis tick (its own watch events, its Deployments', its route's), and schema + CEL cost
 * milliseconds each time, while what they judge (spec, name, namespace) only changes with the
 * generation. Keyed by uid. Every caller shares one deeply frozen defaulted object: a copy per
 * reconcile (structuredClone) was 2 % of a rollout's CPU, and a reconcile only reads its spec.
 */
export class ValidationMemo {
  private readonly byUid = new Map<string, { generation: number; object: Json; problems: Problem[] }>();
  constructor(private readonly max = 10_000) {}

  validate(
    uid: string | undefined,
    generation: number | undefined,
    input: unknown,
  ): ReturnType<typeof validateObject> {
    if (!uid || generation === undefined) return validateObject(input);
    let hit = this.byUid.get(uid);
    if (!hit || hit.generation !== generation) {
      const { object, problems } = validateObject(input);
      hit = { generation, object: deepFreeze(object), problems };
      this.byUid.delete(uid);
      if (this.byUid.size >= this.max) this.byUid.delete(this.byUid.keys().next().value!);
      this.byUid.set(uid, hit);
    }
    return { object: hit.object, problems: hit.problems };
  }

  forget(uid: string | undefined): void {
    if (uid) this.byUid.delete(uid);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * spec.schedule.timeZone must be a zone this runtime knows (the API server cannot check IANA names),
 * so `weir lint` and GitSync refuse it before the controller holds a run on it.
 */
function timeZoneProblems(spec: Json): Problem[] {
  const zone = (spec.schedule as Json | undefined)?.timeZone;
  if (typeof zone !== 'string') return [];
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return [];
  } catch {
    return [
      {
        path: 'spec.schedule.timeZone',
        message: `unknown time zone "${zone}" (an IANA name such as Europe/Berlin)`,
      },
    ];
  }
}

/**
 * successCondition and failureCondition must parse and type-check as bool CEL over `result` (the API
 * server cannot check them), so `weir lint` and the controller's Ready=False name the field.
 */
function metricConditionProblems(spec: Json): Problem[] {
  const metrics = (spec.analysis as Json | undefined)?.metrics;
  if (!Array.isArray(metrics)) return [];
  return metrics.flatMap((m: unknown, i) =>
    CONDITION_FIELDS.flatMap((field) => {
      const expression = (m as Json | undefined)?.[field];
      const problem = typeof expression === 'string' ? conditionProblem(expression) : undefined;
      return problem ? [{ path: `spec.analysis.metrics[${i}].${field}`, message: problem }] : [];
    }),
  );
}

function fromAjv(e: ErrorObject): Problem {
  const path = pointerToPath(e.instancePath);
  const join = (field: string) => (path ? `${path}.${field}` : field);
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: join(String(e.params.additionalProperty)), message: 'unknown field' };
    case 'required':
      return { path: join(String(e.params.missingProperty)), message: 'Required value' };
    case 'enum':
      return { path, message: `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'const':
      return { path, message: `must be ${JSON.stringify(e.params.allowedValue)}` };
    case 'pattern':
      if (e.params.pattern === PROM_DURATION_PATTERN)
        return {
          path,
          message: `must be a duration as Prometheus writes it: whole numbers, units in the order h, m, s, ms (1m30s, 90s, 1h), pattern "${PROM_DURATION_PATTERN}"`,
        };
      return { path, message: e.message ?? e.keyword };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

/** Walks schema and value together and runs every CEL rule on the nodes that are present. */
function celProblems(schema: Json, value: unknown, path: string): Problem[] {
  if (value === undefined || value === null) return [];
  const out: Problem[] = [];
  const rules = schema[CEL] as CelRule[] | undefined;
  for (const rule of rules ?? []) {
    let ok: unknown;
    try {
      ok = cel.evaluate(rule.rule, { self: toCel(schema, value) });
    } catch {
      continue; // the structural error for this node is already reported by the schema check
    }
    if (ok !== true) out.push({ path: path + (rule.fieldPath ?? ''), message: rule.message });
  }
  if (Array.isArray(value)) {
    const items = schema.items as Json | undefined;
    if (schema['x-kubernetes-list-type'] === 'map') out.push(...duplicateKeys(schema, value, path));
    if (items) value.forEach((v, i) => out.push(...celProblems(items, v, `${path}[${i}]`)));
  } else if (typeof value === 'object') {
    const props = (schema.properties ?? {}) as Record<string, Json>;
    const extra = schema.additionalProperties;
    for (const [k, v] of Object.entries(value as Json)) {
      // Map entries are printed as the API server prints them: `headers[x-canary]`.
      if (props[k]) out.push(...celProblems(props[k], v, `${path}.${k}`));
      else if (extra && typeof extra === 'object')
        out.push(...celProblems(extra as Json, v, `${path}[${k}]`));
    }
  }
  return out;
}

function duplicateKeys(schema: Json, list: unknown[], path: string): Problem[] {
  const keys = (schema['x-kubernetes-list-map-keys'] as string[]) ?? [];
  const seen = new Set<string>();
  const out: Problem[] = [];
  list.forEach((item, i) => {
    const key = JSON.stringify(keys.map((k) => (item as Json)?.[k]));
    if (seen.has(key)) out.push({ path: `${path}[${i}]`, message: `Duplicate value: ${key}` });
    seen.add(key);
  });
  return out;
}

/** CEL distinguishes int from double: integer-typed fields become BigInt, as in the API server. */
function toCel(schema: Json | undefined, value: unknown): unknown {
  if (schema?.type === 'integer' && typeof value === 'number') return BigInt(value);
  if (Array.isArray(value)) return value.map((v) => toCel(schema?.items as Json | undefined, v));
  if (value && typeof value === 'object') {
    const props = (schema?.properties ?? {}) as Record<string, Json>;
    const extra = schema?.additionalProperties;
    return Object.fromEntries(
      Object.entries(value as Json).map(([k, v]) => [
        k,
        toCel(props[k] ?? (typeof extra === 'object' ? (extra as Json) : undefined), v),
      ]),
    );
  }
  return value;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n');
}
