import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { ditherTensor, quantizeTensor } from '../src/codec/quantizer.ts';
import type { RateName } from '../src/codec/rates.ts';
import { evalCtx, trainCtx } from '../src/models/layers.ts';
import { disposeParams, flattenParams, trainableVariables } from '../src/models/params.ts';
import {
  decodeFlow, decodeFrame, encodeContent, encodeMotion, initPFrameDecoder, initPFrameEncoder, pframeConfigFor,
  type PFrameDecoderConfig,
} from '../src/models/pframe.ts';
import { scaleSpaceWarp } from '../src/models/warp.ts';
import { Rng } from '../src/rng.ts';

await initEngine({ backend: 'cpu' });

const SIZE = 16;
const WIDTHS = [4, 6];
const frames = (b: number, seed: number, ch = 1) => {
  const rng = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: b * SIZE * SIZE * ch }, () => rng.uniform()), [b, SIZE, SIZE, ch]);
};

test('pframeConfigFor takes the latents from the rate table; at rate inf there is no encoder, only a decoder reading the frame', () => {
  const c = pframeConfigFor(WIDTHS, '3.17', SIZE);
  assert.deepEqual([c.motion, c.content, c.kernel, c.contextWidth], [{ dims: 1, levels: 3 }, { dims: 1, levels: 3 }, 5, 4]);
  assert.equal(pframeConfigFor(WIDTHS, '1', SIZE).content, null);
  assert.deepEqual(pframeConfigFor([128, 128, 128, 128], '12').motion, { dims: 6, levels: 2 });
  const inf = pframeConfigFor(WIDTHS, 'inf', SIZE);
  assert.deepEqual([inf.motion, inf.content], [null, null]);
  assert.throws(() => initPFrameEncoder(inf, 1), /no encoder/);
  const jd = initPFrameDecoder({ ...inf, extraFrames: 1 }, 1);
  const y = decodeFrame(jd, { ...inf, extraFrames: 1 }, null, null, frames(2, 5), frames(2, 6), evalCtx());
  assert.deepEqual(y.shape, [2, SIZE, SIZE, 1]);
});

test('every network has the shapes of its rate at rates 1, 2, 3.17 and 12', () => {
  for (const rate of ['1', '2', '3.17', '12'] as RateName[]) {
    const c: PFrameDecoderConfig = { ...pframeConfigFor(WIDTHS, rate, SIZE, 3), extraFrames: 0 };
    const enc = initPFrameEncoder(c, 1);
    const dec = initPFrameDecoder(c, 1);
    const x = frames(2, 1);
    const ref = frames(2, 2);
    const zm = encodeMotion(enc, x, ref, evalCtx());
    assert.deepEqual(zm.shape, [2, c.motion!.dims], rate);
    assert.ok(zm.dataSync().every((v) => v > -1 && v < 1));
    const u = tf.zerosLike(zm) as tf.Tensor2D;
    const field = decodeFlow(enc, c, zm, u, evalCtx());
    assert.deepEqual(field.shape, [2, SIZE, SIZE, 3]);
    // the flow head starts near zero: the prediction starts as (nearly) the reference
    assert.ok(tf.max(tf.abs(field)).dataSync()[0]! < 0.1, `${rate}: initial field too large`);
    const pred = scaleSpaceWarp(ref, field);
    let y: tf.Tensor4D;
    if (c.content) {
      const zc = encodeContent(enc, x, pred, evalCtx());
      assert.deepEqual(zc.shape, [2, c.content.dims]);
      y = decodeFrame(dec, c, zc, tf.zerosLike(zc) as tf.Tensor2D, pred, null, evalCtx());
    } else {
      assert.equal(enc.content, undefined);
      assert.throws(() => encodeContent(enc, x, pred, evalCtx()), /no content latent/);
      y = decodeFrame(dec, c, null, null, pred, null, evalCtx());
    }
    assert.deepEqual(y.shape, [2, SIZE, SIZE, 1]);
    assert.ok(y.dataSync().every((v) => v > 0 && v < 1));
    disposeParams(enc);
    disposeParams(dec);
  }
});

test('a full forward pass through quantizers and warp gives finite non-zero gradients to every trainable variable', () => {
  const rate = '4';
  const c: PFrameDecoderConfig = { ...pframeConfigFor(WIDTHS, rate, SIZE, 3), extraFrames: 1 };
  const enc = initPFrameEncoder(c, 3);
  const dec = initPFrameDecoder(c, 3);
  // batch 4: with one latent dimension and batch 2, BatchNorm maps the pair to +-1 and passes no gradient
  const b = 4;
  const x = frames(b, 3);
  const ref = frames(b, 4);
  const extra = frames(b, 5);
  const L = c.motion!.levels;
  const um = ditherTensor(1, 0, [b, c.motion!.dims], L) as tf.Tensor2D;
  const uc = ditherTensor(1, 0, [b, c.content!.dims], L, c.motion!.dims) as tf.Tensor2D;
  const vars = [...trainableVariables(enc), ...trainableVariables(dec)];
  const ctx = trainCtx();
  const { value, grads } = tf.variableGrads(() => {
    const zm = quantizeTensor(encodeMotion(enc, x, ref, ctx), um, L, 'train');
    const pred = scaleSpaceWarp(ref, decodeFlow(enc, c, zm, um, ctx));
    const zc = quantizeTensor(encodeContent(enc, x, pred, ctx), uc, L, 'train');
    const y = decodeFrame(dec, c, zc, uc, pred, extra, ctx);
    return tf.mean(tf.squaredDifference(y, x)) as tf.Scalar;
  }, vars);
  assert.ok(Number.isFinite(value.dataSync()[0]));
  const names = new Map([...flattenParams(enc, 'enc'), ...flattenParams(dec, 'dec')].map(([n, v]) => [v.name, n]));
  assert.equal(Object.keys(grads).length, vars.length);
  for (const [id, g] of Object.entries(grads)) {
    const data = g.dataSync();
    assert.ok(data.every(Number.isFinite), `non-finite gradient for ${names.get(id)}`);
    assert.ok(data.some((v) => v !== 0), `zero gradient for ${names.get(id)}`);
  }
  // running statistics are collected, not trained
  assert.ok(ctx.updates.length > 0);
});

test('a JD decoder with two extra frames reads them, and refuses a wrong number of frames', () => {
  const c: PFrameDecoderConfig = { ...pframeConfigFor(WIDTHS, '2', SIZE, 3), extraFrames: 2 };
  const dec = initPFrameDecoder(c, 4);
  assert.deepEqual(dec.context.blocks.b0!.w.shape, [5, 5, 3, 3]);
  const pred = frames(2, 6);
  const zq = tf.tensor2d([[0.4], [-0.6]]);
  const u = tf.tensor2d([[0.1], [-0.2]]);
  const y1 = decodeFrame(dec, c, zq, u, pred, frames(2, 7, 2), evalCtx());
  const y2 = decodeFrame(dec, c, zq, u, pred, frames(2, 8, 2), evalCtx());
  assert.deepEqual(y1.shape, [2, SIZE, SIZE, 1]);
  // the output depends on the extra frames
  assert.ok(tf.max(tf.abs(tf.sub(y1, y2))).dataSync()[0]! > 1e-4);
  assert.throws(() => decodeFrame(dec, c, zq, u, pred, null, evalCtx()), /2 extra frames/);
  assert.throws(() => decodeFrame(dec, c, zq, u, pred, frames(2, 9, 1), evalCtx()), /2 extra frames/);
});

test('init is deterministic by seed, with distinct layer keys for every network', () => {
  const c: PFrameDecoderConfig = { ...pframeConfigFor(WIDTHS, '12', SIZE, 3), extraFrames: 1 };
  const values = (seed: number) =>
    [...flattenParams(initPFrameEncoder(c, seed), 'enc'), ...flattenParams(initPFrameDecoder(c, seed), 'dec')].map(([n, v]) => [n, Array.from(v.dataSync())] as const);
  const a = values(5);
  assert.deepEqual(values(5), a);
  assert.notDeepEqual(values(6), a);
  // no two weight tensors of one seed start alike (each layer has its own key)
  const weights = a.filter(([n]) => n.endsWith('.w')).map(([, v]) => v.slice(0, 4).join());
  assert.equal(new Set(weights).size, weights.length);
});
