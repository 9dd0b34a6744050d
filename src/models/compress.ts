/**
 * Real files from frames and back for the I-frame codec (the compress/decompress pair on
 * top of a trained model and the .rdpv container). A file names the model's weights by
 * sha256, so a decoder refuses a file made by other weights instead of decoding noise.
 */
import { tf } from '../engine/index.ts';
import { readRdpv, writeRdpv, type RdpvHeader } from '../codec/container.ts';
import { packPayload, unpackPayload } from '../codec/payload.ts';
import { decodeLatent, ditherTensor, encodeLatent } from '../codec/quantizer.ts';
import { isRateName, type RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import { critic, initCritic, type CriticParams } from './critic.ts';
import { decode, encode, iframeConfigFor, initDecoder, initEncoder, type DecoderParams, type EncoderParams, type IFrameConfig } from './iframe.ts';
import { evalCtx } from './layers.ts';
import { assignParams, disposeParams } from './params.ts';
import { decodeTensorFile } from './tensor-file.ts';
import { sha256Hex } from './weights-io.ts';

/** Which decoder reads the representation: the MMSE one, or the perception (0-PLF-FMD) one. */
export type IFrameDecoderName = 'mmse' | 'perception';

export interface IFrameModel {
  id: string;
  sha256: string;
  rate: RateName;
  config: IFrameConfig & { levels: number };
  enc: EncoderParams;
  decoders: Partial<Record<IFrameDecoderName, DecoderParams>>;
  /** The perception stage's marginal critic, when the file has one: it scores realism (W1 estimates). */
  critic?: CriticParams;
}

/**
 * A model file written by `rdpv train` (its metadata holds the training config). The
 * perception decoder is present only in files of the perception stage.
 */
export function loadIFrameModel(bytes: Uint8Array, source: string): IFrameModel {
  const { arrays, metadata } = decodeTensorFile(bytes, source);
  let train: { widths?: unknown; rate?: unknown; criticWidths?: unknown; spectralNorm?: unknown };
  try {
    train = JSON.parse(metadata.config ?? '');
  } catch {
    throw new UserError(`${source}: no training config in the file's metadata (not a model written by rdpv train?)`);
  }
  const rate = String(train.rate);
  if (!Array.isArray(train.widths) || !isRateName(rate)) throw new UserError(`${source}: the metadata's config has no I-frame widths and rate`);
  const config = iframeConfigFor(train.widths as number[], rate);
  const enc = initEncoder(config, 0);
  assignParams(enc, arrays, source, 'enc');
  const decoders: IFrameModel['decoders'] = {};
  for (const [name, prefix] of [['mmse', 'dec'], ['perception', 'pdec']] as const) {
    if (![...arrays.keys()].some((k) => k.startsWith(`${prefix}.`))) continue;
    const dec = initDecoder(config, 0);
    assignParams(dec, arrays, source, prefix);
    decoders[name] = dec;
  }
  if (!decoders.mmse) throw new UserError(`${source}: the file has no MMSE decoder ('dec.*' tensors)`);
  let critic: CriticParams | undefined;
  if ([...arrays.keys()].some((k) => k.startsWith('critic.'))) {
    if (!Array.isArray(train.criticWidths)) throw new UserError(`${source}: the file has a critic but its config has no criticWidths`);
    critic = initCritic({ widths: train.criticWidths as number[], size: config.size, frames: 1, spectralNorm: train.spectralNorm === true }, 0);
    assignParams(critic, arrays, source, 'critic');
  }
  return { id: metadata.preset ?? 'unnamed', sha256: sha256Hex(bytes), rate, config, enc, decoders, critic };
}

export function disposeIFrameModel(m: IFrameModel): void {
  disposeParams(m.enc);
  for (const d of Object.values(m.decoders)) disposeParams(d);
  if (m.critic) disposeParams(m.critic);
}

/**
 * The model's critic's W1 estimate between frames and their reconstructions (both [N, size,
 * size] in [0, 1]): mean score of the real frames minus that of the reconstructions.
 */
export function criticW1(m: IFrameModel, real: Float32Array, decoded: Float32Array): number {
  if (!m.critic) throw new UserError('the model has no critic (only perception-stage files carry one)');
  const { size } = m.config;
  const shape: [number, number, number, number] = [real.length / (size * size), size, size, 1];
  return tf.tidy(() => tf.sub(tf.mean(critic(m.critic!, tf.tensor4d(real, shape))), tf.mean(critic(m.critic!, tf.tensor4d(decoded, shape)))).dataSync()[0]!);
}

/** Frames [N, size, size] in [0, 1], row-major, to an .rdpv file of N I-frames (GOP 1) with dither seed `seed`. */
export function compressIFrames(m: IFrameModel, frames: Float32Array, seed: number): Uint8Array {
  const size = m.config.size;
  const count = frames.length / (size * size);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`expected whole ${size}x${size} frames, got ${frames.length} values`);
  const d = m.config.dims;
  const z = tf.tidy(() => encode(m.enc, tf.tensor4d(frames, [count, size, size, 1]), evalCtx()).dataSync() as Float32Array);
  const header: RdpvHeader = {
    modelId: m.id, weightsSha256: m.sha256, width: size, height: size,
    frameCount: count, gop: 1, rates: Array<RateName>(count).fill(m.rate), ditherSeed: seed >>> 0,
  };
  const payload = packPayload(header, Array.from({ length: count }, (_, j) => ({ symbols: encodeLatent(z.subarray(j * d, (j + 1) * d), m.config.levels, header.ditherSeed, j) })));
  return writeRdpv(header, payload);
}

/** Decode every frame of a file made by `compressIFrames` with the chosen decoder: [N, size, size] in [0, 1]. */
export function decompressIFrames(m: IFrameModel, bytes: Uint8Array, decoder: IFrameDecoderName): { header: RdpvHeader; frames: Float32Array } {
  const { header, payload } = readRdpv(bytes);
  if (header.weightsSha256 !== m.sha256) {
    throw new UserError(`the file was encoded by model '${header.modelId}' (weights ${header.weightsSha256.slice(0, 12)}...), not by these weights (${m.sha256.slice(0, 12)}...)`);
  }
  if (header.gop !== 1 || header.rates.some((r) => r !== m.rate)) {
    throw new UserError(`this model decodes I-frames at rate ${m.rate} only; the file has GOP ${header.gop} and rates ${[...new Set(header.rates)].join(', ')}`);
  }
  const dec = m.decoders[decoder];
  if (!dec) throw new UserError(`the model has no ${decoder} decoder`);
  const { dims, levels } = m.config;
  const shape: [number, number] = [header.frameCount, dims];
  const latents = new Float32Array(header.frameCount * dims);
  unpackPayload(header, payload).forEach((f, j) => latents.set(decodeLatent(f.symbols, levels, header.ditherSeed, j), j * dims));
  const frames = tf.tidy(() => decode(dec, m.config, tf.tensor2d(latents, shape), ditherTensor(header.ditherSeed, 0, shape, levels) as tf.Tensor2D, evalCtx()).dataSync() as Float32Array);
  return { header, frames };
}
