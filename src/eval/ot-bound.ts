/**
 * Theorem 3.2, measured: for a fixed encoder, the least distortion any 0-PLF-FMD decoder reaches
 * is D_MMSE + W2^2(law of the MMSE reconstructions, law of the frames). Both laws are known here
 * only through samples, so W2^2 is estimated by an exact assignment between N reconstructions and
 * N frames, with a bootstrap spread; the assignment decoder (each reconstruction sent to its
 * assigned real frame) is reported as an oracle row.
 *
 * Costs are per-pixel squared distances (the mean over pixels), so every number is in the units
 * of the per-pixel MSE that `evaluate` reports.
 *
 * Three estimators, all consistent as N grows; the first two are biased upwards at finite N (W2^2
 * is jointly convex, so by Jensen E W2^2(empirical, empirical) >= W2^2(law, law)):
 * - `paired`: the reconstructions against the very frames they reconstruct. The identity coupling
 *   costs exactly the sample D_MMSE, so this estimate never exceeds it (the factor of two holds
 *   sample by sample), and its expectation is at most D_MMSE: the tighter of these two.
 * - `independent`: against frames of other sequences. Its assignment is a decoder that never saw
 *   the frame it replaces, which is what the oracle row needs; in 4096 dimensions with N = 1,000
 *   its bias is large (see docs/results/beyond.md).
 * - `debiased`: the independent estimate less half of each law's self-transport between two of
 *   its samples (as the Sinkhorn divergence corrects entropic transport): a heuristic, not a bound.
 *
 * The solver: the project's transportation simplex (theory/ot.ts) prices every cell at every
 * pivot over number[][] costs (measured 0.58 s at n = 200, 5.4 s at n = 400: about 100 s at
 * n = 1,000, each bootstrap resample again); here is the
 * shortest-augmenting-path Hungarian method (Kuhn-Munkres with potentials, as in Jonker and
 * Volgenant's augmentation), O(n^3) on a Float64Array cost matrix, exact up to float64 rounding,
 * with the dual objective returned as an optimality certificate: 0.5 s at n = 1,000. No package
 * is needed (and none may download at run time).
 */
import { tf } from '../engine/index.ts';
import type { RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { frameOf, type FrameSource } from '../data/source.ts';
import type { Split } from '../data/types.ts';
import type { Model } from '../models/model-file.ts';
import { videoCodec } from '../video/codec.ts';

export interface Assignment {
  /** rowToCol[i]: the column row i is assigned to (distinct columns). */
  rowToCol: Int32Array;
  /** Sum of the assigned costs. */
  cost: number;
  /** The dual objective (sum of the row and column potentials): equal to `cost` at the optimum, up to rounding. */
  dual: number;
}

/**
 * Minimum-cost assignment of the n rows of an n x m cost matrix (row-major, n <= m) to distinct
 * columns: the Hungarian method with potentials, one shortest augmenting path (Dijkstra on reduced
 * costs) per row, O(n^2 m).
 */
export function solveAssignment(cost: Float64Array, n: number, m = n): Assignment {
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 0 || n > m) throw new RangeError(`assignment: need 0 <= n <= m, got ${n} x ${m}`);
  if (cost.length !== n * m) throw new RangeError(`assignment: ${cost.length} costs for a ${n} x ${m} matrix`);
  for (let k = 0; k < cost.length; k++) if (!Number.isFinite(cost[k]!)) throw new RangeError(`assignment: cost ${k} is ${cost[k]}`);
  // 1-based rows and columns; column 0 is the virtual start of each augmenting path.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const rowOf = new Int32Array(m + 1); // row matched to column j (0: free)
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    rowOf[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOf[j0]!;
      const base = (i0 - 1) * m - 1;
      const ui = u[i0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const reduced = cost[base + j]! - ui - v[j]!;
        if (reduced < minv[j]!) {
          minv[j] = reduced;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[rowOf[j]!]! += delta;
          v[j]! -= delta;
        } else minv[j]! -= delta;
      }
      j0 = j1;
    } while (rowOf[j0] !== 0);
    // Flip the path back to its start.
    do {
      const j1 = way[j0]!;
      rowOf[j0] = rowOf[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const rowToCol = new Int32Array(n);
  for (let j = 1; j <= m; j++) if (rowOf[j]! > 0) rowToCol[rowOf[j]! - 1] = j - 1;
  let total = 0;
  for (let i = 0; i < n; i++) total += cost[i * m + rowToCol[i]!]!;
  // u[0] and v[0] belong to the virtual start column; the dual of the real problem is over 1..n and matched 1..m.
  let dual = 0;
  for (let i = 1; i <= n; i++) dual += u[i]!;
  for (let j = 1; j <= m; j++) if (rowOf[j]! > 0) dual += v[j]!;
  return { rowToCol, cost: total, dual };
}

/**
 * Per-pixel squared distances between the rows of a ([na, dim]) and of b ([nb, dim]): an
 * [na, nb] row-major matrix of mean_k (a_ik - b_jk)^2, accumulated in float64.
 */
export function sqDistanceMatrix(a: Float32Array, b: Float32Array, dim: number): Float64Array {
  const na = a.length / dim, nb = b.length / dim;
  if (!Number.isInteger(na) || !Number.isInteger(nb)) throw new RangeError(`sqDistanceMatrix: lengths ${a.length} and ${b.length} are not multiples of ${dim}`);
  const out = new Float64Array(na * nb);
  // Blocks of rows of b stay in cache while every row of a passes over them.
  const BLOCK = 32;
  for (let j0 = 0; j0 < nb; j0 += BLOCK) {
    const j1 = Math.min(nb, j0 + BLOCK);
    for (let i = 0; i < na; i++) {
      const ai = a.subarray(i * dim, (i + 1) * dim);
      for (let j = j0; j < j1; j++) {
        const bj = b.subarray(j * dim, (j + 1) * dim);
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let k = 0;
        for (; k + 3 < dim; k += 4) {
          const d0 = ai[k]! - bj[k]!, d1 = ai[k + 1]! - bj[k + 1]!, d2 = ai[k + 2]! - bj[k + 2]!, d3 = ai[k + 3]! - bj[k + 3]!;
          s0 += d0 * d0;
          s1 += d1 * d1;
          s2 += d2 * d2;
          s3 += d3 * d3;
        }
        for (; k < dim; k++) s0 += (ai[k]! - bj[k]!) ** 2;
        out[i * nb + j] = (s0 + s1 + s2 + s3) / dim;
      }
    }
  }
  return out;
}

/** The n x n sub-matrix of an [.., m] cost matrix at rows `rows` and columns `cols` (repeats allowed). */
function subMatrix(cost: Float64Array, m: number, rows: ArrayLike<number>, cols: ArrayLike<number>): Float64Array {
  const n = rows.length;
  const out = new Float64Array(n * cols.length);
  for (let i = 0; i < n; i++) {
    const r = rows[i]! * m;
    for (let j = 0; j < cols.length; j++) out[i * cols.length + j] = cost[r + cols[j]!]!;
  }
  return out;
}

/** W2^2 between the uniform laws on two equal-size point sets, from their cost matrix. */
export function w2sqFromCosts(cost: Float64Array, n: number): { w2sq: number; assignment: Assignment } {
  const assignment = solveAssignment(cost, n);
  return { w2sq: n === 0 ? 0 : assignment.cost / n, assignment };
}

export interface Spread {
  mean: number;
  std: number;
  /** 5% and 95% quantiles of the bootstrap values. */
  p05: number;
  p95: number;
  reps: number;
}

function spread(values: number[]): Spread {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => {
    const x = p * (n - 1);
    const lo = Math.floor(x);
    return sorted[lo]! + (x - lo) * ((sorted[Math.min(n - 1, lo + 1)] ?? sorted[lo]!) - sorted[lo]!);
  };
  return { mean, std, p05: q(0.05), p95: q(0.95), reps: n };
}

/** One estimator's numbers (all per-pixel squared errors). */
export interface W2Estimate {
  w2sq: number;
  /** D_MMSE + W2^2: the 0-PLF-FMD optimum this estimate gives. */
  bound: number;
  /** Bootstrap spread of W2^2 and of the bound (D_MMSE resampled with the same sequences). */
  w2sq_bootstrap: Spread;
  bound_bootstrap: Spread;
  /** The same estimate from the two halves (N/2 each), averaged: above `w2sq` while the estimate still falls with N. */
  w2sq_half: number;
}

export interface BoundEstimate {
  samples: number;
  dim: number;
  /** Mean per-pixel squared error of the MMSE reconstructions against their frames. */
  d_mmse: number;
  paired: W2Estimate;
  independent: W2Estimate;
  /**
   * The independent estimate less half the W2^2 between two samples of each law (the
   * reconstructions of the reference sequences against those of the scored ones, the scored
   * frames against the reference frames): the self-transport that finite samples add in high
   * dimensions, taken off as the Sinkhorn divergence does for entropic transport. Consistent
   * too (the self terms vanish as N grows), exact when the samples are the laws; a heuristic
   * correction, not a bound. Present when the reference sequences' reconstructions are given.
   */
  debiased?: W2Estimate;
  /** The assignment decoder: reconstruction i sent to the reference frame the independent assignment gives it, scored against frame i. */
  oracle_mse: number;
  /** paired.bound / d_mmse (Theorem 3.2: at most 2). */
  paired_ratio: number;
  independent_ratio: number;
  /** max |primal - dual| / primal of the full-size assignments (optimality certificates; ~1e-15). */
  certificate_gap: number;
}

export interface BoundOptions {
  /** Bootstrap resamples (default 20; 0: none, the spreads are of the point estimate alone). */
  bootstrap?: number;
  seed?: number;
}

const BOOTSTRAP_TAG = 0x4f54424e; // 'OTBN'

/** Samples for the bound, each [N, dim] row-major. */
export interface BoundSamples {
  dim: number;
  /** Frames of the scored sequences. */
  x: Float32Array;
  /** Their MMSE reconstructions. */
  xhat: Float32Array;
  /** Frames of N other sequences (the same law as x). */
  ref: Float32Array;
  /** The MMSE reconstructions of the reference sequences (for the debiased estimate). */
  refHat?: Float32Array;
}

/** The bound from samples: D_MMSE, W2^2 by three estimators with their bootstrap spreads, the oracle decoder. */
export function fmdBoundFromSamples(sm: BoundSamples, o: BoundOptions = {}): BoundEstimate {
  const { dim, x, xhat, ref, refHat } = sm;
  const n = x.length / dim;
  if (!Number.isInteger(n) || n < 2 || xhat.length !== x.length || ref.length !== x.length || (refHat && refHat.length !== x.length)) {
    throw new UserError(`ot-bound: need N >= 2 frames, their reconstructions and N reference frames (and their reconstructions) of ${dim} values each`);
  }
  const reps = o.bootstrap ?? 20;
  const seed = o.seed ?? 1;
  const mse = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = i * dim; k < (i + 1) * dim; k++) s += (x[k]! - xhat[k]!) ** 2;
    mse[i] = s / dim;
  }
  const dOf = (rows: ArrayLike<number>) => Array.from(rows, (i) => mse[i]!).reduce((a, b) => a + b, 0) / rows.length;
  // Cost matrices: rows are always scored sequences, columns scored (paired) or reference sequences.
  const costs = {
    paired: sqDistanceMatrix(xhat, x, dim),
    independent: sqDistanceMatrix(xhat, ref, dim),
    ...(refHat ? { selfHat: sqDistanceMatrix(xhat, refHat, dim), selfX: sqDistanceMatrix(x, ref, dim) } : {}),
  };
  const w = (cost: Float64Array, rows: ArrayLike<number>, cols: ArrayLike<number>) => w2sqFromCosts(subMatrix(cost, n, rows, cols), rows.length).w2sq;
  /** Each estimator on the sequences `rows` (scored) and `refs` (reference). */
  const estimators = (rows: ArrayLike<number>, refs: ArrayLike<number>) => {
    const e: Record<string, number> = { paired: w(costs.paired, rows, rows), independent: w(costs.independent, rows, refs) };
    if (costs.selfHat) e.debiased = e.independent! - 0.5 * w(costs.selfHat, rows, refs) - 0.5 * w(costs.selfX!, rows, refs);
    return e;
  };
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const point = estimators(all, all);
  const h = n >> 1;
  const [a, b] = [all.subarray(0, h), all.subarray(h, 2 * h)];
  const [halfA, halfB] = [estimators(a, a), estimators(b, b)];
  const boot: Record<string, { w: number[]; bound: number[] }> = {};
  for (let r = 0; r < reps; r++) {
    const rng = new Rng(BOOTSTRAP_TAG, seed >>> 0, r);
    // The scored sequences carry their frame and reconstruction together; the reference sequences are a sample of their own.
    const rows = Int32Array.from({ length: n }, () => rng.int(0, n - 1));
    const refs = Int32Array.from({ length: n }, () => rng.int(0, n - 1));
    const d = dOf(rows);
    for (const [k, v] of Object.entries(estimators(rows, refs))) {
      const e = (boot[k] ??= { w: [], bound: [] });
      e.w.push(v);
      e.bound.push(d + v);
    }
  }
  const dMmse = dOf(all);
  const estimate = (k: string): W2Estimate => ({
    w2sq: point[k]!,
    bound: dMmse + point[k]!,
    w2sq_bootstrap: spread(reps > 0 ? boot[k]!.w : [point[k]!]),
    bound_bootstrap: spread(reps > 0 ? boot[k]!.bound : [dMmse + point[k]!]),
    w2sq_half: (halfA[k]! + halfB[k]!) / 2,
  });

  const paired = solveAssignment(costs.paired, n);
  const indep = solveAssignment(costs.independent, n);
  let oracle = 0;
  for (let i = 0; i < n; i++) {
    const j = indep.rowToCol[i]!;
    let s = 0;
    for (let k = 0; k < dim; k++) s += (x[i * dim + k]! - ref[j * dim + k]!) ** 2;
    oracle += s / dim;
  }
  const gap = (a: Assignment) => Math.abs(a.cost - a.dual) / Math.max(a.cost, Number.MIN_VALUE);
  const p = estimate('paired');
  const ind = estimate('independent');
  return {
    samples: n, dim, d_mmse: dMmse, paired: p, independent: ind, ...(costs.selfHat ? { debiased: estimate('debiased') } : {}),
    oracle_mse: oracle / n, paired_ratio: p.bound / dMmse, independent_ratio: ind.bound / dMmse,
    certificate_gap: Math.max(gap(paired), gap(indep)),
  };
}

export interface OtBoundOptions extends BoundOptions {
  /** N: sequences whose frames are reconstructed (`split`, default test, from `first`, default 0). */
  samples: number;
  split?: Split;
  first?: number;
  /** The reference frames: N sequences of the same split from here on (default first + 2^20, apart from the scored ones). */
  referenceFirst?: number;
  /** The file dither seed of the encoding (default 1). */
  ditherSeed?: number;
  batch?: number;
}

export interface OtBoundFrame extends BoundEstimate {
  frame: number;
  rate: RateName;
  /** The model's learned 0-PLF-FMD decoder on the same sequences and dither, where it has one. */
  fmd_mse?: number;
  /** fmd_mse minus each estimate of the bound: how far the learned decoder is from the optimum (negative: below the estimate). */
  fmd_minus_bound?: { paired: number; independent: number; debiased: number };
}

export interface OtBoundResult {
  source: string;
  split: Split;
  first: number;
  reference_first: number;
  samples: number;
  dither_seed: number;
  bootstrap: number;
  seconds: number;
  frames: OtBoundFrame[];
}

export const REFERENCE_OFFSET = 1 << 20;

/** Theorem 3.2's bound for every frame of a model's group of pictures, beside its learned FMD decoder. */
export function otBound(model: Model, source: FrameSource, o: OtBoundOptions): OtBoundResult {
  const started = performance.now();
  const codec = videoCodec(model);
  const T = codec.rates.length;
  const split = o.split ?? 'test';
  const first = o.first ?? 0;
  const referenceFirst = o.referenceFirst ?? first + REFERENCE_OFFSET;
  const seed = o.ditherSeed ?? 1;
  const batch = o.batch ?? 64;
  const N = o.samples;
  const dim = source.size * source.size;
  const hasFmd = codec.decoders.includes('fmd');
  const x = codec.rates.map(() => new Float32Array(N * dim));
  const xhat = codec.rates.map(() => new Float32Array(N * dim));
  const ref = codec.rates.map(() => new Float32Array(N * dim));
  const refHat = codec.rates.map(() => new Float32Array(N * dim));
  const fmdSum = new Float64Array(T);
  for (let s = 0; s < N; s += batch) {
    const n = Math.min(batch, N - s);
    const b = source.batch(split, first + s, n, T);
    const r = source.batch(split, referenceFirst + s, n, T);
    for (let t = 0; t < T; t++) {
      x[t]!.set(frameOf(b, t), s * dim);
      ref[t]!.set(frameOf(r, t), s * dim);
    }
    tf.tidy(() => {
      const xs = codec.rates.map((_, t) => tf.tensor4d(x[t]!.subarray(s * dim, (s + n) * dim), [n, source.size, source.size, 1]));
      const { messages } = codec.encode(xs, { seed, firstGop: first + s });
      codec.decode('mmse', messages).forEach((y, t) => xhat[t]!.set(y.dataSync() as Float32Array, s * dim));
      // The reference sequences' reconstructions (their own dither: they are other sequences of a file).
      const rs = codec.rates.map((_, t) => tf.tensor4d(ref[t]!.subarray(s * dim, (s + n) * dim), [n, source.size, source.size, 1]));
      codec.decode('mmse', codec.encode(rs, { seed, firstGop: referenceFirst + s }).messages).forEach((y, t) => refHat[t]!.set(y.dataSync() as Float32Array, s * dim));
      if (hasFmd) codec.decode('fmd', messages).forEach((y, t) => (fmdSum[t]! += tf.mean(tf.squaredDifference(y, xs[t]!)).dataSync()[0]! * n));
    });
  }
  const frames = codec.rates.map((rate, t): OtBoundFrame => {
    const e = fmdBoundFromSamples({ dim, x: x[t]!, xhat: xhat[t]!, ref: ref[t]!, refHat: refHat[t]! }, { bootstrap: o.bootstrap, seed: o.seed });
    if (!hasFmd) return { frame: t + 1, rate, ...e };
    const fmd = fmdSum[t]! / N;
    return {
      frame: t + 1, rate, ...e, fmd_mse: fmd,
      fmd_minus_bound: { paired: fmd - e.paired.bound, independent: fmd - e.independent.bound, debiased: fmd - e.debiased!.bound },
    };
  });
  return {
    source: source.name, split, first, reference_first: referenceFirst, samples: N, dither_seed: seed,
    bootstrap: o.bootstrap ?? 20, seconds: (performance.now() - started) / 1000, frames,
  };
}
