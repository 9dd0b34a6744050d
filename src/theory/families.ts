/**
 * Encoders built from a discrete source by construction: the counterexample of Appendix
 * B.1 and the low-rate (noisy) family of Theorem 3.3 / eq. (44).
 */
import { UserError } from '../errors.ts';
import { analyseJoint, frameLaw, valueKey, type DiscreteModel, type FrameReport } from './discrete.ts';
import type { DiscreteSource } from './format.ts';
import { transport, type Law } from './ot.ts';

/**
 * Appendix B.1 on the first two frames: M_1 is a constant (independent of X_1), M_2 = X_2.
 * Then X~_1 = E[X_1], X~_2 = X_2, and the 0-PLF-JD decoder must keep frame 2 consistent
 * with its own guess X*_1, which carries no information about X_1.
 */
export function counterexampleModel(source: DiscreteSource): DiscreteModel {
  if (source.support[0]!.length < 2) throw new UserError('source.support: the counterexample needs at least 2 frames');
  return {
    frames: 2,
    dim: source.support[0]![0]!.length,
    states: source.support
      .map((x, i) => ({ p: source.p[i]!, x: x.slice(0, 2), cell: ['[]', JSON.stringify([valueKey(x[1]!)])] }))
      .filter((s) => s.p > 0),
  };
}

/**
 * The paper's closed forms for the counterexample: frame 1, eq. (41): 2 E||X_1 - E X_1||^2
 * (the paper's 2 E[X_1^2] for a zero-mean source); frame 2, eq. (43):
 * sum_{x1} P(x1) W2^2(P_{X_2}, P_{X_2 | X_1 = x1}), while its MMSE distortion is 0.
 */
export function counterexampleClosedForm(source: DiscreteSource): [number, number] {
  const model = counterexampleModel(source);
  const law1 = frameLaw(model, 0);
  const mean = law1.points[0]!.map((_, k) => law1.points.reduce((s, x, i) => s + law1.mass[i]! * x[k]!, 0));
  const var1 = law1.points.reduce((s, x, i) => s + law1.mass[i]! * x.reduce((t, v, k) => t + (v - mean[k]!) ** 2, 0), 0);
  const law2 = frameLaw(model, 1);
  let frame2 = 0;
  law1.points.forEach((x1, i) => {
    const given = model.states.filter((s) => valueKey(s.x[0]!) === valueKey(x1));
    const cond: Law = { points: given.map((s) => s.x[1]!), mass: given.map((s) => s.p / law1.mass[i]!) };
    frame2 += law1.mass[i]! * transport(law2, cond).cost;
  });
  return [2 * var1, frame2];
}

/**
 * The low-rate family of eq. (44), built causally from a discrete source. The encoder draws
 * once, privately, B ~ Bernoulli(mu) and a decoy sequence X' ~ P_X independent of X, and
 * sends M_j = Y_j with Y = X if B = 1, else Y = X'. Since P(Y_{1:j} = y) = P_X(y), the
 * posterior is exactly
 *   P(X_j | M_1..M_j) = (1 - mu) P_{X_j} + mu * delta_{Y_j},
 * i.e. eq. (44) with Q = delta_{Y_j}, whose average over Y is P_{X_j} as required.
 */
export function lowRateModel(source: DiscreteSource, mu: number): DiscreteModel {
  if (!(mu > 0 && mu <= 1)) throw new UserError(`--mu values must lie in (0, 1], got ${mu}`);
  const { support, p } = source;
  const cells = (y: number[][]) => y.map((_, j) => JSON.stringify(y.slice(0, j + 1).map(valueKey)));
  const states = support.flatMap((x, i) => [
    { p: p[i]! * mu, x, cell: cells(x) },
    ...support.map((y, d) => ({ p: p[i]! * (1 - mu) * p[d]!, x, cell: cells(y) })),
  ]);
  return { frames: support[0]!.length, dim: support[0]![0]!.length, states: states.filter((s) => s.p > 0) };
}

export interface LowRatePoint {
  mu: number;
  frames: (FrameReport & { jd_over_mmse: number })[];
}

/** Sweep mu: as mu -> 0 the 0-PLF-JD distortion of Theorem B.1 approaches 2 x MMSE (Theorem 3.3). */
export function lowRateSweep(source: DiscreteSource, mus: number[]): LowRatePoint[] {
  return mus.map((mu) => ({
    mu,
    frames: analyseJoint(lowRateModel(source, mu)).map((r) => ({ ...r, jd_over_mmse: r.jd! / r.mmse })),
  }));
}
