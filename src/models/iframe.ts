/**
 * The I-frame codec: a DCGAN-style conv encoder to a d-dim tanh latent, the shared-randomness
 * quantizer, and a mirrored transposed-conv decoder with a sigmoid output. The 4x4 'valid'
 * conv of the paper's code between the 4x4 feature map and the 1x1 latent (and its mirror in
 * the decoder) is a dense layer on the flattened map: the same function, written as a matmul.
 */
import { tf } from '../engine/index.ts';
import { frameSpec, type RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import { initCritic, type CriticParams } from './critic.ts';
import { criticPrefix, DECODERS, type CriticKind, type DecoderName } from './decoders.ts';
import {
  batchNorm, conv, convTranspose, dense, initBatchNorm, initConv, initDense, leakyRelu,
  type BatchNormParams, type ConvParams, type Ctx,
} from './layers.ts';
import { assignParams, disposeParams, type ParamTree } from './params.ts';
import type { NamedArrays } from './tensor-file.ts';

export interface IFrameConfig {
  /** Channels of the stride-2 conv stack, e.g. the paper's [64, 128, 256, 512]. */
  widths: number[];
  /** Frame height and width (square); the stack must bring it to 4x4 or more. */
  size: number;
  /** Latent dimension d. */
  dims: number;
}

/** A marginal or joint critic's shape, as a model file records it. */
export interface CriticSpec {
  widths: number[];
  spectralNorm: boolean;
  /**
   * The joint critic's widths (default: widths). Whether frame 2 shows frame 1's digit is what a
   * joint critic must see, and at 16-128 channels it does not (docs/results/pframe.md).
   */
  jointWidths?: number[];
}

/** What a weight file must know to rebuild an I-frame model (training settings live elsewhere). */
export interface IFrameModelConfig {
  kind: 'iframe';
  size: number;
  widths: number[];
  rate: RateName;
  /** The marginal critic's shape, when the model carries one (perception-stage files). */
  critic?: CriticSpec;
}

/** The I-frame network's shape at a rate: its latent layout comes from the codec's rate table. */
export function iframeConfigFor(m: Pick<IFrameModelConfig, 'widths' | 'rate' | 'size'>): IFrameConfig & { levels: number } {
  const latent = frameSpec('I', m.rate).latents[0];
  if (!latent) throw new RangeError(`rate ${m.rate} has no I-frame latent`);
  return { widths: m.widths, size: m.size, dims: latent.dims, levels: latent.levels };
}

interface Block extends ParamTree {
  conv: ConvParams;
  bn: BatchNormParams;
}

export interface EncoderParams extends ParamTree {
  blocks: Record<string, Block>;
  latent: ConvParams;
  latentBn: BatchNormParams;
}

export interface DecoderParams extends ParamTree {
  latent: ConvParams;
  latentBn: BatchNormParams;
  blocks: Record<string, Block>;
  out: ConvParams;
}

const bottom = (c: IFrameConfig) => c.size >> c.widths.length;
const flatSize = (c: IFrameConfig) => bottom(c) ** 2 * c.widths.at(-1)!;

function checkConfig(c: IFrameConfig): void {
  if (c.widths.length === 0 || bottom(c) < 1 || bottom(c) << c.widths.length !== c.size) {
    throw new Error(`I-frame config: size ${c.size} is not divisible by 2^${c.widths.length}`);
  }
}

/**
 * Initial scale of the normalised pre-tanh latent. With the dither, a latent bit is random
 * unless |z| is near 1; a gain above 1 starts most latents in saturation, a near-deterministic
 * code, which an MMSE decoder prefers. Mean training MSE of iframe-cpu-mse over steps 2000-3000:
 * 0.0146, 0.0142 and 0.0139 for gains 1, 3 and 6 (docs/results/iframe.md).
 */
const LATENT_GAIN = 6;

/** Layer keys: encoder 1-99, decoder 100-199 within a seed, so the two inits are independent. */
export function initEncoder(c: IFrameConfig, seed: number): EncoderParams {
  checkConfig(c);
  const blocks: Record<string, Block> = {};
  c.widths.forEach((w, i) => {
    blocks[`b${i}`] = { conv: initConv(seed, 1 + i, 4, i === 0 ? 1 : c.widths[i - 1]!, w), bn: initBatchNorm(w) };
  });
  return { blocks, latent: initDense(seed, 50, flatSize(c), c.dims), latentBn: initBatchNorm(c.dims, LATENT_GAIN) };
}

export function initDecoder(c: IFrameConfig, seed: number): DecoderParams {
  checkConfig(c);
  const rev = [...c.widths].reverse();
  const blocks: Record<string, Block> = {};
  for (let i = 0; i + 1 < rev.length; i++) {
    blocks[`b${i}`] = { conv: initConv(seed, 101 + i, 4, rev[i]!, rev[i + 1]!, true), bn: initBatchNorm(rev[i + 1]!) };
  }
  return {
    latent: initDense(seed, 100, 2 * c.dims, flatSize(c)),
    latentBn: initBatchNorm(flatSize(c)),
    blocks,
    out: initConv(seed, 150, 4, c.widths[0]!, 1, true),
  };
}

/** [B, H, W, 1] frames in [0,1] to [B, d] latents in (-1, 1). */
export function encode(p: EncoderParams, x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D {
  let h = x;
  for (const b of Object.values(p.blocks)) h = leakyRelu(batchNorm(b.bn, conv(b.conv, h, 2), ctx));
  const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  return tf.tanh(batchNorm(p.latentBn, dense(p.latent, flat), ctx));
}

/**
 * [B, d] dequantized latents zq = level - u and their dither u to [B, H, W, 1] frames in (0, 1).
 * The decoder reads the level (zq + u) and the dither as two inputs: the same information as
 * zq given u, but the level is then a linear read-out rather than a sign function of inputs in
 * which the dither acts as noise; u stays available as information about z (where a bit is
 * random) and as the perception decoders' randomness (docs/results/iframe.md).
 */
export function decode(p: DecoderParams, c: IFrameConfig, zq: tf.Tensor2D, u: tf.Tensor2D, ctx: Ctx): tf.Tensor4D {
  const s = bottom(c);
  const input = tf.concat([tf.add(zq, u), u], 1) as tf.Tensor2D;
  let h = leakyRelu(tf.reshape(batchNorm(p.latentBn, dense(p.latent, input), ctx), [zq.shape[0], s, s, c.widths.at(-1)!]) as tf.Tensor4D);
  for (const b of Object.values(p.blocks)) h = leakyRelu(batchNorm(b.bn, convTranspose(b.conv, h), ctx));
  return tf.sigmoid(convTranspose(p.out, h));
}

/**
 * A trained I-frame model: the encoder, the MMSE decoder, after the perception stage the
 * 0-PLF-FMD decoder and its marginal critic. For one frame the joint law is the marginal, so
 * the I-frame's 0-PLF-JD decoder is its 0-PLF-FMD decoder (`iframeDecoder`).
 */
export interface IFrameModel {
  config: IFrameModelConfig;
  net: IFrameConfig & { levels: number };
  enc: EncoderParams;
  decoders: Partial<Record<DecoderName, DecoderParams>>;
  critics: Partial<Record<CriticKind, CriticParams>>;
}

export function iframeDecoder(m: IFrameModel, name: DecoderName): DecoderParams | undefined {
  return m.decoders[name === 'jd' ? 'fmd' : name];
}

/** The model's weight-file groups: `enc`, one per decoder (its table prefix), one per critic. */
export function iframeGroups(m: IFrameModel): Record<string, ParamTree> {
  const groups: Record<string, ParamTree> = { enc: m.enc };
  for (const [name, p] of Object.entries(m.decoders)) groups[DECODERS[name as DecoderName].prefix] = p;
  for (const [kind, p] of Object.entries(m.critics)) groups[criticPrefix(kind as CriticKind)] = p;
  return groups;
}

const criticConfig = (c: IFrameModelConfig, spec: CriticSpec) => ({ widths: spec.widths, size: c.size, frames: 1, spectralNorm: spec.spectralNorm });

/** A fresh model (seeded); `decoders` says which decoders it has besides mmse's, a critic comes with the config's critic spec. */
export function initIFrameModel(config: IFrameModelConfig, seed: number, decoders: DecoderName[] = ['mmse']): IFrameModel {
  const net = iframeConfigFor(config);
  const m: IFrameModel = { config, net, enc: initEncoder(net, seed), decoders: {}, critics: {} };
  for (const name of decoders) m.decoders[name] = initDecoder(net, seed);
  if (config.critic) m.critics.marginal = initCritic(criticConfig(config, config.critic), seed + 7);
  return m;
}

/** The model held by named arrays (a weight file's tensors): which decoders it has is read off their names. */
export function iframeFromArrays(config: IFrameModelConfig, arrays: NamedArrays, source: string): IFrameModel {
  const has = (prefix: string) => [...arrays.keys()].some((k) => k.startsWith(`${prefix}.`));
  const names = (['mmse', 'fmd'] as const).filter((n) => has(DECODERS[n].prefix));
  if (!names.includes('mmse')) throw new UserError(`${source}: the file has no MMSE decoder ('${DECODERS.mmse.prefix}.*' tensors)`);
  if (has(criticPrefix('marginal')) !== (config.critic !== undefined)) throw new UserError(`${source}: the file's critic tensors and its config's critic disagree`);
  const m = initIFrameModel(config, 0, names);
  for (const [prefix, tree] of Object.entries(iframeGroups(m))) assignParams(tree, arrays, source, prefix);
  return m;
}

export function disposeIFrameModel(m: IFrameModel): void {
  for (const tree of Object.values(iframeGroups(m))) disposeParams(tree);
}
