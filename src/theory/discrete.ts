/**
 * Exact fixed-encoder analysis of a finite source (paper section 3, appendices A and B).
 *
 * A model is a finite list of states, each with a probability, its T frames and, per frame
 * j, a key naming what the decoder knows after frame j: (K, M_1, ..., M_j). States that
 * differ only in the encoder's private randomness share values but not keys, so stochastic
 * encoders (the low-rate family) fit the same representation.
 */
import { sqDist, transport, type Law } from './ot.ts';

export interface State {
  p: number;
  /** x[j]: frame j (a vector in R^dim). */
  x: number[][];
  /** cell[j]: the decoder's knowledge (K, M_1..M_j) after frame j, as a string key. */
  cell: string[];
}

export interface DiscreteModel {
  frames: number;
  dim: number;
  states: State[];
}

export interface FrameReport {
  frame: number;
  /** E||X_j - X~_j||^2 with X~_j = E[X_j | M_1..M_j, K]. */
  mmse: number;
  /** W2^2(P_{X~_j}, P_{X_j}). */
  w2sq: number;
  /** Minimum distortion under 0-PLF-FMD (Theorem 3.2): mmse + w2sq. */
  fmd: number;
  /** Achievable distortion under 0-PLF-JD (Theorem B.1), where computed. */
  jd?: number;
  fmd_within_factor_two: boolean;
  jd_within_factor_two?: boolean;
}

/** Relative slack for "<= 2 * mmse" comparisons of computed numbers. */
const SLACK = 1e-9;
export const withinFactorTwo = (d: number, mmse: number) => d <= 2 * mmse * (1 + SLACK) + 1e-15;

export const valueKey = (v: readonly number[]) => v.join(',');

/** The MMSE reconstruction of frame j: one atom per decoder cell, and its distortion. */
export function mmseFrame(model: DiscreteModel, j: number): { cells: Map<string, { mass: number; mean: number[] }>; mmse: number } {
  const cells = new Map<string, { mass: number; mean: number[] }>();
  for (const s of model.states) {
    let c = cells.get(s.cell[j]!);
    if (!c) cells.set(s.cell[j]!, (c = { mass: 0, mean: new Array<number>(model.dim).fill(0) }));
    c.mass += s.p;
    s.x[j]!.forEach((v, k) => (c.mean[k]! += s.p * v));
  }
  for (const c of cells.values()) c.mean = c.mean.map((v) => v / c.mass);
  let mmse = 0;
  for (const s of model.states) mmse += s.p * sqDist(s.x[j]!, cells.get(s.cell[j]!)!.mean);
  return { cells, mmse };
}

/** The law of frame j, equal values merged. */
export function frameLaw(model: DiscreteModel, j: number): Law {
  return lawOf(model.states.map((s) => [s.x[j]!, s.p]));
}

function lawOf(weighted: Iterable<[number[], number]>): Law {
  const index = new Map<string, number>();
  const law: Law = { points: [], mass: [] };
  for (const [x, p] of weighted) {
    const key = valueKey(x);
    const k = index.get(key);
    if (k === undefined) {
      index.set(key, law.points.length);
      law.points.push(x);
      law.mass.push(p);
    } else law.mass[k]! += p;
  }
  return law;
}

/** Per frame: MMSE, W2^2 to the source marginal, the 0-PLF-FMD minimum (Theorem 3.2). */
export function analyseFmd(model: DiscreteModel): FrameReport[] {
  const out: FrameReport[] = [];
  for (let j = 0; j < model.frames; j++) {
    const { cells, mmse } = mmseFrame(model, j);
    const recon: Law = { points: [...cells.values()].map((c) => c.mean), mass: [...cells.values()].map((c) => c.mass) };
    const w = transport(recon, frameLaw(model, j)).cost;
    out.push({ frame: j + 1, mmse, w2sq: w, fmd: mmse + w, fmd_within_factor_two: withinFactorTwo(mmse + w, mmse) });
  }
  return out;
}

/** One atom of the joint law of (state, X*_1..X*_j) built by the JD decoder. */
export interface JointAtom {
  state: number;
  /** The decoder's outputs so far. */
  out: number[][];
  w: number;
}

export interface JointDecoder {
  /** Theorem B.1 per frame: mmse_j + sum over histories of P(history) W2^2(conditional laws). */
  jd: number[];
  /** E||X_j - X*_j||^2 measured on the constructed joint law (equals `jd` by orthogonality). */
  direct: number[];
  /** The final joint law of (state, X*_1..X*_T). */
  atoms: JointAtom[];
}

/**
 * The 0-PLF-JD reconstruction of Theorem B.1 for T frames. At frame j, for each history
 * X*_{1:j-1} = h of the decoder's outputs, couple the law of X~_j given h optimally with
 * P_{X_j | X_{1:j-1} = h} (eq. 31), then draw X*_j from that coupling given X~_j. X* then
 * depends on the source only through (M, K), and P_{X*_{1:j}} = P_{X_{1:j}} for every j.
 */
export function jointDecoder(model: DiscreteModel): JointDecoder {
  const { states } = model;
  let atoms: JointAtom[] = states.map((s, state) => ({ state, out: [], w: s.p }));
  const jd: number[] = [], direct: number[] = [];
  for (let j = 0; j < model.frames; j++) {
    const { cells, mmse } = mmseFrame(model, j);
    const targets = conditionalTargets(model, j);
    const byHistory = groupBy(atoms, (a) => a.out.map(valueKey).join('|'));
    const next: JointAtom[] = [];
    let extra = 0, measured = 0;
    for (const [history, group] of byHistory) {
      const target = targets.get(history)!;
      const byCell = groupBy(group, (a) => states[a.state]!.cell[j]!);
      const cellKeys = [...byCell.keys()];
      const cellMass = cellKeys.map((k) => byCell.get(k)!.reduce((s, a) => s + a.w, 0));
      const groupMass = cellMass.reduce((s, v) => s + v, 0);
      const targetTotal = target.mass.reduce((s, v) => s + v, 0);
      const source: Law = { points: cellKeys.map((k) => cells.get(k)!.mean), mass: cellMass };
      const goal: Law = { points: target.points, mass: target.mass.map((v) => (v / targetTotal) * groupMass) };
      const { cost, plan } = transport(source, goal);
      extra += cost;
      for (const e of plan) {
        const share = e.mass / cellMass[e.from]!;
        for (const a of byCell.get(cellKeys[e.from]!)!) {
          const x = goal.points[e.to]!;
          const w = a.w * share;
          next.push({ state: a.state, out: [...a.out, x], w });
          measured += w * sqDist(states[a.state]!.x[j]!, x);
        }
      }
    }
    jd.push(mmse + extra);
    direct.push(measured);
    atoms = next;
  }
  return { jd, direct, atoms };
}

/** For each history h of frames 1..j-1 (as a key), the unnormalised law of X_j given X_{1:j-1} = h. */
function conditionalTargets(model: DiscreteModel, j: number): Map<string, Law> {
  const groups = groupBy(model.states, (s) => s.x.slice(0, j).map(valueKey).join('|'));
  const out = new Map<string, Law>();
  for (const [key, group] of groups) out.set(key, lawOf(group.map((s) => [s.x[j]!, s.p])));
  return out;
}

function groupBy<T>(items: Iterable<T>, key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const g = m.get(k);
    if (g) g.push(t);
    else m.set(k, [t]);
  }
  return m;
}

/** FMD reports with the Theorem B.1 JD distortion added. */
export function analyseJoint(model: DiscreteModel): FrameReport[] {
  const { jd } = jointDecoder(model);
  return analyseFmd(model).map((r, j) => ({ ...r, jd: jd[j]!, jd_within_factor_two: withinFactorTwo(jd[j]!, r.mmse) }));
}
