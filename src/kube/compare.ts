// "Does the live object already say what we want?" Every field Weir sets must be equal in the live
// object; fields the API server adds (defaults, status, metadata) are ignored. Lets writes be skipped
// when nothing changed, so steady state makes no API calls.
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === undefined) return true;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) && desired.length === live.length && desired.every((d, i) => isSubset(d, live[i]))
    );
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired).every(([k, v]) => isSubset(v, (live as Record<string, unknown>)[k]));
  }
  return desired === live;
}

/**
 * A resourceVersion as the etcd revision it is, or undefined when it is not an integer: such a
 * version can only be compared for equality (the API does not promise its form).
 */
export function revisionNumber(rv: string | undefined): bigint | undefined {
  return rv && /^\d+$/.test(rv) ? BigInt(rv) : undefined;
}
