/**
 * What every model kind offers for sequences: an encoder side that turns a batch of groups of
 * pictures into messages (running whatever decoding loop the encoder needs for its references),
 * and one decoding loop per decoder over those messages. Evaluation, files and training's
 * scoring all go through this, so a score is what decoding a file gives.
 */
import type { tf } from '../engine/index.ts';
import type { RateName } from '../codec/rates.ts';
import type { DecoderName } from '../models/decoders.ts';

/** One latent as the decoder receives it: the dequantized level zq = level - u and the dither u, [B, d]. */
export interface Received {
  zq: tf.Tensor2D;
  u: tf.Tensor2D;
}

/** One frame's message for a batch: its latents in send order, or at rate inf the frame itself (8-bit, as a file carries it). */
export interface FrameMessage {
  latents: Received[];
  raw?: tf.Tensor4D;
}

/** Where a batch sits in a file: its dither seed and the index of its first group of pictures. */
export interface DitherKey {
  seed: number;
  firstGop: number;
}

export interface Encoded {
  /** Per frame of the GOP. */
  messages: FrameMessage[];
  /** Per frame, the latents before quantization ([B, d] each, send order): the bitstream's symbols come from these. */
  latents: tf.Tensor2D[][];
}

export interface VideoCodec {
  /** Frame height and width. */
  size: number;
  /** The rate of each frame of a group of pictures (its length is the GOP). */
  rates: RateName[];
  /** The decoders this model has. */
  decoders: DecoderName[];
  /** frames[t] is frame t of each GOP of the batch, [B, size, size, 1] in [0, 1]. */
  encode(frames: tf.Tensor4D[], key: DitherKey): Encoded;
  /** One decoder's loop over a batch's messages: frame t of each GOP, [B, size, size, 1]. */
  decode(decoder: DecoderName, messages: FrameMessage[]): tf.Tensor4D[];
}
