// Istio HTTPMatchRequests from the Canary: spec.service.match (every rule of the VirtualService
// carries it, as Flagger writes it), analysis.match (the A/B rule) and the session-affinity cookie
// rules, each merged onto the service matches so that a rule only ever narrows what the service
// routes.
import type { CanarySpec } from '../../api/canary.ts';

type StringMatch = { exact?: string; prefix?: string; suffix?: string; regex?: string };
export type HttpMatch = Record<string, unknown> & {
  headers?: Record<string, Record<string, string>>;
  queryParams?: Record<string, Record<string, string>>;
  sourceLabels?: Record<string, string>;
};

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Istio's StringMatch has exact, prefix and regex (RE2, whole value); a suffix becomes a regex. */
export function stringMatch(v: StringMatch): Record<string, string> {
  if (v.regex !== undefined) return { regex: v.regex };
  if (v.prefix !== undefined) return { prefix: v.prefix };
  if (v.suffix !== undefined) return { regex: `.*${escapeRegex(v.suffix)}` };
  return { exact: v.exact ?? '' };
}

function convertMap(
  entries: Record<string, StringMatch> | undefined,
): Record<string, Record<string, string>> | undefined {
  const out = Object.entries(entries ?? {}).map(([name, v]) => [name, stringMatch(v)] as const);
  return out.length ? Object.fromEntries(out) : undefined;
}

function nonEmpty<T extends object>(v: T | undefined): T | undefined {
  return v && Object.keys(v).length ? v : undefined;
}

/** analysis.match as Istio HTTPMatchRequests (entries OR'ed, fields within one entry AND'ed). */
export function httpMatches(spec: CanarySpec): HttpMatch[] {
  return (spec.analysis.match ?? []).map((m) =>
    dropUndefined({
      headers: convertMap(m.headers),
      queryParams: convertMap(m.queryParams),
      sourceLabels: nonEmpty(m.sourceLabels),
    }),
  );
}

/** spec.service.match as Istio HTTPMatchRequests; undefined when there is none. */
export function serviceMatches(spec: CanarySpec): HttpMatch[] | undefined {
  const list = spec.service.match;
  if (!list?.length) return undefined;
  return list.map((m) =>
    dropUndefined({
      name: m.name,
      uri: m.uri && stringMatch(m.uri),
      scheme: m.scheme && stringMatch(m.scheme),
      method: m.method && stringMatch(m.method),
      authority: m.authority && stringMatch(m.authority),
      headers: convertMap(m.headers),
      withoutHeaders: convertMap(m.withoutHeaders),
      queryParams: convertMap(m.queryParams),
      port: m.port,
      sourceLabels: nonEmpty(m.sourceLabels),
      ignoreUriCase: m.ignoreUriCase,
    }),
  );
}

/**
 * `narrow` (A/B or cookie conditions) within the service matches: every pair of one narrowing
 * entry and one service entry, the narrowing headers, query parameters and source labels added to
 * the service entry's (same name: the narrowing one wins). Without service matches: `narrow` as is.
 */
export function mergeMatches(narrow: HttpMatch[], service: HttpMatch[] | undefined): HttpMatch[] {
  if (!service) return narrow;
  return narrow.flatMap((n) =>
    service.map((s) =>
      dropUndefined({
        ...s,
        headers: nonEmpty({ ...s.headers, ...n.headers }),
        queryParams: nonEmpty({ ...s.queryParams, ...n.queryParams }),
        sourceLabels: nonEmpty({ ...s.sourceLabels, ...n.sourceLabels }),
      }),
    ),
  );
}

/** Istio L4 matches for a tcp route (appProtocol tcp): the ports of spec.service.match. */
export function l4Matches(spec: CanarySpec): Array<{ port: number }> | undefined {
  const ports = (spec.service.match ?? []).flatMap((m) => (m.port ? [{ port: m.port }] : []));
  return ports.length ? ports : undefined;
}

export function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
