/**
 * The loops of a group of pictures. The encoder side runs the MMSE decoding loop: each
 * P-frame's reference is the MMSE reconstruction of the frame before (or, at R1 = inf, the
 * first frame itself), so there is one representation for every decoder. A decoder rebuilds
 * the same references from the messages, then decodes each frame with its own networks; the
 * jd decoder also reads its own outputs of every earlier frame.
 */
import { tf } from '../engine/index.ts';
import { ditherTensor, quantizeTensor } from '../codec/quantizer.ts';
import { UserError } from '../errors.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import { decoderConfig, hasDecoder, type GopModel, type PFramePosition } from '../models/gop.ts';
import { decode as decodeIFrame, encode as encodeIFrame, iframeDecoder } from '../models/iframe.ts';
import { evalCtx, type Ctx } from '../models/layers.ts';
import { decodeFlow, decodeFrame, encodeContent, encodeMotion } from '../models/pframe.ts';
import { scaleSpaceWarp } from '../models/warp.ts';
import type { DitherKey, Encoded, FrameMessage, Received, VideoCodec } from './types.ts';

/** Frames in [0, 1] rounded to the 8-bit levels a rate-inf frame carries in a file (codec/payload.ts rounds half up). */
export const toPixelLevels = (x: tf.Tensor4D): tf.Tensor4D => tf.div(tf.floor(tf.add(tf.mul(tf.clipByValue(x, 0, 1), 255), 0.5)), 255);

/** The dither of every latent of every frame of a batch: [frame][latent] tensors [B, d]. */
export type Dithers = tf.Tensor2D[][];

/** The latent layout of each frame: [dims, levels] per latent, in send order. */
export function latentLayout(m: GopModel): { dims: number; levels: number }[][] {
  return m.config.rates.map((_, t) => {
    if (t === 0) return m.iframe ? [{ dims: m.iframe.net.dims, levels: m.iframe.net.levels }] : [];
    const net = m.pframes[t - 1]!.net;
    return [...(net.motion ? [net.motion] : []), ...(net.content ? [net.content] : [])];
  });
}

/**
 * A file's dither for GOPs firstGop.. of a batch of B groups of T frames (default: the model's
 * GOP length; fewer code a prefix of it): frame t of GOP g is file frame g * T + t.
 */
export function fileDithers(m: GopModel, key: DitherKey, B: number, T = m.config.rates.length): Dithers {
  return latentLayout(m).slice(0, T).map((latents, t) => {
    let offset = 0;
    return latents.map(({ dims, levels }) => {
      const u = ditherTensor(key.seed, key.firstGop * T + t, [B, dims], levels, offset, T) as tf.Tensor2D;
      offset += dims;
      return u;
    });
  });
}

/** Flow field and prediction of P-frame position p from its motion message and the reference. */
function predict(p: PFramePosition, motion: Received, ref: tf.Tensor4D, ctx: Ctx): { field: tf.Tensor4D; pred: tf.Tensor4D } {
  const field = decodeFlow(p.enc!, p.net, motion.zq, motion.u, ctx);
  return { field, pred: scaleSpaceWarp(ref, field) };
}

/**
 * What a 0-PLF-JD decoder reads of its own earlier outputs (stacked as channels): warped by the
 * current frame's flow field when the model says so (GopModelConfig.warpedPast) and there is one.
 */
export function jdPast(m: GopModel, past: tf.Tensor4D, field: tf.Tensor4D | undefined): tf.Tensor4D {
  return m.config.warpedPast && field ? scaleSpaceWarp(past, field) : past;
}

/** Decoder `name` of position p (0-based frame t) on the content message (none at rate 1), the prediction and its extra frames. */
export function frameOf(p: PFramePosition, name: DecoderName, t: number, content: Received | undefined, pred: tf.Tensor4D, extra: tf.Tensor4D | null, ctx: Ctx): tf.Tensor4D {
  return decodeFrame(p.decoders[name]!, decoderConfig(p.net, name, t + 1), content?.zq ?? null, content?.u ?? null, pred, extra, ctx);
}

export interface EncoderLoop extends Encoded {
  /** The MMSE reconstruction of every frame (the references). */
  recon: tf.Tensor4D[];
  /** Every P-frame's prediction (index t; undefined at t = 0). */
  preds: tf.Tensor4D[];
  /** Every P-frame's flow field (index t; undefined at t = 0 and at rate inf). */
  fields: tf.Tensor4D[];
}

/** The encoder side over frames xs (as many as given, up to the GOP), frozen (eval mode, hard quantizer). */
export function encodeGop(m: GopModel, xs: tf.Tensor4D[], dithers: Dithers): EncoderLoop {
  const ctx = evalCtx();
  const out: EncoderLoop = { messages: [], latents: [], recon: [], preds: [], fields: [] };
  xs.forEach((x, t) => {
    const p = m.pframes[t - 1];
    if (t === 0 ? !m.iframe : !p!.enc) {
      // Rate inf: the frame itself, as a file carries it.
      const raw = toPixelLevels(x);
      out.messages.push({ latents: [], raw });
      out.latents.push([]);
      out.recon.push(raw);
      return;
    }
    if (t === 0) {
      const iframe = m.iframe!;
      const z = encodeIFrame(iframe.enc, x, ctx);
      const u = dithers[0]![0]!;
      const r = { zq: quantizeTensor(z, u, iframe.net.levels, 'hard'), u };
      out.messages.push({ latents: [r] });
      out.latents.push([z]);
      out.recon.push(decodeIFrame(iframe.decoders.mmse!, iframe.net, r.zq, r.u, ctx));
      return;
    }
    const enc = p!.enc!;
    const ref = out.recon[t - 1]!;
    const zm = encodeMotion(enc, x, ref, ctx);
    const motion = { zq: quantizeTensor(zm, dithers[t]![0]!, p!.net.motion!.levels, 'hard'), u: dithers[t]![0]! };
    const { field, pred } = predict(p!, motion, ref, ctx);
    const latents: tf.Tensor2D[] = [zm];
    const received: Received[] = [motion];
    if (p!.net.content) {
      const zc = encodeContent(enc, x, pred, ctx);
      latents.push(zc);
      received.push({ zq: quantizeTensor(zc, dithers[t]![1]!, p!.net.content.levels, 'hard'), u: dithers[t]![1]! });
    }
    out.messages.push({ latents: received });
    out.latents.push(latents);
    out.preds[t] = pred;
    out.fields[t] = field;
    out.recon.push(frameOf(p!, 'mmse', t, received[1], pred, null, ctx));
  });
  return out;
}

/** One decoder's loop over the messages of the first messages.length frames. */
export function decodeGop(m: GopModel, name: DecoderName, messages: FrameMessage[]): tf.Tensor4D[] {
  const ctx = evalCtx();
  const missing = () => new UserError(`the model has no ${DECODERS[name].title} decoder`);
  const out: tf.Tensor4D[] = [];
  let ref: tf.Tensor4D | undefined;
  messages.forEach((msg, t) => {
    if (t === 0) {
      if (msg.raw) {
        ref = msg.raw;
        out.push(msg.raw);
        return;
      }
      const [{ zq, u }] = msg.latents as [Received];
      const dec = iframeDecoder(m.iframe!, name);
      if (!dec) throw missing();
      ref = decodeIFrame(m.iframe!.decoders.mmse!, m.iframe!.net, zq, u, ctx);
      out.push(name === 'mmse' ? ref : decodeIFrame(dec, m.iframe!.net, zq, u, ctx));
      return;
    }
    const p = m.pframes[t - 1]!;
    if (msg.raw) {
      // Rate inf: mmse and fmd output the frame; jd makes it consistent with its own past.
      ref = msg.raw;
      if (name === 'jd' && !p.decoders.jd) throw missing();
      out.push(name === 'jd' ? frameOf(p, 'jd', t, undefined, msg.raw, tf.concat(out, 3) as tf.Tensor4D, ctx) : msg.raw);
      return;
    }
    const { field, pred } = predict(p, msg.latents[0]!, ref!, ctx);
    const content = msg.latents[1];
    ref = frameOf(p, 'mmse', t, content, pred, null, ctx);
    if (name === 'mmse') return out.push(ref);
    if (!p.decoders[name]) throw missing();
    out.push(frameOf(p, name, t, content, pred, DECODERS[name].ownPast ? jdPast(m, tf.concat(out, 3) as tf.Tensor4D, field) : null, ctx));
  });
  return out;
}

export function gopCodec(m: GopModel): VideoCodec {
  const last = m.pframes.at(-1)!;
  return {
    size: m.config.size,
    rates: m.config.rates,
    decoders: (Object.keys(DECODERS) as DecoderName[]).filter((n) => hasDecoder(last, n)),
    encode(frames, key) {
      const { messages, latents } = encodeGop(m, frames, fileDithers(m, key, frames[0]!.shape[0], frames.length));
      return { messages, latents };
    },
    decode: (name, messages) => decodeGop(m, name, messages),
  };
}
