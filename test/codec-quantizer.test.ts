import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initEngine, tf } from '../src/engine/index.ts';
import { binWidth, decodeLatent, ditherAt, ditherTensor, encodeLatent, levels, quantizeTensor, SOFT_SIGMA } from '../src/codec/quantizer.ts';

await initEngine({ backend: 'cpu' });

test('levels are L evenly spaced points on [-1, 1] with both ends', () => {
  assert.deepEqual(Array.from(levels(2)), [-1, 1]);
  assert.deepEqual(Array.from(levels(3)), [-1, 0, 1]);
  const c = levels(9);
  assert.equal(c[0], -1);
  assert.equal(c[8], 1);
  for (let k = 1; k < 9; k++) assert.ok(Math.abs(c[k]! - c[k - 1]! - binWidth(9)) < 1e-6);
  assert.equal(binWidth(3), 1);
  assert.throws(() => levels(1), RangeError);
});

test('dither is a pure function of its keys, within half a bin, and differs across keys', () => {
  const L = 3;
  const w = binWidth(L);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const u = ditherAt(7, 2, i, L);
    assert.equal(u, ditherAt(7, 2, i, L));
    assert.ok(u >= -w / 2 && u <= w / 2, `u = ${u}`);
    seen.add(u);
  }
  assert.ok(seen.size > 1990);
  assert.notEqual(ditherAt(7, 2, 0, L), ditherAt(8, 2, 0, L));
  assert.notEqual(ditherAt(7, 2, 0, L), ditherAt(7, 3, 0, L));
});

test('every latent in [-1, 1] and beyond gets a symbol in [0, L) and decodes within half a bin', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 17 }), fc.array(fc.double({ min: -1.5, max: 1.5, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.nat(), fc.nat(), (L, z, seed, frame) => {
      const s = encodeLatent(z, L, seed, frame);
      const y = decodeLatent(s, L, seed, frame);
      const w = binWidth(L);
      z.forEach((zi, i) => {
        assert.ok(s[i]! < L);
        assert.equal(y[i], Math.fround(levels(L)[s[i]!]! - ditherAt(seed, frame, i, L)));
        const clamped = Math.max(-1, Math.min(1, zi));
        assert.ok(Math.abs(y[i]! - clamped) <= w / 2 + 1e-6, `z=${zi} y=${y[i]} L=${L}`);
      });
    }),
  );
  // The extremes of the tanh range stay in the outer bins.
  assert.deepEqual(Array.from(encodeLatent([-1, 1], 2, 0, 0)), [0, 1]);
});

test('the subtractive dither error is uniform over one bin, independent of the latent', () => {
  const L = 3;
  const w = binWidth(L);
  for (const z of [-1, -0.37, 0, 0.5, 1]) {
    const n = 20000;
    const zs = new Float64Array(n).fill(z);
    const y = decodeLatent(encodeLatent(zs, L, 11, 4), L, 11, 4);
    let mean = 0;
    let sq = 0;
    for (const v of y) {
      mean += (v - z) / n;
      sq += (v - z) ** 2 / n;
    }
    // Uniform on [-w/2, w/2]: mean 0, variance w^2/12 (standard error about 0.004 and 0.0008 here).
    assert.ok(Math.abs(mean) < 0.02, `z=${z} mean error ${mean}`);
    assert.ok(Math.abs(sq - w * w / 12) < 0.005, `z=${z} mean squared error ${sq}, expected ${w * w / 12}`);
  }
});

test('tensor dither and quantizer agree bit for bit with the scalar functions', () => {
  for (const L of [2, 3, 5]) {
    const zs = Float32Array.from({ length: 64 }, (_, i) => Math.fround(Math.tanh((i - 32) / 8)));
    zs[0] = -1;
    zs[1] = 1;
    // Rows are consecutive frames: row b of a batch from frame 1 is frame 1 + b.
    const u = ditherTensor(5, 1, [8, 8], L, 3);
    assert.deepEqual(Array.from(u.dataSync()), Array.from({ length: 64 }, (_, p) => ditherAt(5, 1 + Math.floor(p / 8), 3 + (p % 8), L)));
    const udirect = ditherTensor(5, 1, [1, 64], L);
    for (const mode of ['hard', 'train'] as const) {
      const y = quantizeTensor(tf.tensor2d(zs, [1, 64]), udirect, L, mode).dataSync();
      assert.deepEqual(Array.from(y), Array.from(decodeLatent(encodeLatent(zs, L, 5, 1), L, 5, 1)), `L=${L} ${mode}`);
    }
  }
});

test('gradients flow through the training proxy as the soft quantizer slope', () => {
  const L = 3;
  const z = tf.tensor1d([-0.9, -0.2, 0.05, 0.6]);
  // The dither is made inside the differentiated function, as in a training step.
  const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(quantizeTensor(x, ditherTensor(1, 0, [4], L), L, 'train'), tf.tensor1d([1, 2, 3, 4]))))(z).dataSync();
  const u = ditherTensor(1, 0, [4], L);
  // Reference: a central difference of s(x) = sum c softmax(-sigma |x - c|) at x = z + u.
  const c = Array.from(levels(L));
  const soft = (x: number) => {
    const e = c.map((ck) => Math.exp(-SOFT_SIGMA * Math.abs(x - ck)));
    return e.reduce((a, ek, k) => a + c[k]! * ek, 0) / e.reduce((a, b) => a + b, 0);
  };
  const zu = Array.from(tf.add(z, u).dataSync());
  zu.forEach((x, i) => {
    const slope = (soft(x + 1e-4) - soft(x - 1e-4)) / 2e-4;
    assert.ok(Math.abs(grad[i]! - (i + 1) * slope) < 1e-3, `element ${i}: grad ${grad[i]} vs ${(i + 1) * slope}`);
    assert.ok(Math.abs(grad[i]!) > 0.05, `gradient vanished at ${i}`);
  });
});
