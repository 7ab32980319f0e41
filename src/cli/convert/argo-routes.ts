// Argo Rollouts' setHeaderRoute and setMirrorRoute steps as Weir's (docs/steps.md). Argo requires
// each route to be declared in trafficRouting.managedRoutes, whose order is their precedence; Weir
// needs no declaration and ranks routes by the order the steps first add them, so a managedRoutes
// order the steps do not follow is noted.
import { descriptorOf } from '../../routing/registry.ts';
import { arr, isObject, obj, type Notes } from './notes.ts';

type Json = Record<string, unknown>;
type Kind = 'setHeaderRoute' | 'setMirrorRoute';

export const ROUTE_STEPS: readonly Kind[] = ['setHeaderRoute', 'setMirrorRoute'];

/** Argo's StringMatch: the one of exact, prefix or regex it sets, else undefined. */
function stringMatch(v: unknown): Json | undefined {
  const m = obj(v);
  const keys = ['exact', 'prefix', 'regex'].filter((k) => typeof m[k] === 'string');
  return keys.length === 1 ? { [keys[0]!]: m[keys[0]!] } : undefined;
}

type Problem = { field: string; message: string };

function headerMatches(match: unknown[]): Json[] | Problem {
  const out: Json[] = [];
  for (const [j, raw] of match.entries()) {
    const m = obj(raw);
    const value = stringMatch(m.headerValue);
    if (typeof m.headerName !== 'string' || !value)
      return {
        field: `match[${j}]`,
        message: 'needs headerName and a headerValue with one of exact, prefix or regex',
      };
    out.push({ headerName: m.headerName, headerValue: value });
  }
  return out;
}

function mirrorMatches(match: unknown[]): Json[] | Problem {
  const out: Json[] = [];
  for (const [j, raw] of match.entries()) {
    const m = obj(raw);
    const entry: Json = {};
    for (const key of ['method', 'path'] as const) {
      if (m[key] === undefined) continue;
      const v = stringMatch(m[key]);
      if (!v) return { field: `match[${j}].${key}`, message: 'needs one of exact, prefix or regex' };
      entry[key] = v;
    }
    if (isObject(m.headers)) {
      const headers: Json = {};
      for (const [name, raw] of Object.entries(m.headers)) {
        const v = stringMatch(raw);
        if (!v)
          return { field: `match[${j}].headers.${name}`, message: 'needs one of exact, prefix or regex' };
        headers[name] = v;
      }
      entry.headers = headers;
    }
    if (!Object.keys(entry).length)
      return { field: `match[${j}]`, message: 'sets none of method, path or headers' };
    out.push(entry);
  }
  return out;
}

/** The Weir step of an Argo setHeaderRoute/setMirrorRoute step, or undefined (noted) when left out. */
export function routeStep(
  kind: Kind,
  raw: Json,
  c: Json,
  at: string,
  src: string,
  notes: Notes,
): Json | undefined {
  const provider = String(c.provider ?? '');
  if (!descriptorOf(provider)?.capabilities.stepRoutes) {
    const why = c.provider ? `provider ${provider} cannot add named routes` : 'no trafficRouting converted';
    notes.add(src, at, `${kind} needs provider gatewayapi or istio (${why}); step left out`);
    return undefined;
  }
  notes.rest(src, raw, ['name', 'match', 'percentage'], at);
  const name = raw.name;
  if (typeof name !== 'string' || !name) {
    notes.add(src, at, `${kind} without a name; step left out`);
    return undefined;
  }
  const step: Json = { name };
  if (raw.match !== undefined && arr(raw.match).length) {
    const match = kind === 'setHeaderRoute' ? headerMatches(arr(raw.match)) : mirrorMatches(arr(raw.match));
    if (!Array.isArray(match)) {
      notes.add(src, `${at}.${match.field}`, `${match.message}; step left out`);
      return undefined;
    }
    step.match = match;
    if (kind === 'setMirrorRoute' && raw.percentage !== undefined) {
      const pct = Number(raw.percentage);
      if (!Number.isInteger(pct) || pct < 1 || pct > 100) {
        notes.add(
          src,
          `${at}.percentage`,
          `${String(raw.percentage)}: Weir mirrors 1 to 100 percent; step left out`,
        );
        return undefined;
      }
      step.percentage = pct;
    }
  }
  return { [kind]: step };
}

/**
 * trafficRouting.managedRoutes: Weir declares no routes, and ranks them by the order the steps first
 * add them. Routes the steps use but Argo did not declare, and a precedence that differs, are noted.
 */
export function managedRoutesNotes(
  managed: unknown,
  steps: Json[],
  path: string,
  src: string,
  notes: Notes,
): void {
  const declared = arr(managed).map((m) => String(obj(m).name));
  const used: string[] = [];
  for (const s of steps)
    for (const kind of ROUTE_STEPS) {
      const name = obj(s[kind]).name;
      if (typeof name === 'string' && !used.includes(name)) used.push(name);
    }
  const undeclared = used.filter((n) => !declared.includes(n));
  if (undeclared.length)
    notes.add(
      src,
      path,
      `routes ${undeclared.join(', ')} are not declared (Argo refuses that); converted anyway`,
    );
  const order = declared.filter((n) => used.includes(n));
  const firstUse = used.filter((n) => declared.includes(n));
  if (order.join() !== firstUse.join())
    notes.add(
      src,
      path,
      `Weir ranks routes by the order the steps first add them (${firstUse.join(', ')}), not by managedRoutes (${order.join(', ')})`,
    );
}
