import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initEngine } from '../src/engine/index.ts';
import { conv, dense, initConv, initDense, leakyRelu } from '../src/models/layers.ts';
import { startModuleWorker } from '../src/train/parallel.ts';
import { allReduceBuffer, drawRows, replicaRows } from '../src/train/replica.ts';

await initEngine({ backend: 'wasm' });

test('replicas split a batch into contiguous rows that differ in size by at most one', () => {
  for (const [batch, count] of [[4, 2], [5, 2], [64, 3], [7, 7]] as const) {
    const rows = Array.from({ length: count }, (_, k) => replicaRows(batch, k, count));
    assert.deepEqual(rows.map((r) => r.lo), rows.map((_, k) => (k === 0 ? 0 : rows[k - 1]!.lo + rows[k - 1]!.n)));
    assert.equal(rows.reduce((s, r) => s + r.n, 0), batch);
    assert.ok(Math.max(...rows.map((r) => r.n)) - Math.min(...rows.map((r) => r.n)) <= 1);
  }
});

test("a replica's random draws are the single-process draws of its rows", () => {
  const draws = (index: number, count: number) => {
    let i = 0;
    return drawRows({ index, count }, 5, 3, () => i++);
  };
  assert.deepEqual([...draws(0, 1)], Array.from({ length: 15 }, (_, i) => i));
  assert.deepEqual([...draws(0, 2), ...draws(1, 2)], [...draws(0, 1)]);
  assert.deepEqual([...draws(1, 2)], [6, 7, 8, 9, 10, 11, 12, 13, 14]);
});

test('for a network without BatchNorm, the row-weighted sum of the replicas\' gradients is the full-batch gradient', () => {
  const c1 = initConv(3, 1, 4, 1, 8);
  const c2 = initConv(3, 2, 4, 8, 8);
  const d = initDense(3, 3, 8 * 4 * 4, 3);
  const vars = [c1.w, c1.b, c2.w, c2.b, d.w, d.b];
  const batch = 5;
  const x = tf.randomNormal([batch, 16, 16, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
  const target = tf.randomNormal([batch, 3], 0, 1, 'float32', 8) as tf.Tensor2D;
  const grads = (lo: number, n: number) => tf.variableGrads(() => {
    const h = leakyRelu(conv(c2, leakyRelu(conv(c1, tf.slice(x, lo, n), 2)), 2));
    return tf.mean(tf.squaredDifference(dense(d, tf.reshape(h, [n, -1]) as tf.Tensor2D), tf.slice(target, lo, n))) as tf.Scalar;
  }, vars).grads;
  const whole = grads(0, batch);
  for (const count of [2, 3]) {
    const parts = Array.from({ length: count }, (_, k) => replicaRows(batch, k, count)).map(({ lo, n }) => ({ g: grads(lo, n), w: n / batch }));
    for (const v of vars) {
      const want = whole[v.name]!.dataSync();
      const got = new Float32Array(want.length);
      for (const { g, w } of parts) g[v.name]!.dataSync().forEach((gi, i) => (got[i] += gi * w));
      const scale = Math.max(...want.map(Math.abs));
      const err = Math.max(...got.map((gi, i) => Math.abs(gi - want[i]!))) / scale;
      assert.ok(err < 1e-5, `${v.name} with ${count} replicas: max relative error ${err}`);
    }
  }
});

/** Run an all-reduce over `count` worker threads; each answers its result or its error. */
async function reduceOnThreads(count: number, length: number, failing?: number): Promise<{ flat?: Float32Array; error?: string }[]> {
  const buffer = allReduceBuffer(count, 1000);
  const url = new URL('./support/all-reduce-worker.ts', import.meta.url);
  return Promise.all(Array.from({ length: count }, (_, index) => new Promise<{ flat?: Float32Array; error?: string }>((resolve, reject) => {
    const w = startModuleWorker(url, { buffer, index, count, weight: replicaRows(12, index, count).n / 12, length, failing });
    w.once('message', (m) => void w.terminate().then(() => resolve(m)));
    w.once('error', reject);
  })));
}

test('the all-reduce over threads gives every replica the same weighted sum, in chunks larger than a slot too', async () => {
  const length = 2500;
  const results = await reduceOnThreads(3, length);
  const weights = [0, 1, 2].map((k) => replicaRows(12, k, 3).n / 12);
  let worst = 0;
  for (let i = 0; i < length; i++) {
    const want = weights.reduce((s, w, k) => s + w * (Math.fround(Math.sin(0.001 * i * (k + 1)) + k)), 0);
    worst = Math.max(worst, Math.abs(results[0]!.flat![i]! - want));
  }
  assert.ok(worst < 1e-6, `max error ${worst}`);
  for (const r of results.slice(1)) assert.deepEqual(r.flat, results[0]!.flat);
});

test('a replica that gives up stops every other replica with its message instead of a wait', async () => {
  const results = await reduceOnThreads(3, 1000, 1);
  for (const r of results) assert.equal(r.error, 'replica 2 gave up');
});
