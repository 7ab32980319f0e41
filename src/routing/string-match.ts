// Weir's StringMatch (exact, prefix, suffix or regex) for data planes whose matchers take a value
// and a regex flag only (gloo). The other routers keep their own copies of escapeRegex for now.
import type { CanarySpec } from '../api/canary.ts';

type StringMatch = NonNullable<NonNullable<CanarySpec['analysis']['match']>[number]['headers']>[string];

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `{ value }` for an exact match, else `{ value: <regex>, regex: true }` (prefix/suffix as regexes). */
export function valueOrRegex(m: StringMatch): { value: string; regex?: true } {
  if (m.regex !== undefined) return { value: m.regex, regex: true };
  if (m.prefix !== undefined) return { value: `${escapeRegex(m.prefix)}.*`, regex: true };
  if (m.suffix !== undefined) return { value: `.*${escapeRegex(m.suffix)}`, regex: true };
  return { value: m.exact ?? '' };
}
