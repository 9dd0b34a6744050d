import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { binWidth, levels, quantizeTensor } from '../src/codec/quantizer.ts';
import { critic, criticLoss, initCritic, updateSpectralNorms } from '../src/models/critic.ts';
import { decode, encode, initDecoder, initEncoder, type IFrameConfig } from '../src/models/iframe.ts';
import { evalCtx, trainCtx } from '../src/models/layers.ts';
import { flattenParams, trainableVariables } from '../src/models/params.ts';
import { Rng } from '../src/rng.ts';

await initEngine({ backend: 'cpu' });

const cfg: IFrameConfig = { widths: [4, 8], size: 16, dims: 12 };
const frames = (b: number, size: number, seed: number, ch = 1) => {
  const rng = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: b * size * size * ch }, () => rng.uniform()), [b, size, size, ch]);
};

test('I-frame codec maps frames to tanh latents and back to frames in (0,1) of the same shape', () => {
  const enc = initEncoder(cfg, 1);
  const dec = initDecoder(cfg, 1);
  const z = encode(enc, frames(3, 16, 1), evalCtx());
  assert.deepEqual(z.shape, [3, 12]);
  assert.ok(z.dataSync().every((v) => v > -1 && v < 1));
  const u = tf.fill([3, 12], 0.3) as tf.Tensor2D;
  const zq = quantizeTensor(z, u, 2, 'hard');
  // L=2: levels {-1, 1}; the decoder sees level - u
  const lv = levels(2);
  assert.ok(Array.from(zq.dataSync()).every((v) => lv.some((c) => Math.abs(c - 0.3 - v) < 1e-6)));
  const x = decode(dec, cfg, zq, u, evalCtx());
  assert.deepEqual(x.shape, [3, 16, 16, 1]);
  assert.ok(x.dataSync().every((v) => v > 0 && v < 1));
  assert.equal(binWidth(2), 2);
});

test('paper widths give the paper layer shapes: 64x64 -> 4x4x512 -> 1x1 latent', () => {
  const enc = initEncoder({ widths: [64, 128, 256, 512], size: 64, dims: 12 }, 1);
  const shapes = Object.fromEntries(flattenParams(enc).map(([n, v]) => [n, v.shape]));
  assert.deepEqual(shapes['blocks.b0.conv.w'], [4, 4, 1, 64]);
  assert.deepEqual(shapes['blocks.b3.conv.w'], [4, 4, 256, 512]);
  assert.deepEqual(shapes['latent.w'], [4 * 4 * 512, 12]);
  for (const [, v] of flattenParams(enc)) v.dispose();
});

test('quantizer in train mode passes gradient to every encoder weight', () => {
  const enc = initEncoder(cfg, 2);
  const dec = initDecoder(cfg, 2);
  const x = frames(4, 16, 2);
  const u = tf.fill([4, 12], 0.1) as tf.Tensor2D;
  const { grads } = tf.variableGrads(() => {
    const ctx = trainCtx();
    const y = decode(dec, cfg, quantizeTensor(encode(enc, x, ctx), u, 2, 'train'), u, ctx);
    return tf.mean(tf.squaredDifference(y, x)) as tf.Scalar;
  }, trainableVariables(enc));
  for (const [name, g] of Object.entries(grads)) assert.ok(tf.max(tf.abs(g)).dataSync()[0]! > 0, `zero gradient for ${name}`);
});

test('joint critic (2 frames as channels, spectral norm): the gradient-penalty gradient matches finite differences', () => {
  const c = initCritic({ widths: [3, 4], size: 8, frames: 2, spectralNorm: true }, 5);
  updateSpectralNorms(c);
  const real = frames(3, 8, 3, 2);
  const fake = frames(3, 8, 4, 2);
  const eps = tf.tensor4d([0.2, 0.5, 0.9], [3, 1, 1, 1]);
  const w = c.blocks.b0!.conv.w;
  const lossAt = () => criticLoss(c, real, fake, eps).loss.dataSync()[0]!;
  const { grads } = tf.variableGrads(() => criticLoss(c, real, fake, eps).loss, [w]);
  const analytic = grads[w.name]!.dataSync();
  const values = w.dataSync().slice();
  const h = 2e-3;
  for (const i of [0, 7, 20]) {
    const plus = values.slice(); plus[i]! += h;
    const minus = values.slice(); minus[i]! -= h;
    w.assign(tf.tensor(plus, w.shape)); const lp = lossAt();
    w.assign(tf.tensor(minus, w.shape)); const lm = lossAt();
    w.assign(tf.tensor(values, w.shape));
    const numeric = (lp - lm) / (2 * h);
    assert.ok(Math.abs(numeric - analytic[i]!) <= 0.05 * Math.abs(numeric) + 2e-3, `weight ${i}: numeric ${numeric}, autodiff ${analytic[i]}`);
  }
  assert.deepEqual(critic(c, real).shape, [3]);
});
