import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { applyUpdates, batchNorm, evalCtx, initBatchNorm, initSpectralNorm, leakyRelu, powerIterate, spectralNormalized, trainCtx } from '../src/models/layers.ts';
import { normalVar } from '../src/models/params.ts';
import { Rng } from '../src/rng.ts';

await initEngine({ backend: 'cpu' });

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('leakyRelu equals tfjs leakyRelu(0.2) and has a second derivative', () => {
  const x = tf.tensor1d([-3, -0.5, 0.25, 2]);
  close(leakyRelu(x).dataSync(), tf.leakyRelu(x, 0.2).dataSync(), 1e-6);
  const g2 = tf.grad((y: tf.Tensor) => tf.sum(tf.grad((z: tf.Tensor) => tf.sum(tf.mul(leakyRelu(z), z)))(y)))(x);
  // d/dx of d/dx (x * lrelu(x)) = 2 * slope
  close(g2.dataSync(), [0.4, 0.4, 2, 2], 1e-6);
});

test('batchNorm normalizes with batch stats in training and updates running stats; eval uses running stats', () => {
  const rng = new Rng(3);
  const x = tf.tensor(Float32Array.from({ length: 40 }, () => 5 + 2 * rng.normal()), [10, 2, 2, 1]);
  const p = initBatchNorm(1);
  const ctx = trainCtx();
  const y = batchNorm(p, x, ctx);
  close([tf.mean(y).dataSync()[0]!], [0], 1e-5);
  close([tf.moments(y).variance.dataSync()[0]!], [1], 1e-3);
  const before = p.mean.dataSync()[0]!;
  applyUpdates(ctx);
  const batchMean = tf.mean(x).dataSync()[0]!;
  close([p.mean.dataSync()[0]!], [0.9 * before + 0.1 * batchMean], 1e-5);
  const e = evalCtx();
  const ye = batchNorm(p, x, e);
  assert.equal(e.updates.length, 0);
  const { mean, variance } = { mean: p.mean.dataSync()[0]!, variance: p.variance.dataSync()[0]! };
  close(ye.dataSync(), Array.from(x.dataSync(), (v) => (v - mean) / Math.sqrt(variance + 1e-5)), 1e-4);
});

test('spectral normalization brings the largest singular value to 1', () => {
  const w = normalVar([3, 3, 2, 4], 1, 9, 1);
  const sn = initSpectralNorm(9, 2, 18, 4);
  for (let i = 0; i < 50; i++) powerIterate(w, sn);
  const m = tf.reshape(spectralNormalized(w, sn), [18, 4]) as tf.Tensor2D;
  // largest eigenvalue of M^T M by power iteration on the normalized matrix
  let v = tf.ones([4, 1]) as tf.Tensor2D;
  for (let i = 0; i < 200; i++) v = tf.div(tf.matMul(m, tf.matMul(m, v), true), tf.norm(tf.matMul(m, tf.matMul(m, v), true)));
  close([tf.norm(tf.matMul(m, v)).dataSync()[0]!], [1], 1e-3);
});
