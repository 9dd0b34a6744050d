import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, uniformAt } from '../src/rng.ts';

test('the same keys give the same stream and different keys a different one', () => {
  const a = new Rng(7, 1), b = new Rng(7, 1), c = new Rng(7, 2);
  const xa = Array.from({ length: 8 }, () => a.nextU32());
  assert.deepEqual(xa, Array.from({ length: 8 }, () => b.nextU32()));
  assert.notDeepEqual(xa, Array.from({ length: 8 }, () => c.nextU32()));
  assert.equal(uniformAt(1, 2, 3), uniformAt(1, 2, 3));
  assert.notEqual(uniformAt(1, 2, 3), uniformAt(1, 2, 4));
});

test('uniform draws fill [0, 1) evenly and ints stay in their closed range', () => {
  const r = new Rng(42);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 10)]++;
  }
  for (const n of bins) assert.ok(Math.abs(n - 10_000) < 500, `bin count ${n}`);
  for (let i = 0; i < 1000; i++) {
    const k = r.int(-4, 4);
    assert.ok(Number.isInteger(k) && k >= -4 && k <= 4);
  }
});
