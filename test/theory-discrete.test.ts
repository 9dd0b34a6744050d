import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyseFmd, analyseJoint, frameLaw, jointDecoder, mmseFrame, valueKey, type DiscreteModel } from '../src/theory/discrete.ts';
import { counterexampleClosedForm, counterexampleModel, lowRateModel, lowRateSweep } from '../src/theory/families.ts';
import { discreteModel, parseSpec, type DiscreteSource } from '../src/theory/format.ts';
import { sqDist, transport } from '../src/theory/ot.ts';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b)), `${a} != ${b}`);

function model(spec: unknown): DiscreteModel {
  const s = parseSpec(spec);
  return discreteModel(s.source as DiscreteSource, s.encoder);
}

/** X_1 uniform on {0, 1}; X_2 = X_1 with probability 0.8. */
const binary = { support: [[[0], [0]], [[0], [1]], [[1], [0]], [[1], [1]]], p: [0.4, 0.1, 0.1, 0.4] };

test('binary source, M_1 constant and M_2 = X_2: hand-computed MMSE, W2^2, FMD and JD', () => {
  const r = analyseJoint(model({ source: binary, encoder: { messages: [['a', 0], ['a', 1], ['a', 0], ['a', 1]] } }));
  // Frame 1: X~_1 = 1/2, so mmse = W2^2(delta_1/2, Bern(1/2)) = 1/4 and JD = FMD = 1/2.
  // Frame 2: X~_2 = X_2 (mmse 0), but X*_2 must follow P(X_2 | X*_1): sum_x1 1/2 W2^2(Bern(1/2), Bern(0.2 or 0.8)) = 0.3.
  const expect = [
    { mmse: 0.25, w2sq: 0.25, fmd: 0.5, jd: 0.5 },
    { mmse: 0, w2sq: 0, fmd: 0, jd: 0.3 },
  ];
  r.forEach((f, j) => Object.entries(expect[j]!).forEach(([k, v]) => close(f[k as keyof typeof f] as number, v)));
  assert.deepEqual(r.map((f) => [f.fmd_within_factor_two, f.jd_within_factor_two]), [[true, true], [true, false]]);
});

test('binary source, M_1 = X_1 and M_2 constant: frame 2 is predicted from frame 1 only', () => {
  const [, f2] = analyseJoint(model({ source: binary, encoder: { messages: [[0, 's'], [0, 's'], [1, 's'], [1, 's']] } }));
  // X~_2 = E[X_2 | X_1] in {0.2, 0.8}: mmse = 0.16, W2^2 to Bern(1/2) = 0.2^2 = 0.04.
  // X*_1 = X_1, and given it X~_2 is a constant matched to P(X_2 | X_1): extra 0.16.
  close(f2!.mmse, 0.16);
  close(f2!.w2sq, 0.04);
  close(f2!.fmd, 0.2);
  close(f2!.jd!, 0.32);
});

test('shared randomness K enters the MMSE cells: hand-computed one-frame case', () => {
  // K = 0: M = X; K = 1: M constant. X~ = X or 1/2, each with probability 1/2.
  const [f] = analyseFmd(model({ source: { support: [[[0]], [[1]]], p: [0.5, 0.5] }, encoder: { k: { p: [0.5, 0.5], messages: [[[0], [1]], [[7], [7]]] } } }));
  close(f!.mmse, 0.125);
  close(f!.w2sq, 0.125); // the 1/2 atom (mass 1/2) splits to 0 and 1 at distance 1/2
  close(f!.fmd, 0.25);
});

/** Random small sources with random message tables, optionally with shared randomness. */
const randomModel = fc
  .record({ n: fc.integer({ min: 1, max: 6 }), frames: fc.integer({ min: 1, max: 3 }), dim: fc.integer({ min: 1, max: 2 }), ks: fc.integer({ min: 1, max: 2 }) })
  .chain(({ n, frames, dim, ks }) =>
    fc.record({
      support: fc.array(fc.array(fc.array(fc.integer({ min: -2, max: 2 }), { minLength: dim, maxLength: dim }), { minLength: frames, maxLength: frames }), { minLength: n, maxLength: n }),
      w: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: n, maxLength: n }),
      tables: fc.array(fc.array(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: frames, maxLength: frames }), { minLength: n, maxLength: n }), { minLength: ks, maxLength: ks }),
      kw: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: ks, maxLength: ks }),
    }),
  )
  .map(({ support, w, tables, kw }) => {
    const total = w.reduce((s, v) => s + v, 0), ktotal = kw.reduce((s, v) => s + v, 0);
    const source: DiscreteSource = { kind: 'discrete', support, p: w.map((v) => v / total) };
    return discreteModel(source, { kind: 'shared', p: kw.map((v) => v / ktotal), messages: tables });
  });
const runs = { numRuns: 100, seed: 31 };

test('the 0-PLF-FMD minimum never exceeds twice the MMSE distortion', () => {
  fc.assert(fc.property(randomModel, (m) => analyseFmd(m).forEach((f) => assert.ok(f.fmd_within_factor_two && f.fmd <= 2 * f.mmse + 1e-12, JSON.stringify(f)))), runs);
});

test('the FMD reconstruction drawn from the optimal coupling attains mmse + W2^2 (orthogonality, eq. 25)', () => {
  fc.assert(
    fc.property(randomModel, (m) => {
      analyseFmd(m).forEach((f, j) => {
        const { cells } = mmseFrame(m, j);
        const keys = [...cells.keys()];
        const target = frameLaw(m, j);
        const { plan } = transport({ points: keys.map((k) => cells.get(k)!.mean), mass: keys.map((k) => cells.get(k)!.mass) }, target);
        let d = 0;
        for (const s of m.states) {
          const c = keys.indexOf(s.cell[j]!);
          for (const e of plan) if (e.from === c) d += (s.p * e.mass) / cells.get(s.cell[j]!)!.mass * sqDist(s.x[j]!, target.points[e.to]!);
        }
        close(d, f.fmd, 1e-10);
      });
    }),
    runs,
  );
});

test('the JD decoder of Theorem B.1 has the source joint law and attains its formula', () => {
  fc.assert(
    fc.property(randomModel, (m) => {
      const { jd, direct, atoms } = jointDecoder(m);
      jd.forEach((v, j) => close(direct[j]!, v, 1e-10));
      // P(X*_1..X*_T) must equal P(X_1..X_T).
      const key = (x: number[][]) => x.map(valueKey).join('|');
      const want = new Map<string, number>(), got = new Map<string, number>();
      for (const s of m.states) want.set(key(s.x), (want.get(key(s.x)) ?? 0) + s.p);
      for (const a of atoms) got.set(key(a.out), (got.get(key(a.out)) ?? 0) + a.w);
      assert.equal(got.size, want.size);
      for (const [k, v] of want) close(got.get(k) ?? 0, v, 1e-10);
      // JD can never beat the unconstrained FMD optimum.
      analyseFmd(m).forEach((f, j) => assert.ok(jd[j]! >= f.fmd - 1e-10));
    }),
    runs,
  );
});

test('counterexample B.1: closed form on the +-1 source, and the recursion matches eq. (43) on random sources', () => {
  const pm = { kind: 'discrete' as const, support: [[[-1], [-1]], [[1], [1]]], p: [0.5, 0.5] };
  const r = analyseJoint(counterexampleModel(pm));
  // Eq. (41): 2 E[X_1^2] = 2. Eq. (43): sum_x1 1/2 W2^2(uniform{-1,1}, delta_x1) = 2, while the MMSE is 0.
  assert.deepEqual(r.map((f) => [f.mmse, f.jd]), [[1, 2], [0, 2]]);
  assert.deepEqual(counterexampleClosedForm(pm), [2, 2]);
  assert.equal(r[1]!.jd_within_factor_two, false);
  fc.assert(
    fc.property(randomModel, (m) => {
      if (m.frames < 2) return;
      const src: DiscreteSource = { kind: 'discrete', support: [], p: [] };
      for (const s of m.states) {
        src.support.push(s.x);
        src.p.push(s.p);
      }
      const got = analyseJoint(counterexampleModel(src)).map((f) => f.jd!);
      counterexampleClosedForm(src).forEach((v, j) => close(got[j]!, v, 1e-10));
    }),
    runs,
  );
});

test('low-rate family: the posterior is exactly (1 - mu) P_Xj + mu delta_Yj (eq. 44)', () => {
  const src = parseSpec({ source: binary }).source as DiscreteSource;
  const mu = 0.3;
  const m = lowRateModel(src, mu);
  for (let j = 0; j < m.frames; j++) {
    const prior = frameLaw(m, j);
    const byCell = new Map<string, typeof m.states>();
    for (const s of m.states) byCell.set(s.cell[j]!, [...(byCell.get(s.cell[j]!) ?? []), s]);
    for (const [cell, states] of byCell) {
      const y = (JSON.parse(cell) as string[])[j]!;
      const total = states.reduce((t, s) => t + s.p, 0);
      prior.points.forEach((x, i) => {
        const post = states.filter((s) => valueKey(s.x[j]!) === valueKey(x)).reduce((t, s) => t + s.p, 0) / total;
        close(post, (1 - mu) * prior.mass[i]! + (valueKey(x) === y ? mu : 0));
      });
    }
  }
});

test('low-rate family: JD/MMSE rises to 2 as mu goes to 0 (2 / (1 + mu) on a uniform bit)', () => {
  const bit = { kind: 'discrete' as const, support: [[[0]], [[1]]], p: [0.5, 0.5] };
  const mus = [0.5, 0.1, 0.01, 0.001];
  // Hand computation: X~ = (1 - mu)/2 + mu Y, mmse = (1 - mu^2)/4, W2^2 = (1 - mu)^2/4, so JD/MMSE = 2/(1 + mu).
  lowRateSweep(bit, mus).forEach((pt) => close(pt.frames[0]!.jd_over_mmse, 2 / (1 + pt.mu), 1e-12));
  // On a 3-frame Markov source every frame's ratio increases towards 2 and stays within O(mu) of it.
  const markov = parseSpec({ source: { support: [[[0], [0], [0]], [[0], [1], [1]], [[1], [1], [0]], [[1], [0], [0]]], p: [0.4, 0.1, 0.3, 0.2] } }).source as DiscreteSource;
  const sweep = lowRateSweep(markov, mus);
  for (let j = 0; j < 3; j++) {
    const ratios = sweep.map((pt) => pt.frames[j]!.jd_over_mmse);
    ratios.slice(1).forEach((r, k) => assert.ok(r > ratios[k]!, `frame ${j + 1}: ${ratios}`));
    sweep.forEach((pt, k) => assert.ok(Math.abs(ratios[k]! - 2) <= 4 * pt.mu, `frame ${j + 1}, mu ${pt.mu}: ${ratios[k]}`));
  }
});
