/**
 * Portable seeded randomness: 32-bit integer arithmetic only (Math.imul, >>>), so Node and
 * every browser produce the same numbers. Nothing in the project uses Math.random.
 */

/** A bijective 32-bit mixer (lowbias32 by C. Wellons). */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hash of a tuple of uint32 keys, for random access streams keyed by (seed, frame, index). */
export function hashKeys(...keys: number[]): number {
  let h = 0x9e3779b9;
  for (const k of keys) h = mix32((h + mix32(k >>> 0)) >>> 0);
  return h;
}

/** A uniform number in [0, 1) that depends only on the keys. */
export function uniformAt(...keys: number[]): number {
  return hashKeys(...keys) / 0x100000000;
}

/** A sequential generator (mulberry32) seeded by a tuple of uint32 keys. */
export class Rng {
  private state: number;

  constructor(...keys: number[]) {
    this.state = hashKeys(...keys);
  }

  /** Next uint32. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Uniform integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}
