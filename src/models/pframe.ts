/**
 * The P-frame codec (DESIGN.md sections 4 and 8b): scale-space flow with conditional coding.
 *
 * Encoder side (trained in stage 1, frozen after, shared by every decoder):
 * - motion encoder on cat(X, ref) -> motion latent in (-1, 1);
 * - flow decoder on the quantized motion latent -> field (dx, dy, s) for `scaleSpaceWarp`;
 * - content encoder on cat(X, prediction) -> content latent in (-1, 1) (none at rate 1).
 * Decoder side (one instance per decoder: MMSE, FMD, JD):
 * - context encoder on cat(prediction, extra frames) -> feature maps at every resolution;
 * - content decoder on the quantized content latent and those maps (U-Net style, the
 *   conditional coding of DCVC, Li et al. 2021) -> the frame through a sigmoid. It is not
 *   prediction + residual; the full-resolution stage sees the prediction's pixels, so it can
 *   copy shapes that a 1x1 context vector could not carry.
 *
 * As in the paper's code: stride-2 convs with BatchNorm and LeakyReLU 0.2 down to 4x4, the
 * 4x4 <-> 1x1 step as a dense layer (iframe.ts), transposed convs back up. Unlike it, latents
 * pass a BatchNorm with a large initial gain and tanh (our quantizer needs [-1, 1]), and convs
 * followed by BatchNorm carry no bias: BN removes it, so its gradient is exactly zero.
 */
import { tf } from '../engine/index.ts';
import { frameSpec, type LatentSpec, type RateName } from '../codec/rates.ts';
import { batchNorm, conv, convTranspose, initBatchNorm, initConv, initDense, leakyRelu, type BatchNormParams, type ConvParams, type Ctx } from './layers.ts';
import type { ParamTree } from './params.ts';

export interface PFrameConfig {
  /** Frame height and width (square); the stack must bring it to 4x4 or more. */
  size: number;
  /** Channels of the stride-2 conv stacks, e.g. the paper's [128, 128, 128, 128]. */
  widths: number[];
  /** Conv kernel size: 5 in the paper. */
  kernel: number;
  motion: LatentSpec | null;
  /** null at rate 1: the motion latent is the whole message. */
  content: LatentSpec | null;
  /** Channels of the context encoder's feature map at every resolution below full. */
  contextWidth: number;
  /** The latents' BatchNorm shift is held at 0 (GopModelConfig.centredLatents). */
  centredLatents?: boolean;
}

/** A decoder's config: `extraFrames` more frames (its own past outputs, for JD) read with the prediction. */
export interface PFrameDecoderConfig extends PFrameConfig {
  extraFrames: number;
}

/**
 * The P-frame codec at a rate, latents from the codec's rate table. Rate 'inf' sends the frame
 * itself: no latents and no encoder, only decoder-side networks (a 0-PLF-JD decoder still has to
 * make the frame consistent with its own earlier outputs; it reads the frame as its prediction).
 */
export function pframeConfigFor(widths: number[], rate: RateName, size = 64, contextWidth = widths[0] ?? 1): PFrameConfig {
  const latents = frameSpec('P', rate).latents;
  return { size, widths, kernel: 5, motion: latents[0] ?? null, content: latents[1] ?? null, contextWidth };
}

/** A conv (or dense) weight without bias, then BatchNorm. */
interface Block extends ParamTree {
  w: tf.Variable;
  bn: BatchNormParams;
}

export interface LatentEncoderParams extends ParamTree {
  blocks: Record<string, Block>;
  /** Dense on the flattened 4x4 map to d, BatchNorm (initial gain LATENT_GAIN), then tanh. */
  latent: Block;
}

export interface FlowDecoderParams extends ParamTree {
  latent: Block;
  blocks: Record<string, Block>;
  out: ConvParams;
}

/** Motion encoder, flow decoder and (except at rate 1) content encoder. */
export type PFrameEncoderParams = ParamTree & { motion: LatentEncoderParams; flow: FlowDecoderParams; content?: LatentEncoderParams };

export interface ContextEncoderParams extends ParamTree {
  blocks: Record<string, Block>;
}

/** `latent` is absent at rate 1 (no content latent). */
export type ContentDecoderParams = ParamTree & { latent?: Block; blocks: Record<string, Block>; out: ConvParams };

export type PFrameDecoderParams = ParamTree & { context: ContextEncoderParams; decoder: ContentDecoderParams };

/**
 * Initial scale of the normalised pre-tanh latents, as the I-frame's LATENT_GAIN (iframe.ts):
 * with the dither, a bit is random unless |z| is near 1, and an MMSE decoder prefers a
 * near-deterministic code.
 */
export const LATENT_GAIN = 6;

/** Initial scale of the flow head's weights: initial flows of a fraction of a pixel, s near 0, so the prediction starts as the reference. */
export const FLOW_INIT_SCALE = 0.01;

const bottom = (c: PFrameConfig) => c.size >> c.widths.length;
const flatSize = (c: PFrameConfig) => bottom(c) ** 2 * c.widths.at(-1)!;

function checkConfig(c: PFrameConfig): void {
  const n = c.widths.length;
  if (n === 0 || n > 20 || bottom(c) < 1 || bottom(c) << n !== c.size) {
    throw new Error(`P-frame config: size ${c.size} is not divisible by 2^${n} (1 to 20 stride-2 stages)`);
  }
}

function block(seed: number, key: number, k: number, cin: number, cout: number, transpose = false): Block {
  const { w, b } = initConv(seed, key, k, cin, cout, transpose);
  b.dispose();
  return { w, bn: initBatchNorm(cout) };
}

function denseBlock(seed: number, key: number, nin: number, nout: number, gain = 1, shift = true): Block {
  const { w, b } = initDense(seed, key, nin, nout);
  b.dispose();
  return { w, bn: initBatchNorm(nout, gain, shift) };
}

function initLatentEncoder(c: PFrameConfig, seed: number, key: number, cin: number, dims: number): LatentEncoderParams {
  const blocks: Record<string, Block> = {};
  c.widths.forEach((w, i) => {
    blocks[`b${i}`] = block(seed, key + i, c.kernel, i === 0 ? cin : c.widths[i - 1]!, w);
  });
  return { blocks, latent: denseBlock(seed, key + 50, flatSize(c), dims, LATENT_GAIN, !c.centredLatents) };
}

/** Layer keys: motion encoder 300-350, flow decoder 360-390, content encoder 400-450. */
export function initPFrameEncoder(c: PFrameConfig, seed: number): PFrameEncoderParams {
  checkConfig(c);
  if (!c.motion) throw new RangeError('a P-frame at rate inf has no encoder: the decoder receives the frame itself');
  const rev = [...c.widths].reverse();
  const flowBlocks: Record<string, Block> = {};
  for (let i = 0; i + 1 < rev.length; i++) flowBlocks[`b${i}`] = block(seed, 361 + i, c.kernel, rev[i]!, rev[i + 1]!, true);
  const out = initConv(seed, 390, c.kernel, c.widths[0]!, 3, true);
  const small = tf.mul(out.w, FLOW_INIT_SCALE);
  out.w.assign(small);
  small.dispose();
  const p: PFrameEncoderParams = {
    motion: initLatentEncoder(c, seed, 300, 2, c.motion!.dims),
    flow: { latent: denseBlock(seed, 360, 2 * c.motion!.dims, flatSize(c)), blocks: flowBlocks, out },
  };
  if (c.content) p.content = initLatentEncoder(c, seed, 400, 2, c.content.dims);
  return p;
}

/** Layer keys: context encoder 600-620, content decoder 650-690. */
export function initPFrameDecoder(c: PFrameDecoderConfig, seed: number): PFrameDecoderParams {
  checkConfig(c);
  const n = c.widths.length;
  const cw = c.contextWidth;
  const context: Record<string, Block> = {};
  for (let i = 0; i < n; i++) context[`b${i}`] = block(seed, 600 + i, c.kernel, i === 0 ? 1 + c.extraFrames : cw, cw);
  // Stage i doubles the resolution from size >> (n - i); its input is the previous stage's
  // output (or the latent map) concatenated with the context map of that resolution.
  const rev = [...c.widths].reverse();
  const blocks: Record<string, Block> = {};
  for (let i = 0; i < n; i++) {
    const cin = (i === 0 ? (c.content ? rev[0]! : 0) : rev[i]!) + cw;
    blocks[`b${i}`] = block(seed, 651 + i, c.kernel, cin, i + 1 < n ? rev[i + 1]! : c.widths[0]!, true);
  }
  const decoder: ContentDecoderParams = { blocks, out: initConv(seed, 690, c.kernel, c.widths[0]! + 1 + c.extraFrames, 1) };
  if (c.content) decoder.latent = denseBlock(seed, 650, 2 * c.content.dims, flatSize(c));
  return { context: { blocks: context }, decoder };
}

const down = (b: Block, x: tf.Tensor4D, ctx: Ctx) => leakyRelu(batchNorm(b.bn, tf.conv2d(x, b.w as tf.Tensor4D, 2, 'same'), ctx));

function up(b: Block, x: tf.Tensor4D, ctx: Ctx): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const y = tf.conv2dTranspose(x, b.w as tf.Tensor4D, [n, 2 * h, 2 * w, b.w.shape[2]!], 2, 'same');
  return leakyRelu(batchNorm(b.bn, y, ctx));
}

/** [B, d] latent in (-1, 1). */
function encodeLatent(p: LatentEncoderParams, x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
  let h = x;
  for (const b of Object.values(p.blocks)) h = down(b, h, ctx);
  const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  return tf.tanh(batchNorm(p.latent.bn, tf.matMul(flat, p.latent.w as tf.Tensor2D) as tf.Tensor2D, ctx));
}

/**
 * The dequantized latent zq = level - u and its dither u, read as (level, u) as the I-frame
 * decoder does (iframe.ts `decode`), to the bottom feature map [B, s, s, C].
 */
function latentMap(p: Block, c: PFrameConfig, zq: tf.Tensor2D, u: tf.Tensor2D, ctx: Ctx): tf.Tensor4D {
  const input = tf.concat([tf.add(zq, u), u], 1) as tf.Tensor2D;
  const flat = batchNorm(p.bn, tf.matMul(input, p.w as tf.Tensor2D), ctx);
  return leakyRelu(tf.reshape(flat, [zq.shape[0], bottom(c), bottom(c), c.widths.at(-1)!]) as tf.Tensor4D);
}

function checkFrames(c: PFrameConfig, what: string, ...xs: tf.Tensor4D[]): void {
  for (const x of xs) {
    if (x.shape[1] !== c.size || x.shape[2] !== c.size || x.shape[3] !== 1 || x.shape[0] !== xs[0]!.shape[0]) {
      throw new Error(`${what}: frames must be [B, ${c.size}, ${c.size}, 1], got [${x.shape}]`);
    }
  }
}

/** Frame X and reference [B, H, W, 1] in [0, 1] to the motion latent [B, d_m] in (-1, 1). */
export function encodeMotion(p: PFrameEncoderParams, x: tf.Tensor4D, ref: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
  return encodeLatent(p.motion, tf.concat([x, ref], 3), ctx);
}

/**
 * Quantized motion latent zq = level - u and dither u [B, d_m] to the field [B, H, W, 3] =
 * (dx, dy, s) of `scaleSpaceWarp`: a linear head, no tanh, so flows are not bounded.
 */
export function decodeFlow(p: PFrameEncoderParams, c: PFrameConfig, zq: tf.Tensor2D, u: tf.Tensor2D, ctx: Ctx): tf.Tensor4D {
  let h = latentMap(p.flow.latent, c, zq, u, ctx);
  for (const b of Object.values(p.flow.blocks)) h = up(b, h, ctx);
  return convTranspose(p.flow.out, h);
}

/** Frame X and prediction [B, H, W, 1] to the content latent [B, d_c] in (-1, 1); rate 1 has none. */
export function encodeContent(p: PFrameEncoderParams, x: tf.Tensor4D, pred: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
  if (!p.content) throw new Error('encodeContent: this P-frame codec has no content latent (rate 1)');
  return encodeLatent(p.content, tf.concat([x, pred], 3), ctx);
}

/**
 * The decoder: content latent (zq, u) [B, d_c] (both null at rate 1), the prediction and, for a
 * JD decoder, `extraFrames` more frames [B, H, W, extraFrames] (null when 0) to the frame
 * [B, H, W, 1] in (0, 1).
 */
export function decodeFrame(
  p: PFrameDecoderParams, c: PFrameDecoderConfig, zq: tf.Tensor2D | null, u: tf.Tensor2D | null,
  pred: tf.Tensor4D, extra: tf.Tensor4D | null, ctx: Ctx,
): tf.Tensor4D {
  checkFrames(c, 'decodeFrame', pred);
  if ((extra?.shape[3] ?? 0) !== c.extraFrames || (extra && extra.shape.slice(0, 3).some((d, i) => d !== pred.shape[i]))) {
    throw new Error(`decodeFrame: this decoder reads ${c.extraFrames} extra frames [B, ${c.size}, ${c.size}, ${c.extraFrames}], got ${extra ? `[${extra.shape}]` : 'none'}`);
  }
  if (!p.decoder.latent !== (zq === null || u === null)) {
    throw new Error(`decodeFrame: ${p.decoder.latent ? 'this decoder needs the content latent and its dither' : 'this decoder has no content latent (rate 1)'}`);
  }
  const frames = extra ? tf.concat([pred, extra], 3) : pred;
  // Context maps at size/2, size/4, ..., the bottom.
  const maps: tf.Tensor4D[] = [];
  let f = frames;
  for (const b of Object.values(p.context.blocks)) maps.push((f = down(b, f, ctx)));
  const blocks = Object.values(p.decoder.blocks);
  let h = maps.pop()!;
  if (p.decoder.latent) h = tf.concat([latentMap(p.decoder.latent, c, zq!, u!, ctx), h], 3);
  blocks.forEach((b, i) => {
    h = up(b, h, ctx);
    // The same-resolution context (the raw frames at full resolution) joins the next stage.
    h = tf.concat([h, i + 1 < blocks.length ? maps.pop()! : frames], 3);
  });
  return tf.sigmoid(conv(p.decoder.out, h, 1));
}
