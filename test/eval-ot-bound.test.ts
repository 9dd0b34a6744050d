import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initEngine } from '../src/engine/index.ts';
import { movingMnistSource } from '../src/data/source.ts';
import { fmdBoundFromSamples, otBound, solveAssignment, sqDistanceMatrix, w2sqFromCosts } from '../src/eval/ot-bound.ts';
import { loadZooModel } from '../src/models/zoo.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { analyseFmd, type DiscreteModel } from '../src/theory/discrete.ts';
import { transport } from '../src/theory/ot.ts';

await initEngine({ backend: 'wasm' });

/** How far the estimated optimum may sit above the learned FMD decoder at N = 256: see docs/results/beyond.md. */
const TOLERANCE = 0.005;
const runs = { numRuns: 200, seed: 20240615 };
const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b)), `${a} != ${b}`);

/** Every permutation of 0..n-1 (n <= 8). */
function* permutations(n: number): Generator<number[]> {
  const p = Array.from({ length: n }, (_, i) => i);
  function* go(k: number): Generator<number[]> {
    if (k === n) return yield [...p];
    for (let i = k; i < n; i++) {
      [p[k], p[i]] = [p[i]!, p[k]!];
      yield* go(k + 1);
      [p[k], p[i]] = [p[i]!, p[k]!];
    }
  }
  yield* go(0);
}

/** Every injection of n rows into m columns, by brute force: the least total cost. */
function bruteForce(cost: Float64Array, n: number, m: number): number {
  let best = Infinity;
  for (const perm of permutations(m)) {
    let s = 0;
    for (let i = 0; i < n; i++) s += cost[i * m + perm[i]!]!;
    best = Math.min(best, s);
  }
  return best;
}

test('the assignment solver matches brute force on small square and rectangular matrices, with a matching dual', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 }), fc.array(fc.integer({ min: -20, max: 50 }), { minLength: 48, maxLength: 48 }), (n, extra, values) => {
      const m = Math.min(6, n + extra);
      const cost = Float64Array.from(values.slice(0, n * m));
      const a = solveAssignment(cost, n, m);
      assert.equal(new Set(a.rowToCol).size, n, 'distinct columns');
      assert.ok(a.rowToCol.every((j) => j >= 0 && j < m));
      close(a.cost, bruteForce(cost, n, m));
      close(a.dual, a.cost);
    }),
    runs,
  );
  assert.throws(() => solveAssignment(new Float64Array([1, NaN, 2, 3]), 2), RangeError);
  assert.throws(() => solveAssignment(new Float64Array(6), 3, 2), RangeError);
});

test('W2^2 between small point sets equals the brute-force minimum over permutations, in per-pixel units', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 5 }), fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 70, maxLength: 70 }), (n, dim, v) => {
      const a = Float32Array.from(v.slice(0, n * dim));
      const b = Float32Array.from(v.slice(35, 35 + n * dim));
      const cost = sqDistanceMatrix(a, b, dim);
      // The matrix is the per-pixel mean of squared differences.
      let c01 = 0;
      for (let k = 0; k < dim; k++) c01 += (a[k]! - b[(n - 1) * dim + k]!) ** 2;
      close(cost[n - 1]!, c01 / dim);
      const { w2sq } = w2sqFromCosts(cost, n);
      close(w2sq, bruteForce(cost, n, n) / n);
      // The same number from the project's transportation simplex on the uniform laws.
      const law = (x: Float32Array) => ({ points: Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * dim, (i + 1) * dim))), mass: new Array<number>(n).fill(1 / n) });
      close(w2sq, transport(law(a), law(b)).cost / dim, 1e-7);
    }),
    { numRuns: 100, seed: 7 },
  );
});

test('on a toy with a known encoder the bound is exactly Theorem 3.2 (the calculator of theory/discrete.ts)', () => {
  // X uniform on 8 points of R^2; the encoder sends which of three cells X is in.
  const xs = [[0, 0], [1, 0], [0, 1], [3, 3], [4, 3], [3, 5], [6, 0], [7, 1]];
  const cellOf = [0, 0, 0, 1, 1, 1, 2, 2];
  const model: DiscreteModel = { frames: 1, dim: 2, states: xs.map((x, i) => ({ p: 1 / 8, x: [x], cell: [String(cellOf[i])] })) };
  const [exact] = analyseFmd(model);
  const means = [0, 1, 2].map((c) => {
    const pts = xs.filter((_, i) => cellOf[i] === c);
    return [0, 1].map((k) => pts.reduce((s, p) => s + p[k]!, 0) / pts.length);
  });
  const x = Float32Array.from(xs.flat());
  const xhat = Float32Array.from(cellOf.flatMap((c) => means[c]!));
  // The reference sample: the same law, listed in another order.
  const ref = Float32Array.from([...xs].reverse().flat());
  const refHat = Float32Array.from([...cellOf].reverse().flatMap((c) => means[c]!));
  const e = fmdBoundFromSamples({ dim: 2, x, xhat, ref, refHat }, { bootstrap: 5, seed: 3 });
  // The calculator sums over coordinates; the estimate is per pixel (per coordinate).
  close(e.d_mmse * 2, exact!.mmse, 1e-6);
  close(e.paired.w2sq * 2, exact!.w2sq, 1e-6);
  close(e.independent.w2sq * 2, exact!.w2sq, 1e-6);
  // Samples that are the laws themselves carry no self-transport: the debiased estimate is the same number.
  close(e.debiased!.w2sq * 2, exact!.w2sq, 1e-6);
  close(e.paired.bound * 2, exact!.fmd, 1e-6);
  assert.ok(e.paired_ratio <= 2);
  assert.ok(e.certificate_gap < 1e-12);
  assert.equal(e.paired.w2sq_bootstrap.reps, 5);
  assert.ok(e.paired.w2sq_bootstrap.p05 <= e.paired.w2sq_bootstrap.p95);
});

test('the shipped I-frame model at N = 256: D_MMSE + W2^2 within a factor of two of D_MMSE, and near its learned FMD decoder', async () => {
  const lm = await loadZooModel(folderStore(), 'iframe-cpu-12');
  const r = otBound(lm.model, movingMnistSource({ seed: 1 }), { samples: 256, bootstrap: 4 });
  assert.equal(r.frames.length, 1);
  const f = r.frames[0]!;
  assert.equal(f.samples, 256);
  // rdpv eval: MMSE 0.01235 on 1024 sequences; 256 of them scatter around it.
  assert.ok(f.d_mmse > 0.009 && f.d_mmse < 0.016, `D_MMSE ${f.d_mmse}`);
  // Theorem 3.2's factor of two (sample by sample for the paired estimate: the identity coupling costs D_MMSE).
  assert.ok(f.paired.bound <= 2 * f.d_mmse, `bound ${f.paired.bound} vs 2 D_MMSE ${2 * f.d_mmse}`);
  assert.ok(f.paired.w2sq > 0);
  // At N <= 1000 in 4096 dimensions the optimal assignment barely leaves the identity coupling,
  // so the paired estimate sits near its cap 2 D_MMSE (1.99 D_MMSE here, 1.97 at N = 1000), while
  // the learned decoder, not perfectly realistic, reaches 1.70 D_MMSE: the estimate is above it by
  // 0.0035 (0.0033 at N = 1000). TOLERANCE (0.005, 0.4 D_MMSE) covers that finite-sample excess
  // with room for the sampling spread (bootstrap std 0.0002); docs/results/beyond.md.
  assert.ok(f.fmd_mse !== undefined);
  assert.ok(f.paired.bound <= f.fmd_mse! + TOLERANCE, `bound ${f.paired.bound} vs FMD ${f.fmd_mse}`);
  // And the learned decoder lies between the debiased estimate (from below) and the paired one (from above).
  assert.ok(f.debiased!.bound <= f.fmd_mse! && f.fmd_mse! <= f.paired.bound, `${f.debiased!.bound} <= ${f.fmd_mse} <= ${f.paired.bound}`);
  assert.ok(f.certificate_gap < 1e-9);
});
