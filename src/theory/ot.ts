/**
 * Exact optimal transport between finite laws in R^n under squared Euclidean cost, so
 * W2^2 and its optimal coupling are exact numbers (no entropic smoothing).
 * - 1-D: the monotone (quantile) coupling, which is optimal for convex costs.
 * - n-D: the transportation simplex (MODI potentials on a spanning-tree basis) with real
 *   masses, made cycle-free by the classic epsilon perturbation of the supplies.
 */

/** A finite law: atoms (vectors of one dimension) and their non-negative masses. */
export interface Law {
  points: number[][];
  mass: number[];
}

/** One entry of a transport plan: `mass` moves from atom `from` of the first law to atom `to` of the second. */
export interface PlanEntry {
  from: number;
  to: number;
  mass: number;
}

export interface Transport {
  cost: number;
  plan: PlanEntry[];
}

export function sqDist(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k]! - b[k]!) ** 2;
  return s;
}

/** Optimal coupling of `a` and `b` (equal total mass) for the cost |x - y|^2. */
export function transport(a: Law, b: Law): Transport {
  const dim = a.points[0]?.length ?? b.points[0]?.length ?? 0;
  return dim === 1 ? transport1d(a, b) : transportSimplex(a, b);
}

/** W2^2(a, b), exact. */
export function w2sq(a: Law, b: Law): number {
  return transport(a, b).cost;
}

/** The monotone coupling: walk both laws in increasing order, matching mass as it comes. */
export function transport1d(a: Law, b: Law): Transport {
  const ia = order(a), ib = order(b);
  const plan: PlanEntry[] = [];
  let cost = 0;
  let i = 0, j = 0;
  let ra = a.mass[ia[0]!] ?? 0, rb = b.mass[ib[0]!] ?? 0;
  while (i < ia.length && j < ib.length) {
    const m = Math.min(ra, rb);
    const from = ia[i]!, to = ib[j]!;
    if (m > 0) {
      plan.push({ from, to, mass: m });
      cost += m * (a.points[from]![0]! - b.points[to]![0]!) ** 2;
    }
    ra -= m;
    rb -= m;
    // Advance the exhausted side; at the last atom of one law, keep draining the other.
    if (ra <= rb && i < ia.length - 1) ra = a.mass[ia[++i]!]!;
    else if (j < ib.length - 1) rb = b.mass[ib[++j]!]!;
    else if (i < ia.length - 1) ra = a.mass[ia[++i]!]!;
    else break;
  }
  return { cost, plan };
}

function order(law: Law): number[] {
  return law.mass.map((_, k) => k).sort((x, y) => law.points[x]![0]! - law.points[y]![0]!);
}

/** A basic variable's value x0 + x1*eps (eps: the perturbation, infinitesimal). */
interface Basic {
  i: number;
  j: number;
  x0: number;
  x1: number;
}

/**
 * Transportation simplex. Supplies are perturbed to a_i + eps and the last demand to
 * b_n + m*eps (Charnes' perturbation): every basis is then non-degenerate, so each pivot
 * strictly lowers the (lexicographic) cost and the method cannot cycle.
 */
export function transportSimplex(a: Law, b: Law): Transport {
  const m = a.mass.length, n = b.mass.length;
  if (m === 0 || n === 0) return { cost: 0, plan: [] };
  const c = a.points.map((p) => b.points.map((q) => sqDist(p, q)));
  let maxCost = 0;
  for (const row of c) for (const v of row) maxCost = Math.max(maxCost, v);
  const costTol = 1e-13 * Math.max(1, maxCost);
  const massTol = 1e-15;
  const less = (p0: number, p1: number, q0: number, q1: number) => p0 < q0 - massTol || (Math.abs(p0 - q0) <= massTol && p1 < q1);

  // North-west corner start on the perturbed masses: exactly m + n - 1 cells, a spanning tree.
  const basis: Basic[] = [];
  let ra0 = a.mass[0]!, ra1 = 1, rb0 = b.mass[0]!, rb1 = n === 1 ? m : 0;
  for (let i = 0, j = 0; ; ) {
    const takeA = !less(rb0, rb1, ra0, ra1); // min(ra, rb) is ra
    const x0 = takeA ? ra0 : rb0, x1 = takeA ? ra1 : rb1;
    basis.push({ i, j, x0, x1 });
    ra0 -= x0; ra1 -= x1; rb0 -= x0; rb1 -= x1;
    if (i === m - 1 && j === n - 1) break;
    if (j === n - 1 || (i < m - 1 && takeA)) {
      i++;
      ra0 = a.mass[i]!; ra1 = 1;
    } else {
      j++;
      rb0 = b.mass[j]!; rb1 = j === n - 1 ? m : 0;
    }
  }

  const maxPivots = 50 * (m + n) * (m + n) + 1000;
  const u = new Float64Array(m), v = new Float64Array(n);
  for (let pivot = 0; ; pivot++) {
    if (pivot > maxPivots) throw new Error(`transport simplex did not converge in ${maxPivots} pivots`);
    const adj = treeAdjacency(basis, m, n);
    potentials(basis, adj, c, u, v, m);
    let best = -costTol, bi = -1, bj = -1;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const rc = c[i]![j]! - u[i]! - v[j]!;
        if (rc < best) { best = rc; bi = i; bj = j; }
      }
    }
    if (bi < 0) break;
    // The cycle: entering cell (+), then the tree path from column bj back to row bi (-, +, -, ...).
    const path = treePath(basis, adj, m + bj, bi, m);
    let leave = -1;
    for (let k = 0; k < path.length; k += 2) {
      const e = basis[path[k]!]!;
      if (leave < 0 || less(e.x0, e.x1, basis[leave]!.x0, basis[leave]!.x1)) leave = path[k]!;
    }
    const t0 = basis[leave]!.x0, t1 = basis[leave]!.x1;
    path.forEach((e, k) => {
      const sign = k % 2 === 0 ? -1 : 1;
      basis[e]!.x0 += sign * t0;
      basis[e]!.x1 += sign * t1;
    });
    basis[leave] = { i: bi, j: bj, x0: t0, x1: t1 };
  }

  const plan: PlanEntry[] = [];
  let cost = 0;
  for (const e of basis) {
    if (e.x0 <= 0) continue;
    plan.push({ from: e.i, to: e.j, mass: e.x0 });
    cost += e.x0 * c[e.i]![e.j]!;
  }
  return { cost, plan };
}

/** Node ids: rows 0..m-1, columns m..m+n-1; each node lists the basis cells touching it. */
function treeAdjacency(basis: Basic[], m: number, n: number): number[][] {
  const adj: number[][] = Array.from({ length: m + n }, () => []);
  basis.forEach((e, k) => {
    adj[e.i]!.push(k);
    adj[m + e.j]!.push(k);
  });
  return adj;
}

function potentials(basis: Basic[], adj: number[][], c: number[][], u: Float64Array, v: Float64Array, m: number): void {
  const seen = new Uint8Array(adj.length);
  const stack = [0];
  seen[0] = 1;
  u[0] = 0;
  while (stack.length) {
    const node = stack.pop()!;
    for (const k of adj[node]!) {
      const e = basis[k]!;
      const other = node < m ? m + e.j : e.i;
      if (seen[other]) continue;
      seen[other] = 1;
      if (node < m) v[e.j] = c[e.i]![e.j]! - u[e.i]!;
      else u[e.i] = c[e.i]![e.j]! - v[e.j]!;
      stack.push(other);
    }
  }
}

/** Basis cells on the tree path from node `start` to node `goal`, in order from `start`. */
function treePath(basis: Basic[], adj: number[][], start: number, goal: number, m: number): number[] {
  const via = new Int32Array(adj.length).fill(-1);
  const seen = new Uint8Array(adj.length);
  const stack = [start];
  seen[start] = 1;
  while (stack.length) {
    const node = stack.pop()!;
    if (node === goal) break;
    for (const k of adj[node]!) {
      const e = basis[k]!;
      const other = node < m ? m + e.j : e.i;
      if (seen[other]) continue;
      seen[other] = 1;
      via[other] = k;
      stack.push(other);
    }
  }
  const path: number[] = [];
  for (let node = goal; node !== start; ) {
    const k = via[node]!;
    path.push(k);
    const e = basis[k]!;
    node = node < m ? m + e.j : e.i;
  }
  return path.reverse();
}
