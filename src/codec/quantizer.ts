/**
 * The bottleneck quantizer with shared randomness (subtractive dither).
 *
 * L levels evenly spaced on [-1, 1], both ends included; bin width w = 2/(L-1). The encoder
 * sends the symbol k = q(z + u), the decoder outputs levels[k] - u, with u uniform on
 * [-w/2, w/2] drawn from the portable PRNG keyed by (file seed, frame, index), index = the
 * element's position in the frame's symbol list (motion latent, then content latent).
 *
 * Why every symbol costs exactly log2 L bits: the L bins [c_k - w/2, c_k + w/2) tile
 * [-1 - w/2, 1 + w/2). Latents come from tanh, so z is in [-1, 1] (z is clamped there first
 * to make that a guarantee), and z + u then always falls inside one of the L bins: no
 * symbol outside the alphabet, no overload, and the error levels[k] - u - z stays in
 * [-w/2, w/2]. The symbol index is clamped to [0, L-1] only to absorb float rounding at
 * the outermost edge.
 *
 * Float agreement: u and the levels are float32 values, and the symbol arithmetic
 * (clamp, add, multiply by (L-1)/2, add 0.5, floor) is done in float32 steps, so the
 * JavaScript functions and the tensor functions give bit-identical symbols and outputs.
 */
import { tf } from '../engine/index.ts';
import { uniformAt } from '../rng.ts';

const f32 = Math.fround;

function checkLevels(L: number): void {
  if (!Number.isInteger(L) || L < 2 || L > 0xffffffff) throw new RangeError(`quantizer needs an integer L >= 2, got ${L}`);
}

/** The L reconstruction levels, evenly spaced on [-1, 1] with both ends included. */
export function levels(L: number): Float32Array {
  checkLevels(L);
  return Float32Array.from({ length: L }, (_, k) => -1 + (2 * k) / (L - 1));
}

/** The distance between neighbouring levels, 2 / (L - 1). */
export function binWidth(L: number): number {
  checkLevels(L);
  return 2 / (L - 1);
}

/** The dither u in [-w/2, w/2] (float32) for one latent element; a pure function of its keys. */
export function ditherAt(seed: number, frame: number, index: number, L: number): number {
  return f32((uniformAt(seed, frame, index) - 0.5) * binWidth(L));
}

/** The symbol of one element, in float32 steps that match `quantizeTensor`. */
function symbolOf(z: number, u: number, L: number, halfSteps: number): number {
  const x = f32(f32(Math.min(1, Math.max(-1, f32(z)))) + u);
  const k = Math.floor(f32(f32(f32(x + 1) * halfSteps) + 0.5));
  return Math.min(L - 1, Math.max(0, k));
}

/**
 * Symbols q(z + u) in [0, L), element i dithered by ditherAt(seed, frame, i, L). For a
 * P-frame pass the whole symbol list, motion then content (both latents share L at every rate).
 */
export function encodeLatent(z: ArrayLike<number>, L: number, seed: number, frame: number): Uint32Array {
  checkLevels(L);
  const halfSteps = f32((L - 1) / 2);
  return Uint32Array.from({ length: z.length }, (_, i) => symbolOf(z[i]!, ditherAt(seed, frame, i, L), L, halfSteps));
}

/** The decoder's latent levels[k] - u for each received symbol k. */
export function decodeLatent(symbols: ArrayLike<number>, L: number, seed: number, frame: number): Float32Array {
  const c = levels(L);
  return Float32Array.from({ length: symbols.length }, (_, i) => {
    const k = symbols[i]!;
    if (!Number.isInteger(k) || k < 0 || k >= L) throw new RangeError(`symbol ${k} at ${i} is outside [0, ${L})`);
    return c[k]! - ditherAt(seed, frame, i, L);
  });
}

/**
 * The dither of a batch of frames as a tensor of `shape` = [rows, ...per frame]: the element
 * at position p of row b is ditherAt(seed, frame + b * stride, offset + p, L), what a file's
 * frame `frame + b * stride` uses, so a batch decodes exactly as its frames in a file would
 * (stride: the GOP length, when row b is frame t of the b-th group). A frame with several
 * latents uses offset = the dimensions before it (the P-frame's content latent starts after
 * the motion latent), so no two elements of a frame share a dither value.
 */
export function ditherTensor(seed: number, frame: number, shape: number[], L: number, offset = 0, stride = 1): tf.Tensor {
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  const size = (shape[0] ?? 1) * per;
  return tf.tensor(Float32Array.from({ length: size }, (_, p) => ditherAt(seed, frame + Math.floor(p / per) * stride, offset + (p % per), L)), shape, 'float32');
}

/** The hard dithered quantizer's output levels[q(z + u)] - u, with no gradient. */
function hardQuantize(z: tf.Tensor, u: tf.Tensor, L: number): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.add(tf.clipByValue(z, -1, 1), u);
    const k = tf.clipByValue(tf.floor(tf.add(tf.mul(tf.add(x, 1), f32((L - 1) / 2)), 0.5)), 0, L - 1);
    return tf.sub(tf.gather(tf.tensor1d(levels(L)), tf.cast(k, 'int32')), u);
  });
}

/** Temperature of the soft assignment, as in the paper's code (Quantizer(sigma=1.0)). */
export const SOFT_SIGMA = 1;

/**
 * d/dx of the soft quantizer s(x) = sum_k c_k p_k, p = softmax(-sigma |x - c|):
 * s'(x) = sum_k c_k p_k a_k - s(x) sum_k p_k a_k with a_k = -sigma sign(x - c_k).
 */
function softQuantizerSlope(x: tf.Tensor, L: number): tf.Tensor {
  return tf.tidy(() => {
    const c = tf.tensor1d(levels(L));
    const diff = tf.sub(tf.expandDims(x, -1), c);
    const p = tf.softmax(tf.mul(tf.abs(diff), -SOFT_SIGMA));
    const a = tf.mul(tf.sign(diff), -SOFT_SIGMA);
    const s = tf.sum(tf.mul(p, c), -1);
    return tf.sub(tf.sum(tf.mul(tf.mul(p, c), a), -1), tf.mul(s, tf.sum(tf.mul(p, a), -1)));
  });
}

/**
 * levels[q(z + u)] - u, elementwise; u has z's shape (see `ditherTensor`).
 * - 'hard': no gradient (inference, and what the bitstream carries).
 * - 'train': the same forward value, with the gradient of the paper's soft quantizer
 *   sum(c * softmax(-sigma |z + u - c|)) with respect to z (hard forward, soft backward).
 *   The soft slope is chosen over additive noise so that the forward pass the decoder
 *   trains on is exactly the one it meets at test time.
 */
export function quantizeTensor<T extends tf.Tensor>(z: T, u: tf.Tensor, L: number, mode: 'hard' | 'train'): T {
  checkLevels(L);
  if (mode === 'hard') return hardQuantize(z, u, L) as T;
  // save() keeps z and u alive until the backward pass (tf.grad disposes forward intermediates).
  const quantize = tf.customGrad((zIn, save) => {
    const zt = zIn as tf.Tensor;
    (save as tf.GradSaveFunc)([zt, u]);
    return {
      value: hardQuantize(zt, u, L),
      gradFunc: (dy: tf.Tensor, [zs, us]: tf.Tensor[]) => tf.mul(dy, softQuantizerSlope(tf.add(zs!, us!), L)),
    };
  });
  return quantize(z) as T;
}
