import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { registerKernelPack } from '../src/engine/kernel-pack.ts';
import { Rng } from '../src/rng.ts';
import { assertAllClose, assertClose, onBoth, randn } from './engine-reference.ts';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  batch: number;
  height: number;
  width: number;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  strides: [number, number];
  pad: Pad;
}

/** A seeded sample of the grid: batch 1-4, channels 1-16, sizes 5-17, kernels 1/3/4/5, strides 1/2, all paddings. */
function sampleCases(count: number, seed: number): ConvCase[] {
  const rng = new Rng(seed);
  const pick = <T>(xs: T[]): T => xs[rng.int(0, xs.length - 1)];
  return Array.from({ length: count }, () => {
    const kh = pick([1, 3, 4, 5]);
    const kw = rng.uniform() < 0.7 ? kh : pick([1, 3, 4, 5]);
    const s = pick([1, 2]);
    const padKind = pick(['same', 'valid', 'same', 'valid', 'explicit']);
    const pad: Pad =
      padKind === 'explicit' ? [[0, 0], [rng.int(0, 2), rng.int(0, 2)], [rng.int(0, 2), rng.int(0, 2)], [0, 0]] : (padKind as 'same' | 'valid');
    return {
      batch: rng.int(1, 4),
      height: rng.int(5, 17),
      width: rng.int(5, 17),
      cin: rng.int(1, 16),
      cout: rng.int(1, 16),
      kh,
      kw,
      strides: rng.uniform() < 0.15 ? [s, 3 - s] : [s, s],
      pad,
    };
  });
}

const backpropFilter = (x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], strides: number | [number, number], pad: Pad) =>
  tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides, pad, dataFormat: 'NHWC', filterShape }) as tf.Tensor;

/** The filter with d-1 zeros between taps: a dilated convolution as an undilated one. */
function dilateFilter(w: tf.Tensor4D, d: number): tf.Tensor4D {
  const [k, , c, m] = w.shape;
  const spread = tf.pad(tf.reshape(w, [k, 1, k, 1, c, m]), [[0, 0], [0, d - 1], [0, 0], [0, d - 1], [0, 0], [0, 0]]);
  return tf.slice(tf.reshape(spread, [k * d, k * d, c, m]) as tf.Tensor4D, 0, [(k - 1) * d + 1, (k - 1) * d + 1, c, m]);
}

const describe = (c: ConvCase) =>
  `b${c.batch} ${c.height}x${c.width}x${c.cin}->${c.cout} k${c.kh}x${c.kw} s${c.strides} ${JSON.stringify(c.pad)}`;

test('conv2d input and filter gradients match the cpu reference over a seeded sample of the grid', async () => {
  for (const [i, c] of sampleCases(48, 2024).entries()) {
    const both = await onBoth(() => {
      const x = randn([c.batch, c.height, c.width, c.cin], 1, i) as tf.Tensor4D;
      const w = randn([c.kh, c.kw, c.cin, c.cout], 2, i) as tf.Tensor4D;
      const y = tf.conv2d(x, w, c.strides, c.pad);
      const dy = randn(y.shape, 3, i) as tf.Tensor4D;
      return [
        y,
        tf.conv2dTranspose(dy, w, x.shape, c.strides, c.pad),
        backpropFilter(x, dy, w.shape, c.strides, c.pad),
      ];
    });
    assertAllClose(both, describe(c));
  }
});

test('stride-2 same padding at even sizes (the asymmetric case of the reference autoencoder) matches cpu', async () => {
  for (const k of [4, 5]) {
    const both = await onBoth(() => {
      // 20 input channels: wide enough for the block copy when interleaving phases.
      const x = randn([2, 16, 16, 20], 4, k) as tf.Tensor4D;
      const w = randn([k, k, 20, 24], 5, k) as tf.Tensor4D;
      const dy = randn([2, 8, 8, 24], 6, k) as tf.Tensor4D;
      return [tf.conv2dTranspose(dy, w, x.shape, 2, 'same'), backpropFilter(x, dy, w.shape, 2, 'same')];
    });
    assertAllClose(both, `k${k}`);
  }
});

test('few-tap layers (fh*fw*Cin <= Cout: im2col and matmul paths) match cpu, batches of pixels not a multiple of 64', async () => {
  const cases: { x: [number, number, number, number]; k: number; cout: number; strides: number; pad: 'same' | 'valid' }[] = [
    { x: [3, 13, 11, 1], k: 5, cout: 32, strides: 1, pad: 'same' },
    { x: [2, 16, 16, 1], k: 5, cout: 25, strides: 2, pad: 'same' },
    { x: [2, 9, 10, 2], k: 3, cout: 20, strides: 2, pad: 'valid' },
  ];
  for (const [i, c] of cases.entries()) {
    const both = await onBoth(() => {
      const x = randn(c.x, 20, i) as tf.Tensor4D;
      const w = randn([c.k, c.k, c.x[3], c.cout], 21, i) as tf.Tensor4D;
      const dy = randn(tf.conv2d(x, w, c.strides, c.pad).shape, 22, i) as tf.Tensor4D;
      return [tf.conv2dTranspose(dy, w, x.shape, c.strides, c.pad), backpropFilter(x, dy, w.shape, c.strides, c.pad)];
    });
    assertAllClose(both, JSON.stringify(c));
  }
});

test('sum over a run of outer axes (bias gradients) and every other sum match cpu', async () => {
  const both = await onBoth(() => {
    const x = randn([4, 5, 6, 20], 30);
    const bias = randn([20], 31);
    const [db] = tf.grads((b: tf.Tensor) => tf.sum(tf.mul(tf.add(x, b), x)))([bias]);
    return [
      db,
      tf.sum(x, [0, 1, 2]),
      tf.sum(x, [1, 0], true),
      tf.sum(x, 0),
      tf.sum(randn([7, 3], 32), [-2]),
      tf.sum(randn([1, 5], 33), 0), // one row: the backend's kernel
      tf.sum(randn([32, 16, 16, 1], 34), [0, 1, 2]), // one column, 8192 rows
      tf.sum(x, [1, 2]), // a run of middle axes
      tf.sum(x, [2, 1], true),
      tf.sum(x, [0, 2]), // not a run: the backend's kernel
      tf.sum(x, [2, 3]), // innermost: the backend's kernel
      tf.sum(x),
      tf.cast(tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 0), 'float32'),
    ];
  });
  assertAllClose(both, 'sum');
});

test('mean over a run of outer axes (BatchNorm statistics) and every other mean match cpu, gradients included', async () => {
  const both = await onBoth(() => {
    const x = randn([4, 5, 6, 20], 40);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const [dx] = tf.grads((v: tf.Tensor) => tf.sum(tf.mul(tf.moments(v, [0, 1, 2]).variance, randn([20], 41))))([x]);
    return [
      mean, variance, dx,
      tf.mean(x, [1, 0], true),
      tf.mean(randn([7, 3], 42), 0), // a dense layer's BatchNorm
      tf.mean(randn([1, 5], 43), 0), // one row: the backend's kernel
      tf.mean(x, [1, 2]), // a run of middle axes
      tf.mean(x, [0, 2]), // not a run: the backend's kernel
      tf.mean(x, [2, 3]), // innermost: the backend's kernel
      tf.mean(x),
    ];
  });
  assertAllClose(both, 'mean');
});

test('concat and split along the channel axis (and every other axis and dtype) equal cpu, gradients included', async () => {
  const both = await onBoth(() => {
    const a = randn([2, 5, 6, 16], 40);
    const b = randn([2, 5, 6, 1], 41);
    const c = randn([2, 5, 6, 3], 42);
    const joined = tf.concat([a, b, c], 3);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.concat([x, y], -1), tf.concat([b, a], 3))))([a, b]);
    return [
      joined,
      ...tf.split(joined, [16, -1, 3], 3),
      ...tf.split(randn([3, 7, 8], 43), 4, -1),
      tf.concat([randn([4, 2], 44), randn([4, 0], 45), randn([4, 5], 46)], 1), // an empty input
      tf.concat([a, a], 0), // not the last axis: the backend's kernels
      ...tf.split(joined, [1, 1], 0),
      tf.cast(tf.concat([tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor2d([5, 6], [2, 1], 'int32')], 1), 'float32'),
      ga!, gb!,
    ];
  });
  assertAllClose(both, 'channels');
});

test('clone and same-dtype cast on wasm share data under a reference count: each handle outlives the other and no buffer leaks', async () => {
  await initEngine({ backend: 'wasm' });
  const buffers = tf.engine().backend.numDataIds();
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x);
  assert.equal(y.dataId, x.dataId, 'no copy');
  x.dispose();
  const z = tf.clone(y);
  y.dispose();
  assert.deepEqual([...z.dataSync()], [1, 2, 3]);
  const c = tf.cast(z, 'float32'); // to its own dtype: shared too
  z.dispose();
  assert.deepEqual([...c.dataSync()], [1, 2, 3]);
  const i = tf.cast(c, 'int32'); // another dtype: a copy
  c.dispose();
  assert.deepEqual([...i.dataSync()], [1, 2, 3]);
  i.dispose();
  assert.equal(tf.engine().backend.numDataIds(), buffers);
});

test('depthwise conv gradients match cpu for multipliers, strides and dilations', async () => {
  const cases: { k: number; mult: number; strides: number; dilations: number; pad: 'same' | 'valid' }[] = [
    { k: 3, mult: 1, strides: 1, dilations: 1, pad: 'same' },
    { k: 5, mult: 2, strides: 2, dilations: 1, pad: 'same' },
    { k: 4, mult: 1, strides: 2, dilations: 1, pad: 'valid' },
    { k: 3, mult: 3, strides: 1, dilations: 2, pad: 'same' },
    { k: 3, mult: 1, strides: 1, dilations: 3, pad: 'valid' },
    { k: 11, mult: 1, strides: 1, dilations: 1, pad: 'same' },
  ];
  for (const [i, c] of cases.entries()) {
    const both = await onBoth((backend) => {
      const x = randn([2, 13, 12, 3], 7, i) as tf.Tensor4D;
      const w = randn([c.k, c.k, 3, c.mult], 8, i) as tf.Tensor4D;
      const y = tf.depthwiseConv2d(x, w, c.strides, c.pad, 'NHWC', c.dilations);
      const dy = randn(y.shape, 9, i);
      // The cpu backprop kernels ignore dilations, so the reference runs on the zero-inserted
      // filter; tfjs's own depthwise gradient rejects dilations, so call the kernels directly.
      const reference = backend === 'cpu' && c.dilations > 1;
      const filter = reference ? dilateFilter(w, c.dilations) : w;
      const attrs = { strides: c.strides, pad: c.pad, dilations: reference ? 1 : c.dilations };
      const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, inputShape: x.shape }) as tf.Tensor;
      const dw = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: filter.shape }) as tf.Tensor;
      const taps = reference ? tf.stridedSlice(dw, [0, 0, 0, 0], dw.shape, [c.dilations, c.dilations, 1, 1]) : dw;
      return [y, dx, taps];
    });
    assertAllClose(both, JSON.stringify(c));
  }
});

test('dilated conv2d and depthwise gradients match cpu and equal the gradients through the zero-spread filter', async () => {
  const cases = [
    { k: 3, d: 2, pad: 'same' as const, depthwise: false },
    { k: 4, d: 3, pad: 'valid' as const, depthwise: false },
    { k: 3, d: 2, pad: 'valid' as const, depthwise: true },
  ];
  for (const [i, c] of cases.entries()) {
    const both = await onBoth(() => {
      const x = randn([2, 14, 13, 3], 16, i) as tf.Tensor4D;
      const w = randn([c.k, c.k, 3, c.depthwise ? 2 : 4], 17, i) as tf.Tensor4D;
      const conv = (xx: tf.Tensor4D, ww: tf.Tensor4D, d: number) =>
        c.depthwise ? tf.depthwiseConv2d(xx, ww, 1, c.pad, 'NHWC', d) : tf.conv2d(xx, ww, 1, c.pad, 'NHWC', d);
      const r = randn(conv(x, w, c.d).shape, 18, i);
      const loss = (d: number) => (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv(xx as tf.Tensor4D, ww as tf.Tensor4D, d), r));
      const [dx, dw] = tf.grads(loss(c.d))([x, w]);
      const [sx, sw] = tf.grads(loss(1))([x, dilateFilter(w, c.d)]);
      return [dx, dw, sx, tf.stridedSlice(sw, [0, 0, 0, 0], sw.shape, [c.d, c.d, 1, 1])];
    });
    assertAllClose(both, JSON.stringify(c));
    assertClose(both.wasm[2], both.wasm[0], `${JSON.stringify(c)} dx vs spread filter`);
    assertClose(both.wasm[3], both.wasm[1], `${JSON.stringify(c)} dw vs spread filter`);
  }
});

test('gather, gatherND and depthToSpace have gradients and unsortedSegmentSum a kernel on wasm equal to cpu', async () => {
  const both = await onBoth(() => {
    const params = randn([6, 4, 3], 10);
    const g = tf.grads((p: tf.Tensor) =>
      tf.add(
        tf.sum(tf.square(tf.gather(p, tf.tensor1d([0, 2, 2, 5, 0], 'int32'), 0))),
        tf.sum(tf.mul(tf.gatherND(p, tf.tensor2d([[1, 2], [1, 2], [4, 0]], [3, 2], 'int32')), randn([3, 3], 11))),
      ),
    )([params]);
    const x = randn([2, 3, 3, 8], 12) as tf.Tensor4D;
    const [gx] = tf.grads((v: tf.Tensor) => tf.sum(tf.mul(tf.depthToSpace(v as tf.Tensor4D, 2), randn([2, 6, 6, 2], 13))))([x]);
    const sums = tf.unsortedSegmentSum(randn([5, 3, 2], 19), tf.tensor1d([0, 2, 0, 4, 1], 'int32'), 6);
    return [...g, gx, sums];
  });
  assertAllClose(both, 'gather gradients');
  await initEngine({ backend: 'wasm' });
  assert.throws(() => tf.unsortedSegmentSum(tf.ones([2]), tf.tensor1d([0, 3], 'int32'), 3), /segment id 3 is outside \[0, 3\)/);
});

test('the gradient of depthToSpace is its inverse permutation, in NHWC and NCHW', async () => {
  await initEngine({ backend: 'wasm' });
  for (const format of ['NHWC', 'NCHW'] as const) {
    const shape: [number, number, number, number] = format === 'NHWC' ? [2, 3, 4, 12] : [2, 12, 3, 4];
    const x = randn(shape, 60) as tf.Tensor4D;
    const r = randn(tf.depthToSpace(x, 2, format).shape, 61);
    const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.depthToSpace(v as tf.Tensor4D, 2, format), r)))(x);
    assert.deepEqual(tf.depthToSpace(dx as tf.Tensor4D, 2, format).dataSync(), r.dataSync(), format);
  }
});

test('comparison ops have zero gradients, so gradients of leakyRelu are differentiable twice', async () => {
  const both = await onBoth(() => {
    const x = randn([10], 14);
    // d/dx sum((d/dx sum(leakyRelu(x)^2))^2) needs the gradient of Greater.
    const inner = (v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.square(tf.leakyRelu(u, 0.2))))(v);
    const outer = tf.grad((v: tf.Tensor) => tf.sum(tf.square(inner(v))))(x);
    const compared = (a: tf.Tensor, b: tf.Tensor) =>
      [tf.less(a, b), tf.lessEqual(a, b), tf.greater(a, b), tf.equal(a, b), tf.notEqual(a, b)].map((m) => tf.cast(m, 'float32'));
    const cmp = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.addN(compared(a, b))))([x, randn([10], 15)]);
    return [outer, ...cmp, x];
  });
  const x = both.cpu[3].data;
  both.cpu.pop();
  both.wasm.pop();
  assertAllClose(both, 'second order');
  // inner = 2 x s^2 with slope s = 1 (x > 0) or 0.2, so outer = d/dx sum(4 x^2 s^4) = 8 x s^4.
  const expected = Float32Array.from(x, (v) => 8 * v * (v > 0 ? 1 : 0.2 ** 4));
  assertClose({ shape: [10], data: expected }, both.wasm[0], 'analytic second derivative');
  assert.deepEqual([...both.wasm[1].data, ...both.wasm[2].data], new Array(20).fill(0));
});

test('the fused LeakyReLU gradient on wasm equals Greater, Multiply and Select bit for bit', async () => {
  await initEngine({ backend: 'wasm' });
  const x = tf.concat([randn([2 * 33 * 17 * 3], 50), tf.tensor1d([0, -0, 1e-30, -1e-30, NaN, Infinity, -Infinity])]);
  const dy = tf.concat([randn([2 * 33 * 17 * 3], 51), tf.tensor1d([1, -1, 3, 3, 1, NaN, 2])]);
  assert.equal(tf.getBackend(), 'wasm');
  const fused = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(v, 0.2), dy)))(x);
  const ops = tf.where(tf.greater(x, 0), dy, tf.mul(dy, 0.2));
  assert.deepEqual(fused.dataSync(), ops.dataSync());
});

test('registering the kernel pack twice changes nothing', async () => {
  const before = tf.getKernel('Conv2DBackpropInput', 'wasm');
  registerKernelPack();
  registerKernelPack();
  assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm'), before);
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined);
  assert.ok(tf.getKernel('UnsortedSegmentSum', 'wasm') !== undefined);
});
