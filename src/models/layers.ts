/**
 * Layers as plain functions of (params, inputs). Shapes are NHWC. Convolutions are the
 * paper's 4x4 stride-2 kind: TF 'same' padding on even sizes pads 1 on each side, which
 * is exactly PyTorch's padding=1.
 */
import { batchNormTraining, normalize } from '../engine/batch-norm.ts';
import { tf } from '../engine/index.ts';
import { constVar, normalVar, type ParamTree } from './params.ts';

/** What a forward pass needs besides inputs: training mode, and where BatchNorm puts its running-stat updates. */
export interface Ctx {
  training: boolean;
  /** (variable, new value) pairs, applied by the trainer after the gradient step. */
  updates: [tf.Variable, tf.Tensor][];
}

export const evalCtx = (): Ctx => ({ training: false, updates: [] });
export const trainCtx = (): Ctx => ({ training: true, updates: [] });

/**
 * Apply (or, with apply = false, drop) and dispose the collected running-stat updates. `reduce`
 * (data-parallel training) makes them the whole batch's, so every replica keeps the same statistics.
 */
export function applyUpdates(ctx: Ctx, apply = true, reduce: (ts: tf.Tensor[]) => tf.Tensor[] = (ts) => ts): void {
  if (apply) {
    const values = reduce(ctx.updates.map(([, t]) => t));
    ctx.updates.forEach(([v], i) => v.assign(values[i]!));
    tf.dispose(values.filter((t, i) => t !== ctx.updates[i]![1]));
  }
  tf.dispose(ctx.updates.map(([, t]) => t));
  ctx.updates.length = 0;
}

export interface ConvParams extends ParamTree {
  w: tf.Variable;
  b: tf.Variable;
}

/** He-normal weights for LeakyReLU nets; the key makes every layer's init independent of call order. */
export function initConv(seed: number, key: number, k: number, cin: number, cout: number, transpose = false): ConvParams {
  const shape = transpose ? [k, k, cout, cin] : [k, k, cin, cout];
  return { w: normalVar(shape, Math.sqrt(2 / (k * k * cin)), seed, key), b: constVar([cout], 0) };
}

export function initDense(seed: number, key: number, nin: number, nout: number): ConvParams {
  return { w: normalVar([nin, nout], Math.sqrt(2 / nin), seed, key), b: constVar([nout], 0) };
}

export function conv(p: ConvParams, x: tf.Tensor4D, stride: number, weight: tf.Tensor4D = p.w as tf.Tensor4D): tf.Tensor4D {
  return tf.add(tf.conv2d(x, weight, stride, 'same'), p.b);
}

/** Transposed convolution, stride 2, doubling height and width. */
export function convTranspose(p: ConvParams, x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w] = x.shape;
  const cout = p.w.shape[2]!;
  return tf.add(tf.conv2dTranspose(x, p.w as tf.Tensor4D, [b, 2 * h, 2 * w, cout], 2, 'same'), p.b);
}

export function dense(p: ConvParams, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, p.w as tf.Tensor2D), p.b);
}

/**
 * LeakyReLU(0.2), one backend kernel. Its gradient (a Greater mask and a Select) is itself
 * differentiable, since the kernel pack gives comparisons a zero gradient: the WGAN-GP penalty
 * differentiates it twice.
 */
export function leakyRelu<T extends tf.Tensor>(x: T): T {
  return tf.leakyRelu(x, 0.2) as T;
}

export interface BatchNormParams extends ParamTree {
  gamma: tf.Variable;
  beta: tf.Variable;
  /** Running statistics: not trainable, saved with the model. */
  mean: tf.Variable;
  variance: tf.Variable;
}

/** `shift` false: beta stays 0 (not trainable), so the output's batch mean stays 0. */
export function initBatchNorm(channels: number, gamma = 1, shift = true): BatchNormParams {
  return { gamma: constVar([channels], gamma), beta: constVar([channels], 0, shift), mean: constVar([channels], 0, false), variance: constVar([channels], 1, false) };
}

/** Multiplies a BatchNorm's scale and shift by `gain`: its output (a pre-tanh latent) grows by it. */
export function scaleBatchNorm(p: BatchNormParams, gain: number): void {
  for (const v of [p.gamma, p.beta]) v.assign(tf.mul(v, gain));
}

const BN_EPS = 1e-5;
const BN_MOMENTUM = 0.1;

/** BatchNorm over all axes but the last: batch statistics in training (running stats updated via ctx), running stats in eval. */
export function batchNorm<T extends tf.Tensor>(p: BatchNormParams, x: T, ctx: Ctx): T {
  if (ctx.training) {
    const { y, mean, variance } = batchNormTraining(x, p, BN_EPS, BN_MOMENTUM);
    ctx.updates.push([p.mean, tf.keep(mean)], [p.variance, tf.keep(variance)]);
    return y as T;
  }
  return normalize(x, p.mean, p.variance, p.gamma, p.beta, BN_EPS) as T;
}

export interface SpectralNormParams extends ParamTree {
  /** Power-iteration vectors for the weight viewed as a [rest, cout] matrix; not trainable. */
  u: tf.Variable;
  v: tf.Variable;
}

export function initSpectralNorm(seed: number, key: number, rows: number, cols: number): SpectralNormParams {
  return { v: normalVar([rows, 1], 1 / Math.sqrt(rows), seed, key, false), u: normalVar([cols, 1], 1 / Math.sqrt(cols), seed, key + 1, false) };
}

/**
 * One power iteration, run outside any gradient tape so u and v act as constants in the
 * normalized weight (as in Miyato et al.): v = W u / |W u|, u = W^T v / |W^T v|.
 */
export function powerIterate(w: tf.Variable, sn: SpectralNormParams): void {
  tf.tidy(() => {
    const m = tf.reshape(w, [-1, w.shape[w.rank - 1]!]) as tf.Tensor2D;
    const v = tf.matMul(m, sn.u as tf.Tensor2D);
    const vn = tf.div(v, tf.add(tf.norm(v), 1e-12));
    const u = tf.matMul(m, vn, true, false);
    sn.v.assign(vn);
    sn.u.assign(tf.div(u, tf.add(tf.norm(u), 1e-12)));
  });
}

/** W / sigma(W) with sigma = v^T W u from the stored vectors. */
export function spectralNormalized<T extends tf.Tensor>(w: T, sn: SpectralNormParams): T {
  const m = tf.reshape(w, [-1, w.shape[w.rank - 1]!]) as tf.Tensor2D;
  const sigma = tf.sum(tf.mul(tf.matMul(m, sn.u as tf.Tensor2D), sn.v));
  return tf.div(w, sigma) as T;
}
