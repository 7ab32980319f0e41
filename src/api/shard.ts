// Sharding (docs/sharding.md): a controller started with --shard=<name> owns the Canaries and
// GitSyncs labelled weir.dev/shard=<name>; the one started without --shard owns those without the
// label. Shared by the controller (its informers' label selector), `weir lint` and `weir get`.

export const SHARD_LABEL = 'weir.dev/shard';

/**
 * A shard name is a label value (63 characters at most) and part of the Lease's and the chart's
 * object names, which refuse the upper case, '_' and '.' a label value allows: so a DNS label.
 */
export function isShardName(value: string): boolean {
  return value.length <= 63 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(value);
}

export const SHARD_NAME_RULE =
  "at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit";

/** The label selector of a controller's Canary and GitSync informers. */
export function shardSelector(shard: string | undefined): string {
  return shard ? `${SHARD_LABEL}=${shard}` : `!${SHARD_LABEL}`;
}

/** The shard that owns an object: its label's value, undefined for the shard-less controller. */
export function shardOf(labels: Readonly<Record<string, string>> | undefined): string | undefined {
  const v = labels?.[SHARD_LABEL];
  return v === undefined ? undefined : v;
}
