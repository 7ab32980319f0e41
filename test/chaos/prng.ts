// A seeded PRNG (mulberry32) for the chaos suite: every random choice (when to kill the controller,
// how long it stays down, which release is bad) comes from it, so a failing run replays with its seed
// (`npm run chaos -- --seed N` or WEIR_CHAOS_SEED=N).

export interface Rng {
  seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed: seed >>> 0, next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

/** The seed from `--seed N`, else WEIR_CHAOS_SEED, else a fresh one (printed by the caller). */
export function seedFrom(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const i = argv.indexOf('--seed');
  const raw = i >= 0 ? argv[i + 1] : env.WEIR_CHAOS_SEED;
  if (raw !== undefined) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--seed: expected a non-negative integer, got ${raw}`);
    return n;
  }
  return Math.floor(Math.random() * 2 ** 31);
}
