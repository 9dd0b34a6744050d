import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyseGaussian, normTail, quantizeFrame1, w2sqDiscreteNormal, w2sqGaussian } from '../src/theory/gaussian.ts';

const close = (a: number, b: number, tol: number) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b)), `${a} != ${b}`);
const pdf = (x: number, m: number, s: number) => Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));

/** Composite Simpson's rule with `n` (even) intervals. */
function simpson(f: (x: number) => number, a: number, b: number, n: number): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

test('normal tail matches reference values in both tails', () => {
  close(normTail(1), 0.15865525393145705, 1e-14);
  close(normTail(-1.96), 0.9750021048517795, 1e-14);
  close(normTail(5), 2.866515718791939e-7, 1e-12);
  close(normTail(10), 7.61985302416047e-24, 1e-12);
});

test('quantized 1-D Gaussian: MMSE and W2^2 agree with numerical integration', () => {
  for (const [m, s, step] of [[0, 1, 1], [0.3, 2, 0.7], [-1, 0.5, 2]] as const) {
    const [r] = analyseGaussian({ kind: 'gaussian', frames: 1, mean: [m], cov: [[s * s]] }, { kind: 'quantizer', step: [step] });
    // Numerical: per cell, the centroid and squared error by Simpson on a fine grid.
    let mmse = 0;
    const atoms: number[] = [], mass: number[] = [];
    const lo = Math.floor((m - 10 * s) / step), hi = Math.ceil((m + 10 * s) / step);
    for (let k = lo; k <= hi; k++) {
      const a = (k - 0.5) * step, b = (k + 0.5) * step;
      const p = simpson((x) => pdf(x, m, s), a, b, 400);
      if (p < 1e-300) continue;
      const c = simpson((x) => x * pdf(x, m, s), a, b, 400) / p;
      mmse += simpson((x) => (x - c) ** 2 * pdf(x, m, s), a, b, 400);
      atoms.push(c);
      mass.push(p);
    }
    close(r!.mmse, mmse, 1e-9);
    // W2^2 numerically in x-space: the quantile coupling sends x to the atom whose slice of
    // cumulative mass contains F(x); F by the trapezoid rule on a fine grid.
    const n = 200_000, x0 = m - 12 * s, h = (24 * s) / n;
    let w = 0, F = 0, c = 0, below = mass[0]!;
    for (let i = 0; i <= n; i++) {
      const x = x0 + i * h;
      if (i > 0) F += (h / 2) * (pdf(x - h, m, s) + pdf(x, m, s));
      while (F > below && c < atoms.length - 1) below += mass[++c]!;
      w += (i === 0 || i === n ? h / 2 : h) * (atoms[c]! - x) ** 2 * pdf(x, m, s);
    }
    close(r!.w2sq, w, 1e-4);
    // For one scalar frame the quantile coupling is the source's own (X, X~): W2^2 equals the MMSE exactly.
    close(r!.w2sq, r!.mmse, 1e-12);
    assert.equal(r!.fmd_within_factor_two, true);
  }
});

test('quantized 2-frame Gaussian: frame 2 MMSE agrees with a 2-D numerical integration', () => {
  const rho = 0.8, step = 1;
  const [, f2] = analyseGaussian({ kind: 'gaussian', frames: 2, mean: [0, 0], cov: [[1, rho], [rho, 1]] }, { kind: 'quantizer', step: [step, step] });
  // Per cell pair, mass and centroid of X_2 by nested Simpson in (x_1, x_2 | x_1).
  const tau = Math.sqrt(1 - rho * rho);
  let explained = 0;
  for (let k1 = -8; k1 <= 8; k1++) {
    for (let k2 = -8; k2 <= 8; k2++) {
      const [a1, b1, a2, b2] = [(k1 - 0.5) * step, (k1 + 0.5) * step, (k2 - 0.5) * step, (k2 + 0.5) * step];
      const inner = (x1: number, g: (x2: number) => number) => simpson((x2) => g(x2) * pdf(x2, rho * x1, tau), a2, b2, 60);
      const p = simpson((x1) => pdf(x1, 0, 1) * inner(x1, () => 1), a1, b1, 60);
      if (p < 1e-300) continue;
      const first = simpson((x1) => pdf(x1, 0, 1) * inner(x1, (x2) => x2), a1, b1, 60);
      explained += (first * first) / p;
    }
  }
  close(f2!.mmse, 1 - explained, 1e-7);
  assert.ok(f2!.w2sq > 0 && f2!.w2sq < f2!.mmse);
});

test('W2^2 of a discrete law against a normal: a point mass gives the second moment about it', () => {
  close(w2sqDiscreteNormal([1.5], [1], 0.5, 2), 1 + 4, 1e-12);
  // The MMSE atoms of a quantizer give back exactly the quantizer's distortion.
  const { atoms, mmse } = quantizeFrame1(0, 1, 0.5);
  close(w2sqDiscreteNormal(atoms.points, atoms.mass, 0, 1), mmse, 1e-10);
});

test('Bures W2^2: 1-D and commuting cases match the closed forms', () => {
  close(w2sqGaussian([0], [[4]], [1], [[1]]), 1 + (2 - 1) ** 2, 1e-12);
  // Diagonal covariances: sum over coordinates of (sqrt(a) - sqrt(b))^2.
  close(w2sqGaussian([0, 0], [[4, 0], [0, 9]], [0, 0], [[1, 0], [0, 1]]), 1 + 4, 1e-12);
  // Rotation invariance: rotating both laws leaves W2 unchanged.
  const c = Math.cos(0.7), s = Math.sin(0.7);
  const rot = (d: [number, number]) => [
    [c * c * d[0] + s * s * d[1], c * s * (d[0] - d[1])],
    [c * s * (d[0] - d[1]), s * s * d[0] + c * c * d[1]],
  ];
  close(w2sqGaussian([0, 0], rot([4, 9]), [0, 0], rot([1, 1])), 5, 1e-10);
});

test('noisy Gaussian encoder: one scalar frame matches the hand formulas', () => {
  // X ~ N(0, 2), M = X + N(0, 1): Var X~ = 4/3, mmse = 2/3, W2^2 = (sqrt 2 - sqrt(4/3))^2.
  const [r] = analyseGaussian({ kind: 'gaussian', frames: 1, mean: [0], cov: [[2]] }, { kind: 'noisy', noiseVar: [1] });
  close(r!.mmse, 2 / 3, 1e-12);
  close(r!.w2sq, (Math.SQRT2 - Math.sqrt(4 / 3)) ** 2, 1e-12);
  // Frame 2 sees both noisy messages of two strongly correlated frames: its MMSE is below frame 1's.
  const two = analyseGaussian({ kind: 'gaussian', frames: 2, mean: [0, 0], cov: [[1, 0.9], [0.9, 1]] }, { kind: 'noisy', noiseVar: [1, 1] });
  assert.ok(two[1]!.mmse < two[0]!.mmse);
  two.forEach((f) => assert.equal(f.fmd_within_factor_two, true));
});
