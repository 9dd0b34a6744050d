import assert from 'node:assert/strict';

/** Every element within `tol` (absolute, scaled by max(1, |want|) when `relative`); names the first index that is not. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what = 'value', relative = false): void {
  assert.equal(got.length, want.length, `${what}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < got.length; i++) {
    const bound = relative ? tol * Math.max(1, Math.abs(want[i]!)) : tol;
    if (!(Math.abs(got[i]! - want[i]!) <= bound)) assert.fail(`${what}[${i}]: ${got[i]} vs ${want[i]} (tolerance ${bound})`);
  }
}

/** The largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
