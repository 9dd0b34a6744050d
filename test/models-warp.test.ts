import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { BLUR_SIGMA, gaussianBlur, scaleSpaceWarp } from '../src/models/warp.ts';
import { Rng } from '../src/rng.ts';
import { onBoth, type Result } from './engine-reference.ts';

const B = 2, H = 8, W = 16, C = 2;

/** Smooth random images: a few low-frequency waves per channel, values in about [0, 1]. */
function smoothImage(seed: number, b = B, h = H, w = W, c = C): tf.Tensor4D {
  const rng = new Rng(seed);
  const waves = Array.from({ length: b * c * 3 }, () => [rng.uniform() * 0.8, rng.uniform() * 0.8, rng.uniform() * 6, rng.uniform() * 0.3]);
  const data = new Float32Array(b * h * w * c);
  for (let n = 0; n < b; n++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) {
    let v = 0.5;
    for (let q = 0; q < 3; q++) {
      const [fy, fx, ph, a] = waves[(n * c + k) * 3 + q]!;
      v += a! * Math.sin(fy! * y + fx! * x + ph!);
    }
    data[((n * h + y) * w + x) * c + k] = v;
  }
  return tf.tensor4d(data, [b, h, w, c]);
}

/** A field with constant (dx, dy, s) in pixels and depth. */
const constantField = (px: number, py: number, s: number, b = B, h = H, w = W) =>
  tf.tensor4d(Float32Array.from({ length: b * h * w * 3 }, (_, i) => [(2 * px) / w, (2 * py) / h, s][i % 3]!), [b, h, w, 3]);

const at = (t: Result | { shape: number[]; data: ArrayLike<number> }, n: number, y: number, x: number, k: number) =>
  t.data[((n * t.shape[1]! + y) * t.shape[2]! + x) * t.shape[3]! + k]!;

test('identity flow at scale 0 returns the reference exactly, on cpu and wasm', async () => {
  const both = await onBoth(() => {
    const ref = smoothImage(1);
    return [ref, scaleSpaceWarp(ref, constantField(0, 0, 0))];
  });
  for (const [ref, out] of [both.cpu, both.wasm]) assert.deepEqual(Array.from(out!.data), Array.from(ref!.data));
});

test('integer pixel shifts move pixels exactly and clamp at the border', async () => {
  const both = await onBoth(() => {
    const ref = smoothImage(2);
    return [ref, scaleSpaceWarp(ref, constantField(3, -2, 0))];
  });
  for (const [ref, out] of [both.cpu, both.wasm]) {
    const clampTo = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
    for (let n = 0; n < B; n++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let k = 0; k < C; k++) {
      // output (y, x) reads ref (y - 2, x + 3): interior pixels move, the rest repeat the edge
      assert.equal(at(out!, n, y, x, k), at(ref!, n, clampTo(y - 2, H), clampTo(x + 3, W), k), `(${n}, ${y}, ${x}, ${k})`);
    }
  }
});

test('the blur level is the 11-tap Gaussian of sigma 1.5 with replicate padding', async () => {
  await initEngine({ backend: 'cpu' });
  const impulse = tf.buffer([1, 16, 16, 1]);
  impulse.set(1, 0, 8, 7, 0);
  const out = gaussianBlur(impulse.toTensor() as tf.Tensor4D).dataSync();
  const g = (d: number) => (Math.abs(d) > 5 ? 0 : Math.exp(-(d * d) / (2 * BLUR_SIGMA ** 2)));
  const norm = Array.from({ length: 11 }, (_, i) => g(i - 5)).reduce((a, b) => a + b, 0);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
    assert.ok(Math.abs(out[y * 16 + x]! - (g(y - 8) * g(x - 7)) / norm ** 2) < 1e-6, `(${y}, ${x})`);
  }
  // replicate padding: a constant image stays constant, up to rounding
  const flat = gaussianBlur(tf.fill([1, 16, 16, 1], 0.7) as tf.Tensor4D).dataSync();
  assert.ok(flat.every((v) => Math.abs(v - 0.7) < 1e-6));
});

test('scale s = 1 returns the blurred reference, s in between mixes linearly, s outside [0, 1] clamps', async () => {
  const both = await onBoth(() => {
    const ref = smoothImage(3);
    return [
      gaussianBlur(ref),
      scaleSpaceWarp(ref, constantField(0, 0, 1)),
      scaleSpaceWarp(ref, constantField(0, 0, 0.25)),
      scaleSpaceWarp(ref, constantField(0, 0, 7)),
      scaleSpaceWarp(ref, constantField(0, 0, -3)),
      ref,
    ];
  });
  const [blur, s1, sQuarter, sBig, sNeg, ref] = both.cpu;
  assert.deepEqual(Array.from(s1!.data), Array.from(blur!.data));
  assert.deepEqual(Array.from(sBig!.data), Array.from(blur!.data));
  assert.deepEqual(Array.from(sNeg!.data), Array.from(ref!.data));
  sQuarter!.data.forEach((v, i) => assert.ok(Math.abs(v - (0.75 * ref!.data[i]! + 0.25 * blur!.data[i]!)) < 1e-6));
  // the wasm kernel blurs on its own: it matches the cpu ops
  both.wasm[1]!.data.forEach((v, i) => assert.ok(Math.abs(v - blur!.data[i]!) < 1e-6, `${i}`));
});

/**
 * A field whose sample points lie strictly inside cells (fractional parts in [0.25, 0.75])
 * and inside the image, s in [0.2, 0.8]: within a cell the warp is linear in each of dx,
 * dy, s and in ref, so central differences are exact up to float32 rounding.
 */
function interiorField(seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const data = new Float32Array(B * H * W * 3);
  for (let p = 0; p < B * H * W; p++) {
    const x = p % W;
    const y = Math.floor(p / W) % H;
    const tx = rng.int(0, W - 2) + 0.25 + 0.5 * rng.uniform();
    const ty = rng.int(0, H - 2) + 0.25 + 0.5 * rng.uniform();
    data.set([((tx - x) * 2) / W, ((ty - y) * 2) / H, 0.2 + 0.6 * rng.uniform()], 3 * p);
  }
  return tf.tensor4d(data, [B, H, W, 3]);
}

test('gradients with respect to ref and field match central finite differences (cpu)', async () => {
  await initEngine({ backend: 'cpu' });
  const ref = smoothImage(4);
  const field = interiorField(5);
  const weights = smoothImage(6); // loss = sum(weights * warp): every output pixel matters
  const loss = (r: tf.Tensor4D, f: tf.Tensor4D) => tf.sum(tf.mul(weights, scaleSpaceWarp(r, f)));
  const [gRef, gField] = tf.grads((r: tf.Tensor, f: tf.Tensor) => loss(r as tf.Tensor4D, f as tf.Tensor4D))([ref, field]);
  const check = (x: tf.Tensor4D, grad: tf.Tensor, indices: number[], h: number, name: string) => {
    const values = x.dataSync();
    const analytic = grad.dataSync();
    for (const i of indices) {
      const shifted = (d: number) => {
        const v = values.slice();
        v[i]! += d;
        return tf.tensor4d(v, x.shape);
      };
      const [lp, lm] = name === 'ref' ? [loss(shifted(h), field), loss(shifted(-h), field)] : [loss(ref, shifted(h)), loss(ref, shifted(-h))];
      const numeric = (lp.dataSync()[0]! - lm.dataSync()[0]!) / (2 * h);
      assert.ok(Math.abs(numeric - analytic[i]!) <= 1e-2 * Math.abs(numeric) + 2e-3, `${name}[${i}]: numeric ${numeric}, autodiff ${analytic[i]}`);
    }
  };
  const rng = new Rng(7);
  check(ref, gRef!, Array.from({ length: 12 }, () => rng.int(0, ref.size - 1)), 0.05, 'ref');
  // h in field units: 0.1 px for dx, dy (fractional parts stay in [0.15, 0.85]), 0.1 for s
  const fieldIdx = Array.from({ length: 18 }, (_, k) => 3 * rng.int(0, B * H * W - 1) + (k % 3));
  for (const i of fieldIdx) check(field, gField!, [i], i % 3 === 0 ? 0.2 / W : i % 3 === 1 ? 0.2 / H : 0.1, 'field');
});

test('wasm kernels match the cpu op composition in value and gradients (1e-5), clamped coordinates included', async () => {
  const both = await onBoth(() => {
    const ref = smoothImage(8);
    const rng = new Rng(9);
    // flows up to 5 pixels: many samples clamp at the border; s on [-0.5, 1.5] clamps too
    const field = tf.tensor4d(Float32Array.from({ length: B * H * W * 3 }, (_, i) => (i % 3 === 2 ? rng.uniform() * 2 - 0.5 : ((rng.uniform() * 2 - 1) * 10) / W)), [B, H, W, 3]);
    const weights = smoothImage(10);
    const f = (r: tf.Tensor, fl: tf.Tensor) => tf.sum(tf.mul(weights, scaleSpaceWarp(r as tf.Tensor4D, fl as tf.Tensor4D)));
    const before = tf.memory().numTensors;
    const { value, grads: [gr, gf] } = tf.valueAndGrads(f)([ref, field]);
    // the backward pass frees what it saved and made: only the loss and the two gradients remain
    assert.equal(tf.memory().numTensors, before + 3);
    return [scaleSpaceWarp(ref, field), value, gr!, gf!];
  });
  both.cpu.forEach((ref, i) => {
    const got = both.wasm[i]!;
    assert.deepEqual(got.shape, ref.shape);
    const scale = Math.max(1, ...Array.from(ref.data, Math.abs));
    const err = ref.data.reduce((e, v, j) => Math.max(e, Math.abs(v - got.data[j]!)), 0);
    assert.ok(err <= 1e-5 * scale, `output ${i}: max error ${err} at magnitude ${scale}`);
  });
});
