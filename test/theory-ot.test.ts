import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sqDist, transport, transport1d, transportSimplex, w2sq, type Law } from '../src/theory/ot.ts';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b)), `${a} != ${b}`);
const runs = { numRuns: 150, seed: 20240605 };

/** Random finite laws on a small integer grid (so equal atoms occur), masses normalised. */
const law = (dim: number, maxAtoms = 6) =>
  fc
    .array(fc.record({ x: fc.array(fc.integer({ min: -3, max: 3 }), { minLength: dim, maxLength: dim }), w: fc.integer({ min: 1, max: 9 }) }), { minLength: 1, maxLength: maxAtoms })
    .map((atoms): Law => {
      const total = atoms.reduce((s, a) => s + a.w, 0);
      return { points: atoms.map((a) => a.x), mass: atoms.map((a) => a.w / total) };
    });

/** The law with equal atoms merged, as a sorted list of [key, mass]. */
function canonical(l: Law): [string, number][] {
  const m = new Map<string, number>();
  l.points.forEach((p, i) => m.set(p.join(','), (m.get(p.join(',')) ?? 0) + l.mass[i]!));
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
}
const sameLaw = (a: Law, b: Law) => {
  const ca = canonical(a), cb = canonical(b);
  return ca.length === cb.length && ca.every(([k, v], i) => k === cb[i]![0] && Math.abs(v - cb[i]![1]) < 1e-12);
};

function assertPlanMarginals(a: Law, b: Law, plan: { from: number; to: number; mass: number }[]) {
  const ra = new Array<number>(a.mass.length).fill(0), rb = new Array<number>(b.mass.length).fill(0);
  for (const e of plan) {
    assert.ok(e.mass > 0);
    ra[e.from]! += e.mass;
    rb[e.to]! += e.mass;
  }
  ra.forEach((v, i) => close(v, a.mass[i]!, 1e-12));
  rb.forEach((v, i) => close(v, b.mass[i]!, 1e-12));
}

test('W2^2 of two-point laws on the line matches the hand computation', () => {
  // Move 0.3 of mass from 0 to 1 (cost 0.3 * 1) and nothing else: the laws (0.8, 0.2) and (0.5, 0.5) on {0, 1}.
  const a: Law = { points: [[0], [1]], mass: [0.8, 0.2] }, b: Law = { points: [[0], [1]], mass: [0.5, 0.5] };
  close(w2sq(a, b), 0.3);
  close(transportSimplex(a, b).cost, 0.3);
  // A point mass against a law: the law's second moment about the point.
  close(w2sq({ points: [[0, 0]], mass: [1] }, { points: [[1, 0], [0, 2]], mass: [0.5, 0.5] }), 0.5 * 1 + 0.5 * 4);
});

test('transport plans have exactly the two given marginals', () => {
  fc.assert(
    fc.property(law(2, 8), law(2, 8), (a, b) => {
      assertPlanMarginals(a, b, transportSimplex(a, b).plan);
    }),
    runs,
  );
  fc.assert(fc.property(law(1, 8), law(1, 8), (a, b) => assertPlanMarginals(a, b, transport1d(a, b).plan)), runs);
});

test('transport simplex cost equals the 1-D quantile closed form', () => {
  fc.assert(fc.property(law(1, 8), law(1, 8), (a, b) => close(transportSimplex(a, b).cost, transport1d(a, b).cost, 1e-11)), runs);
});

test('transport simplex cost equals the best permutation for uniform laws of equal size', () => {
  const permutations = (n: number): number[][] => (n === 0 ? [[]] : permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, k) => [...p.slice(0, k), n - 1, ...p.slice(k)])));
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(...[0, 1].map(() => fc.array(fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 2, maxLength: 2 }), { minLength: n, maxLength: n })))),
      ([pa, pb]) => {
        const n = pa.length;
        const a: Law = { points: pa, mass: pa.map(() => 1 / n) }, b: Law = { points: pb, mass: pb.map(() => 1 / n) };
        const best = Math.min(...permutations(n).map((s) => s.reduce((t, j, i) => t + sqDist(pa[i]!, pb[j]!) / n, 0)));
        close(transportSimplex(a, b).cost, best, 1e-10);
      },
    ),
    { numRuns: 80, seed: 7 },
  );
});

test('W2 is symmetric', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 3 }).chain((d) => fc.tuple(law(d), law(d))), ([a, b]) => close(w2sq(a, b), w2sq(b, a), 1e-11)), runs);
});

test('W2 is zero exactly for equal laws', () => {
  // Half the pairs are one law written twice (atoms shuffled and split), half are independent draws.
  const same = law(2).chain((a) =>
    fc.tuple(fc.constant(a), fc.shuffledSubarray(a.points.map((_, i) => i), { minLength: a.points.length }), fc.double({ min: 0.1, max: 0.9, noNaN: true })).map(([a, order, split]): [Law, Law] => {
      const first = order[0]!;
      const b: Law = { points: order.map((i) => a.points[i]!), mass: order.map((i) => a.mass[i]! * (i === first ? split : 1)) };
      b.points.push(a.points[first]!);
      b.mass.push(a.mass[first]! * (1 - split));
      return [a, b];
    }),
  );
  fc.assert(
    fc.property(fc.oneof(same, fc.tuple(law(2), law(2))), ([a, b]) => {
      const w = w2sq(a, b);
      if (sameLaw(a, b)) assert.ok(w < 1e-12, `equal laws gave ${w}`);
      else assert.ok(w > 1e-9, `different laws gave ${w}`);
    }),
    runs,
  );
});

test('W2 (not squared) obeys the triangle inequality', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 }).chain((d) => fc.tuple(law(d), law(d), law(d))), ([a, b, c]) => {
      const w = (x: Law, y: Law) => Math.sqrt(w2sq(x, y));
      assert.ok(w(a, c) <= w(a, b) + w(b, c) + 1e-9);
    }),
    runs,
  );
});

test('transport dispatches 1-D laws to the monotone coupling', () => {
  const a: Law = { points: [[3], [0], [1]], mass: [0.3, 0.2, 0.5] }, b: Law = { points: [[2], [-1], [0.5]], mass: [0.1, 0.3, 0.6] };
  assert.deepEqual(transport(a, b), transport1d(a, b));
  close(transport(a, b).cost, 2.05);
});
