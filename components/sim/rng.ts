/**
 * Deterministic pseudo-random numbers for the simulator: every random choice
 * comes from a stream seeded from the run's seed, a purpose and (for
 * per-node streams) the node, so that the same seed gives the same run and a
 * purpose's draws never shift another's. No Math.random.
 */

/** splitmix32 finalizer: a well-mixed 32-bit hash of x. */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Seed of stream (seed, purpose, index): never 0 (xorshift32's fixed point). */
export function streamSeed(seed: number, purpose: number, index = 0): number {
  return mix32(mix32(mix32(seed >>> 0) ^ Math.imul(purpose, 0x27d4eb2f)) ^ index) || 0x6d2b79f5;
}

/** Stream purposes (fixed numbers: changing one changes every run). */
export const Purpose = {
  LOSS: 1,
  MAC: 2,
  SCRIPT_RANDOM: 3,
  SENSOR: 4,
  TOPOLOGY: 5,
  BOOT: 6,
  PROTOCOL: 7,
  DISSEMINATION: 8,
} as const;

/** One xorshift32 stream. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x6d2b79f5;
  }

  /** Next 32-bit unsigned value. */
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller, one value per call). */
  gauss(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/**
 * Many xorshift32 streams in one Uint32Array (one per node): no object per
 * node. Index i's state is seeded with streamSeed(seed, purpose, i).
 */
export class RngBank {
  readonly state: Uint32Array;
  constructor(n: number, seed: number, purpose: number) {
    this.state = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.state[i] = streamSeed(seed, purpose, i);
  }

  reseed(i: number, seed: number): void {
    this.state[i] = seed >>> 0 || 0x6d2b79f5;
  }

  u32(i: number): number {
    let x = this.state[i];
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state[i] = x;
    return x;
  }

  next(i: number): number {
    return this.u32(i) / 4294967296;
  }

  int(i: number, n: number): number {
    return Math.floor(this.next(i) * n);
  }

  /** Standard normal (Box-Muller, one value per call). */
  gauss(i: number): number {
    const u = 1 - this.next(i);
    const v = this.next(i);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
