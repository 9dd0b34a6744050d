import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { assertAllClose, assertClose, onBoth, randn } from './engine-reference.ts';

type T4 = tf.Tensor4D;

interface Critic {
  w1: tf.Tensor;
  b1: tf.Tensor;
  w2: tf.Tensor;
  w3: tf.Tensor;
  dense: tf.Tensor;
}

const makeCritic = (seed: number): Critic => ({
  // 3*3*2 taps <= 24 outputs: the GP's input gradient takes the matmul (col2im) path.
  w1: tf.mul(randn([3, 3, 2, 24], seed, 1), 0.3),
  b1: tf.mul(randn([24], seed, 2), 0.1),
  w2: tf.mul(randn([4, 4, 3, 24], seed, 3), 0.2),
  w3: tf.mul(randn([4, 4, 3, 2], seed, 4), 0.3),
  dense: tf.mul(randn([18, 1], seed, 5), 0.3),
});

/**
 * A critic through the ops of the project's critics: frames stacked as channels (concat),
 * conv2d, conv2dTranspose, leakyRelu, a dense layer (matMul): [n, 8, 8, 1] -> [n].
 */
function critic(p: Critic, x: tf.Tensor): tf.Tensor {
  const frames = tf.concat([x, tf.square(x)], 3) as T4;
  const h1 = tf.leakyRelu(tf.add(tf.conv2d(frames, p.w1 as T4, 2, 'same'), p.b1), 0.2) as T4;
  const h2 = tf.leakyRelu(tf.conv2dTranspose(h1, p.w2 as T4, [x.shape[0], 8, 8, 3], 2, 'same'), 0.2) as T4;
  const h3 = tf.reshape(tf.conv2d(h2, p.w3 as T4, 2, 'valid'), [x.shape[0], 18]);
  return tf.reshape(tf.matMul(h3, p.dense), [x.shape[0]]);
}

/** WGAN-GP critic loss with penalty weight 10 on fixed interpolates. */
function criticLoss(p: Critic, real: tf.Tensor, fake: tf.Tensor, eps: tf.Tensor): tf.Scalar {
  const mixed = tf.add(tf.mul(eps, real), tf.mul(tf.sub(1, eps), fake));
  const g = tf.grad((v: tf.Tensor) => tf.sum(critic(p, v)))(mixed);
  const norm = tf.sqrt(tf.add(tf.sum(tf.square(g), [1, 2, 3]), 1e-12));
  const penalty = tf.mean(tf.square(tf.sub(norm, 1)));
  return tf.add(tf.sub(tf.mean(critic(p, fake)), tf.mean(critic(p, real))), tf.mul(10, penalty)) as tf.Scalar;
}

test('the gradients of a WGAN-GP critic loss (second order through concat, conv, conv-transpose, leakyRelu, matMul) are equal on wasm and cpu', async () => {
  const both = await onBoth(() => {
    const p = makeCritic(20);
    const real = randn([3, 8, 8, 1], 21);
    const fake = randn([3, 8, 8, 1], 22);
    const eps = tf.tensor([0.2, 0.5, 0.9], [3, 1, 1, 1]);
    const keys = Object.keys(p) as (keyof Critic)[];
    const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) => {
      const q = Object.fromEntries(keys.map((k, i) => [k, ws[i]])) as unknown as Critic;
      return criticLoss(q, real, fake, eps);
    })(keys.map((k) => p[k]));
    assert.ok(grads.every((g) => tf.max(tf.abs(g)).dataSync()[0] > 0), 'every parameter gets a gradient');
    return [value, ...grads];
  });
  assertAllClose(both, 'critic loss and gradients');
});

/** Each op the models use, as a function of one input (and fixed parameters made inside). */
const modelOps: [string, (x: tf.Tensor) => tf.Tensor][] = [
  ['conv2d', (x) => tf.conv2d(x as T4, randn([3, 3, 3, 5], 30) as T4, 2, 'same')],
  ['conv2dTranspose', (x) => tf.conv2dTranspose(x as T4, randn([4, 4, 2, 3], 31) as T4, [2, 12, 10, 2], 2, 'same')],
  ['depthwiseConv2d (blur)', (x) => tf.depthwiseConv2d(x as T4, randn([5, 5, 3, 1], 32) as T4, 1, 'same')],
  [
    'moments + batchNorm',
    (x) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(x, mean, variance, randn([3], 33), randn([3], 34), 1e-5);
    },
  ],
  ['leakyRelu', (x) => tf.leakyRelu(x, 0.2)],
  ['relu', (x) => tf.relu(x)],
  ['sigmoid', (x) => tf.sigmoid(x)],
  ['tanh', (x) => tf.tanh(x)],
  ['sqrt of square + 1', (x) => tf.sqrt(tf.add(tf.square(x), 1))],
  ['gather', (x) => tf.gather(x, tf.tensor1d([4, 0, 4, 2], 'int32'), 2)],
  ['gatherND', (x) => tf.gatherND(x, tf.tensor2d([[0, 1, 2], [1, 5, 4], [0, 1, 2]], [3, 3], 'int32'))],
  ['resizeBilinear', (x) => tf.image.resizeBilinear(x as T4, [9, 7])],
  ['concat + slice', (x) => tf.concat([tf.slice(x, [0, 1, 0, 0], [2, 3, 4, 3]), tf.square(tf.slice(x, [0, 0, 1, 0], [2, 3, 4, 3]))], 3)],
  ['mean + sum', (x) => tf.add(tf.mean(x, [1, 2]), tf.mean(tf.sum(x, 3, true)))],
];

test('every op the models use has a forward and a gradient on wasm equal to cpu', async () => {
  for (const [name, f] of modelOps) {
    const both = await onBoth(() => {
      const x = randn([2, 6, 5, 3], 35);
      const y = f(x);
      const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), randn(y.shape, 36))))(x);
      return [y, dx];
    });
    assertAllClose(both, name);
  }
});

test('batchNorm gradients for all five inputs equal those of the same formula in elementary ops, on wasm and cpu', async () => {
  for (const keepDims of [false, true]) {
    const both = await onBoth(() => {
      const x = randn([3, 4, 5, 6], 50);
      const r = randn([3, 4, 5, 6], 51);
      const { mean, variance } = tf.moments(x, [0, 1, 2], keepDims);
      const shape = mean.shape;
      const [scale, offset] = [tf.add(randn(shape, 52), 2), randn(shape, 53)];
      const fused = (...a: tf.Tensor[]) => tf.sum(tf.mul(tf.batchNorm(a[0], a[1], a[2], a[4], a[3], 1e-3), r));
      const plain = (...a: tf.Tensor[]) => tf.sum(tf.mul(tf.add(tf.mul(tf.mul(tf.sub(a[0], a[1]), tf.rsqrt(tf.add(a[2], 1e-3))), a[3]), a[4]), r));
      const inputs = [x, mean, variance, scale, offset];
      return [...tf.grads(fused)(inputs), ...tf.grads(plain)(inputs)];
    });
    assertAllClose(both, `keepDims ${keepDims}`);
    both.wasm.slice(0, 5).forEach((g, i) => assertClose(both.wasm[5 + i], g, `keepDims ${keepDims} input ${i} vs elementary ops`));
  }
});

test('50 training steps with a gradient penalty leak no tensors and no backend buffers on wasm', async () => {
  await initEngine({ backend: 'wasm' });
  const critic0 = makeCritic(40);
  const vars = Object.fromEntries(Object.entries(critic0).map(([k, v]) => [k, tf.variable(v)])) as unknown as Critic;
  const real = randn([4, 8, 8, 1], 41);
  const fake = randn([4, 8, 8, 1], 42);
  const eps = tf.tensor([0.1, 0.4, 0.6, 0.9], [4, 1, 1, 1]);
  const optimizer = tf.train.adam(1e-3);
  const step = () => optimizer.minimize(() => criticLoss(vars, real, fake, eps))?.dispose();
  step();
  // The backend's own count also catches intermediates our kernels fail to free.
  const count = () => ({ tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, buffers: tf.backend().numDataIds() });
  const before = count();
  for (let i = 0; i < 50; i++) step();
  assert.deepEqual(count(), before);
});
