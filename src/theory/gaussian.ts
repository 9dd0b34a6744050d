/**
 * Gaussian sources under two built-in encoders (docs/theory.md says what is exact):
 * - `noisy`: M_j = X_j + N_j, N_j ~ N(0, noise_var[j] I). X~_j is Gaussian, so MMSE is a
 *   trace and W2^2 is the Bures closed form; exact up to linear algebra rounding.
 * - `quantizer`: M_j = round(X_j / step_j) for scalar frames, T <= 2. X~_j is discrete
 *   (one atom per cell) and P_{X_j} is Gaussian, so W2^2 is the 1-D quantile integral,
 *   summed in closed form cell by cell with normal partial moments. Frame 1 is closed form
 *   throughout; frame 2 integrates X_1 over each cell by Gauss-Legendre quadrature.
 */
import { UserError } from '../errors.ts';
import { withinFactorTwo, type FrameReport } from './discrete.ts';
import type { GaussianSource } from './format.ts';

// ---------- the standard normal ----------

const SQRT2 = Math.SQRT2;
const INV_SQRT2PI = 1 / Math.sqrt(2 * Math.PI);

export const normPdf = (t: number) => (Number.isFinite(t) ? INV_SQRT2PI * Math.exp(-0.5 * t * t) : 0);

/** erfc(z) for z >= 0: Taylor series of erf below 2, Lentz continued fraction above (~1e-15). */
function erfcPos(z: number): number {
  if (z < 2) {
    let term = z, sum = z;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
  const tiny = 1e-300;
  let f = z, c = z, d = 0;
  for (let n = 1; n < 300; n++) {
    const a = n / 2;
    d = z + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = z + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/** Upper tail P(Z > t), accurate in both tails. */
export function normTail(t: number): number {
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  return t >= 0 ? 0.5 * erfcPos(t / SQRT2) : 1 - 0.5 * erfcPos(-t / SQRT2);
}

/** P(lo < Z < hi), without cancellation in either tail. */
export function normMass(lo: number, hi: number): number {
  if (lo >= 0) return normTail(lo) - normTail(hi);
  if (hi <= 0) return normTail(-hi) - normTail(-lo);
  return 1 - normTail(hi) - normTail(-lo);
}

/** The t with P(Z < t) = p (Acklam's approximation, then two Newton steps on normTail). */
function normQuantileLower(p: number): number {
  if (p <= 0) return -Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  let t: number;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    t = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else {
    const q = p - 0.5, r = q * q;
    t = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  }
  for (let k = 0; k < 2; k++) t -= (normTail(-t) - p) / normPdf(t);
  return t;
}

/** The quantile at a cut with mass `below` under it and `above` over it (the smaller side decides). */
const quantileAtCut = (below: number, above: number) => (below <= above ? normQuantileLower(below) : -normQuantileLower(above));

/** Integral over [lo, hi] of (d - s t)^2 phi(t) dt, i.e. E[(d - s Z)^2; lo < Z < hi]. */
function partialSq(d: number, s: number, lo: number, hi: number): number {
  const tphi = (t: number) => (Number.isFinite(t) ? t * normPdf(t) : 0);
  const mass = normMass(lo, hi);
  return d * d * mass - 2 * d * s * (normPdf(lo) - normPdf(hi)) + s * s * (mass + tphi(lo) - tphi(hi));
}

/**
 * W2^2 between a discrete law on the line and N(mean, sd^2): the quantile coupling sends
 * the normal's mass between consecutive cumulative cuts to each atom in order.
 */
export function w2sqDiscreteNormal(points: number[], mass: number[], mean: number, sd: number): number {
  const idx = points.map((_, k) => k).sort((x, y) => points[x]! - points[y]!);
  const total = mass.reduce((s, v) => s + v, 0);
  let below = 0, lo = -Infinity, out = 0;
  idx.forEach((k, r) => {
    below += mass[k]! / total;
    const hi = r === idx.length - 1 ? Infinity : quantileAtCut(below, Math.max(0, 1 - below));
    out += partialSq(points[k]! - mean, sd, lo, hi);
    lo = hi;
  });
  return out;
}

// ---------- the scalar uniform quantizer ----------

const SPAN = 12; // standard deviations covered; the mass beyond is below 1e-32
const MAX_CELLS = 100_000;

/** Cell boundaries (k - 1/2) step .. (k + 1/2) step covering mean +- SPAN sd, outer cells unbounded. */
function cellEdges(mean: number, sd: number, step: number, field: string): number[] {
  const k0 = Math.floor((mean - SPAN * sd) / step), k1 = Math.ceil((mean + SPAN * sd) / step);
  if (k1 - k0 > MAX_CELLS) throw new UserError(`${field}: step ${step} is too small for sd ${sd} (more than ${MAX_CELLS} cells)`);
  const edges = [-Infinity];
  for (let k = k0; k <= k1; k++) edges.push((k + 0.5) * step);
  edges[edges.length - 1] = Infinity;
  return edges;
}

/** 20-point Gauss-Legendre nodes and weights on [-1, 1], by Newton on the Legendre recurrence. */
const GL = (() => {
  const n = 20, x: number[] = [], w: number[] = [];
  for (let i = 1; i <= n; i++) {
    let z = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5)), dp = 0;
    for (let it = 0; it < 100; it++) {
      let p0 = 1, p1 = z;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * z * p1 - (k - 1) * p0) / k];
      dp = (n * (z * p1 - p0)) / (z * z - 1);
      const dz = p1 / dp;
      z -= dz;
      if (Math.abs(dz) < 1e-16) break;
    }
    x.push(z);
    w.push(2 / ((1 - z * z) * dp * dp));
  }
  return { x, w };
})();

export interface Atoms {
  points: number[];
  mass: number[];
}

/** Frame 1 of a quantized N(mean, sd^2): the MMSE atoms (truncated means) and the distortion. */
export function quantizeFrame1(mean: number, sd: number, step: number): { atoms: Atoms; mmse: number } {
  const edges = cellEdges(mean, sd, step, 'encoder.quantizer.step[0]');
  const atoms: Atoms = { points: [], mass: [] };
  let mmse = 0;
  for (let c = 0; c + 1 < edges.length; c++) {
    const lo = (edges[c]! - mean) / sd, hi = (edges[c + 1]! - mean) / sd;
    const m = normMass(lo, hi);
    if (m <= 0) continue;
    const d = (sd * (normPdf(lo) - normPdf(hi))) / m; // E[X | cell] - mean
    atoms.points.push(mean + d);
    atoms.mass.push(m);
    mmse += partialSq(d, sd, lo, hi);
  }
  return { atoms, mmse };
}

/**
 * Frame 2 of a quantized bivariate normal (X_1, X_2): X~_2 = E[X_2 | cell of X_1, cell of X_2].
 * Per cell of X_1, the integrals over x_1 of P(X_2 in cell | x_1) and of its first moment
 * are done by Gauss-Legendre on sub-intervals short against the conditional's scale.
 */
export function quantizeFrame2(mean: [number, number], cov: [[number, number], [number, number]], step: [number, number]): { atoms: Atoms; mmse: number } {
  const [m1, m2] = mean;
  const s1 = Math.sqrt(cov[0][0]), slope = cov[0][1] / cov[0][0];
  const tau = Math.sqrt(cov[1][1] - cov[0][1] * slope);
  const edges1 = cellEdges(m1, s1, step[0], 'encoder.quantizer.step[0]');
  const edges2 = cellEdges(m2, Math.sqrt(cov[1][1]), step[1], 'encoder.quantizer.step[1]');
  const width = Math.min(s1 / 4, Math.abs(slope) > 0 ? tau / Math.abs(slope) / 4 : Infinity);
  const cells = new Map<string, { mass: number; first: number }>();
  for (let c1 = 0; c1 + 1 < edges1.length; c1++) {
    const a = Math.max(edges1[c1]!, m1 - SPAN * s1), b = Math.min(edges1[c1 + 1]!, m1 + SPAN * s1);
    if (!(a < b)) continue;
    const pieces = Math.ceil((b - a) / width);
    for (let q = 0; q < pieces; q++) {
      const pa = a + ((b - a) * q) / pieces, half = (b - a) / pieces / 2;
      GL.x.forEach((z, g) => {
        const x1 = pa + half * (z + 1);
        const weight = half * GL.w[g]! * normPdf((x1 - m1) / s1) / s1;
        const mu = m2 + slope * (x1 - m1);
        // Only the X_2 cells within SPAN conditional sd of mu carry mass.
        const lo = mu - SPAN * tau, hi = mu + SPAN * tau;
        for (let c2 = 0; c2 + 1 < edges2.length; c2++) {
          if (edges2[c2 + 1]! <= lo || edges2[c2]! >= hi) continue;
          const al = (edges2[c2]! - mu) / tau, be = (edges2[c2 + 1]! - mu) / tau;
          const pm = normMass(al, be);
          const key = `${c1},${c2}`;
          let cell = cells.get(key);
          if (!cell) cells.set(key, (cell = { mass: 0, first: 0 }));
          cell.mass += weight * pm;
          cell.first += weight * ((mu - m2) * pm + tau * (normPdf(al) - normPdf(be)));
        }
      });
    }
  }
  // Orthogonality: E(X_2 - X~_2)^2 = Var X_2 - Var X~_2.
  const atoms: Atoms = { points: [], mass: [] };
  let explained = 0;
  for (const { mass, first } of cells.values()) {
    if (mass <= 0) continue;
    atoms.points.push(m2 + first / mass);
    atoms.mass.push(mass);
    explained += (first * first) / mass;
  }
  return { atoms, mmse: cov[1][1] - explained };
}

// ---------- linear algebra for the noisy encoder ----------

type Matrix = number[][];

const mul = (a: Matrix, b: Matrix): Matrix => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const transpose = (a: Matrix): Matrix => a[0]!.map((_, j) => a.map((row) => row[j]!));
const trace = (a: Matrix) => a.reduce((s, row, i) => s + row[i]!, 0);
const block = (a: Matrix, r0: number, r1: number, c0: number, c1: number): Matrix => a.slice(r0, r1).map((row) => row.slice(c0, c1));

/** Cholesky factor L (A = L L^T); throws if A is not positive definite. */
function cholesky(a: Matrix, field: string): Matrix {
  const n = a.length;
  const l: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      if (i === j) {
        if (!(s > 0)) throw new UserError(`${field}: covariance is not positive definite`);
        l[i]![i] = Math.sqrt(s);
      } else l[i]![j] = s / l[j]![j]!;
    }
  }
  return l;
}

/** Solve A X = B for symmetric positive definite A. */
function solveSpd(a: Matrix, b: Matrix, field: string): Matrix {
  const l = cholesky(a, field), n = a.length;
  return transpose(b).map((col) => {
    const y = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) y[i] = (col[i]! - l[i]!.slice(0, i).reduce((s, v, k) => s + v * y[k]!, 0)) / l[i]![i]!;
    const x = new Array<number>(n).fill(0);
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let k = i + 1; k < n; k++) s -= l[k]![i]! * x[k]!;
      x[i] = s / l[i]![i]!;
    }
    return x;
  }).reduce<Matrix>((acc, x) => (acc.length ? acc.map((row, i) => [...row, x[i]!]) : x.map((v) => [v])), []);
}

/** Symmetric eigendecomposition by cyclic Jacobi rotations: A = V diag(values) V^T. */
function eigSym(a: Matrix): { values: number[]; vectors: Matrix } {
  const n = a.length;
  const m = a.map((row) => [...row]);
  const v: Matrix = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p]![q]! ** 2;
    if (off < 1e-30 * Math.max(1, trace(m.map((r) => r.map((x) => x * x))))) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (m[p]![q] === 0) continue;
        const theta = (m[q]![q]! - m[p]![p]!) / (2 * m[p]![q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k]![p]!, mkq = m[k]![q]!;
          m[k]![p] = c * mkp - s * mkq;
          m[k]![q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p]![k]!, mqk = m[q]![k]!;
          m[p]![k] = c * mpk - s * mqk;
          m[q]![k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!, vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: m.map((row, i) => row[i]!), vectors: v };
}

/** Principal square root of a symmetric positive semi-definite matrix (rounding negatives to 0). */
export function sqrtPsd(a: Matrix): Matrix {
  const { values, vectors } = eigSym(a);
  const scaled = vectors.map((row) => row.map((x, k) => x * Math.sqrt(Math.max(0, values[k]!))));
  return mul(scaled, transpose(vectors));
}

/** W2^2 between N(m1, S1) and N(m2, S2): |m1 - m2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2). */
export function w2sqGaussian(m1: number[], s1: Matrix, m2: number[], s2: Matrix): number {
  const r = sqrtPsd(s1);
  const cross = sqrtPsd(mul(mul(r, s2), r));
  const meanPart = m1.reduce((s, v, i) => s + (v - m2[i]!) ** 2, 0);
  return Math.max(0, meanPart + trace(s1) + trace(s2) - 2 * trace(cross));
}

// ---------- per-frame reports ----------

function report(frame: number, mmse: number, w2sq: number): FrameReport {
  return { frame, mmse, w2sq, fmd: mmse + w2sq, fmd_within_factor_two: withinFactorTwo(mmse + w2sq, mmse) };
}

/** MMSE, W2^2 and the 0-PLF-FMD minimum per frame for a Gaussian source. */
export function analyseGaussian(source: GaussianSource, enc: { kind: 'quantizer'; step: number[] } | { kind: 'noisy'; noiseVar: number[] }): FrameReport[] {
  const { frames, mean, cov } = source;
  const n = mean.length / frames;
  cholesky(cov, 'source.gaussian.cov');
  if (enc.kind === 'quantizer') {
    if (n !== 1 || frames > 2) throw new UserError(`encoder.quantizer: the quantizer example supports scalar frames and at most 2 frames (got ${frames} frames of dimension ${n})`);
    const sd = [Math.sqrt(cov[0]![0]!), Math.sqrt(cov[frames - 1]![frames - 1]!)];
    const f1 = quantizeFrame1(mean[0]!, sd[0]!, enc.step[0]!);
    const out = [report(1, f1.mmse, w2sqDiscreteNormal(f1.atoms.points, f1.atoms.mass, mean[0]!, sd[0]!))];
    if (frames === 2) {
      const f2 = quantizeFrame2([mean[0]!, mean[1]!], [[cov[0]![0]!, cov[0]![1]!], [cov[1]![0]!, cov[1]![1]!]], [enc.step[0]!, enc.step[1]!]);
      out.push(report(2, f2.mmse, w2sqDiscreteNormal(f2.atoms.points, f2.atoms.mass, mean[1]!, sd[1]!)));
    }
    return out;
  }
  const out: FrameReport[] = [];
  for (let j = 0; j < frames; j++) {
    const upto = (j + 1) * n;
    // Cov(M_{1:j}) = Cov(X_{1:j}) + noise; Cov(X~_j) = C_{j,1:j} Cov(M_{1:j})^{-1} C_{1:j,j}.
    const cm = block(cov, 0, upto, 0, upto).map((row, i) => row.map((v, k) => (i === k ? v + enc.noiseVar[Math.floor(i / n)]! : v)));
    const cross = block(cov, 0, upto, j * n, upto);
    const explained = mul(transpose(cross), solveSpd(cm, cross, 'source.gaussian.cov'));
    const cj = block(cov, j * n, upto, j * n, upto);
    const mj = mean.slice(j * n, upto);
    out.push(report(j + 1, trace(cj) - trace(explained), w2sqGaussian(mj, explained, mj, cj)));
  }
  return out;
}
