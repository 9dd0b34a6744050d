/**
 * Sequences to .rdpv files and back, for any model kind (through its VideoCodec). The file
 * names the weights by sha256, so a decoder refuses a file made by other weights. Compressing
 * runs the same encoder side as evaluation, and decompressing rebuilds exactly the messages the
 * encoder produced (same symbols, same dither), so every decoder outputs what the model computes.
 */
import { tf } from '../engine/index.ts';
import { readRdpv, writeRdpv, type RdpvHeader } from '../codec/container.ts';
import { fromPixels, packPayload, toPixels, unpackPayload, type FramePayload } from '../codec/payload.ts';
import { decodeLatent, ditherTensor, encodeLatent } from '../codec/quantizer.ts';
import { frameSpec, type RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import type { DecoderName } from '../models/decoders.ts';
import type { LoadedModel, Model } from '../models/model-file.ts';
import type { GopModel } from '../models/gop.ts';
import type { IFrameModel } from '../models/iframe.ts';
import { gopCodec } from './gop.ts';
import { iframeCodec } from './iframe.ts';
import type { FrameMessage, VideoCodec } from './types.ts';

export const videoCodec = (m: Model): VideoCodec => (m.config.kind === 'iframe' ? iframeCodec(m as IFrameModel) : gopCodec(m as GopModel));

/** Called after each batch of groups of pictures: how many are done, of how many. */
export type Progress = (done: number, total: number) => void;

/** Sequences per encoder batch. */
const BATCH = 64;

/** Frame t of each of n sequences of [.., T, size, size] values starting at sequence s. */
function frameTensor(frames: Float32Array, s: number, n: number, T: number, t: number, size: number): tf.Tensor4D {
  const per = size * size;
  const out = new Float32Array(n * per);
  for (let b = 0; b < n; b++) out.set(frames.subarray(((s + b) * T + t) * per, ((s + b) * T + t + 1) * per), b * per);
  return tf.tensor4d(out, [n, size, size, 1]);
}

/**
 * The rates of groups of `gop` frames (default: the model's GOP length): a model codes any
 * prefix of its group, since frame t's networks read frames 1..t only.
 */
export function gopRates(codec: VideoCodec, gop = codec.rates.length): RateName[] {
  if (!Number.isInteger(gop) || gop < 1 || gop > codec.rates.length) {
    throw new UserError(`GOP ${gop}: this model codes groups of 1 to ${codec.rates.length} frames (rates ${codec.rates.join(',')})`);
  }
  return codec.rates.slice(0, gop);
}

/**
 * Sequences [N, T, size, size] in [0, 1], row-major, to an .rdpv file with dither seed `seed`;
 * T is `gop`, by default the model's GOP length. The payload is exactly the rate budget:
 * ceil(sum of bits / 8) bytes. Asynchronous: latents are read back with `await` (a GPU backend
 * in Node reads no other way).
 */
export async function compress(lm: LoadedModel, frames: Float32Array, seed: number, onProgress?: Progress, gop?: number): Promise<Uint8Array> {
  const codec = videoCodec(lm.model);
  const size = codec.size;
  const rates = gopRates(codec, gop);
  const T = rates.length;
  const count = frames.length / (T * size * size);
  if (!Number.isInteger(count) || count < 1) throw new UserError(`expected whole groups of ${T} frames of ${size}x${size}, got ${frames.length} values`);
  const header: RdpvHeader = {
    modelId: lm.id, weightsSha256: lm.sha256, width: size, height: size,
    frameCount: count * T, gop: T, rates: Array.from({ length: count * T }, (_, j) => rates[j % T]!), ditherSeed: seed >>> 0,
  };
  const payloads: FramePayload[] = [];
  for (let s = 0; s < count; s += BATCH) {
    const n = Math.min(BATCH, count - s);
    const latents = tf.tidy(() => codec.encode(rates.map((_, t) => frameTensor(frames, s, n, T, t, size)), { seed: header.ditherSeed, firstGop: s }).latents);
    const perFrame = await Promise.all(latents.map((ls) => Promise.all(ls.map((z) => z.array()))));
    tf.dispose(latents);
    for (let b = 0; b < n; b++) {
      rates.forEach((rate, t) => {
        const frame = (s + b) * T + t;
        const latents = perFrame[t]!.map((z) => z[b]!);
        const levels = frameSpec(t === 0 ? 'I' : 'P', rate).latents[0]?.levels ?? 2;
        const symbols = encodeLatent(latents.flat(), levels, header.ditherSeed, frame);
        const pixels = rate === 'inf' ? toPixels(frames.subarray(frame * size * size, (frame + 1) * size * size)) : undefined;
        payloads.push({ symbols, ...(pixels ? { pixels } : {}) });
      });
    }
    onProgress?.(s + n, count);
  }
  return writeRdpv(header, packPayload(header, payloads));
}

/** The messages of GOPs s..s+n-1 of a file, as the encoder produced them. */
function messagesOf(header: RdpvHeader, frames: FramePayload[], s: number, n: number): FrameMessage[] {
  const T = header.gop;
  const size = header.width;
  return Array.from({ length: T }, (_, t) => {
    const spec = frameSpec(t === 0 ? 'I' : 'P', header.rates[t]!);
    if (header.rates[t] === 'inf') {
      const px = new Float32Array(n * size * size);
      for (let b = 0; b < n; b++) px.set(fromPixels(frames[(s + b) * T + t]!.pixels!), b * size * size);
      return { latents: [], raw: tf.tensor4d(px, [n, size, size, 1]) };
    }
    let offset = 0;
    const latents = spec.latents.map(({ dims, levels }) => {
      const zq = new Float32Array(n * dims);
      for (let b = 0; b < n; b++) {
        const frame = (s + b) * T + t;
        zq.set(decodeLatent(frames[frame]!.symbols, levels, header.ditherSeed, frame).subarray(offset, offset + dims), b * dims);
      }
      const u = ditherTensor(header.ditherSeed, s * T + t, [n, dims], levels, offset, T) as tf.Tensor2D;
      offset += dims;
      return { zq: tf.tensor2d(zq, [n, dims]), u };
    });
    return { latents };
  });
}

/** Decode every frame of a file with one decoder: [frameCount, size, size] in [0, 1], file order (asynchronous, as compress). */
export async function decompress(lm: LoadedModel, bytes: Uint8Array, decoder: DecoderName, onProgress?: Progress): Promise<{ header: RdpvHeader; frames: Float32Array }> {
  const { header, payload } = readRdpv(bytes);
  if (header.weightsSha256 !== lm.sha256) {
    throw new UserError(`the file was encoded by model '${header.modelId}' (weights ${header.weightsSha256.slice(0, 12)}...), not by these weights (${lm.sha256.slice(0, 12)}...)`);
  }
  const codec = videoCodec(lm.model);
  const T = header.gop;
  if (T > codec.rates.length || header.frameCount % T !== 0 || header.rates.some((r, j) => r !== codec.rates[j % T])) {
    throw new UserError(`this model codes groups of up to ${codec.rates.length} at rates ${codec.rates.join(',')}; the file has GOP ${header.gop} and rates ${[...new Set(header.rates)].join(', ')}`);
  }
  const payloads = unpackPayload(header, payload);
  const size = header.width;
  const out = new Float32Array(header.frameCount * size * size);
  const count = header.frameCount / T;
  for (let s = 0; s < count; s += BATCH) {
    const n = Math.min(BATCH, count - s);
    const ys = tf.tidy(() => codec.decode(decoder, messagesOf(header, payloads, s, n)));
    const decoded = (await Promise.all(ys.map((y) => y.data()))) as Float32Array[];
    tf.dispose(ys);
    for (let b = 0; b < n; b++) decoded.forEach((y, t) => out.set(y.subarray(b * size * size, (b + 1) * size * size), ((s + b) * T + t) * size * size));
    onProgress?.(s + n, count);
  }
  return { header, frames: out };
}
