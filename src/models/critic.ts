/**
 * DCGAN-style WGAN critics: 4x4 stride-2 convs with LeakyReLU 0.2 (no BatchNorm: the
 * gradient penalty is per sample), then a dense layer to one number (the paper's 4x4 valid
 * conv on the 4x4 map). The marginal critic reads one frame (k = 1); the joint critic reads
 * k frames stacked as channels. Spectral norm is optional.
 */
import { tf } from '../engine/index.ts';
import {
  conv, initConv, initDense, initSpectralNorm, leakyRelu, powerIterate, spectralNormalized,
  type ConvParams, type SpectralNormParams,
} from './layers.ts';
import type { ParamTree } from './params.ts';

export interface CriticConfig {
  widths: number[];
  size: number;
  /** Frames stacked as channels: 1 for the marginal critic. */
  frames: number;
  spectralNorm: boolean;
}

interface Layer extends ParamTree {
  conv: ConvParams;
}

export interface CriticParams extends ParamTree {
  blocks: Record<string, Layer>;
  out: Layer;
}

function layer(p: ConvParams, sn: boolean, seed: number, key: number): Layer {
  if (!sn) return { conv: p };
  const rows = p.w.size / p.w.shape[p.w.rank - 1]!;
  return { conv: p, sn: initSpectralNorm(seed, key + 500, rows, p.w.shape[p.w.rank - 1]!) };
}

export function initCritic(c: CriticConfig, seed: number): CriticParams {
  const blocks: Record<string, Layer> = {};
  c.widths.forEach((w, i) => {
    blocks[`b${i}`] = layer(initConv(seed, 200 + i, 4, i === 0 ? c.frames : c.widths[i - 1]!, w), c.spectralNorm, seed, 200 + i);
  });
  const flat = (c.size >> c.widths.length) ** 2 * c.widths.at(-1)!;
  return { blocks, out: layer(initDense(seed, 250, flat, 1), c.spectralNorm, seed, 250) };
}

const weight = (l: Layer): tf.Tensor => (l.sn ? spectralNormalized(l.conv.w, l.sn as SpectralNormParams) : l.conv.w);

/** [B, H, W, k] to [B] scores. */
export function critic(p: CriticParams, x: tf.Tensor4D): tf.Tensor1D {
  let h = x;
  for (const l of Object.values(p.blocks)) h = leakyRelu(conv(l.conv, h, 2, weight(l) as tf.Tensor4D));
  const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  return tf.reshape(tf.add(tf.matMul(flat, weight(p.out) as tf.Tensor2D), p.out.conv.b), [-1]) as tf.Tensor1D;
}

/** One power iteration per spectrally normalized layer; call once per critic step, outside the gradient tape. */
export function updateSpectralNorms(p: CriticParams): void {
  for (const l of [...Object.values(p.blocks), p.out]) if (l.sn) powerIterate(l.conv.w, l.sn as SpectralNormParams);
}

export const GP_WEIGHT = 10;

/**
 * WGAN-GP critic loss: mean D(fake) - mean D(real) + 10 * mean (|grad_xhat D(xhat)|_2 - 1)^2
 * on random interpolates xhat = eps*real + (1-eps)*fake, eps [B,1,1,1] given by the caller
 * (seeded). The inner tf.grad is differentiated again by the caller's tf.variableGrads.
 * Returns the loss and the W1 estimate mean D(real) - mean D(fake).
 */
export function criticLoss(p: CriticParams, real: tf.Tensor4D, fake: tf.Tensor4D, eps: tf.Tensor4D): { loss: tf.Scalar; w1: tf.Scalar } {
  const w1 = tf.sub(tf.mean(critic(p, real)), tf.mean(critic(p, fake))) as tf.Scalar;
  const xhat = tf.add(tf.mul(eps, real), tf.mul(tf.sub(1, eps), fake)) as tf.Tensor4D;
  const g = tf.grad((x: tf.Tensor) => tf.sum(critic(p, x as tf.Tensor4D)))(xhat);
  const norm = tf.sqrt(tf.add(tf.sum(tf.square(g), [1, 2, 3]), 1e-12));
  const penalty = tf.mean(tf.square(tf.sub(norm, 1)));
  return { loss: tf.add(tf.neg(w1), tf.mul(penalty, GP_WEIGHT)) as tf.Scalar, w1 };
}

