/**
 * A group-of-pictures model: an I-frame model (or, at R1 = inf, the first frame itself) and one
 * P-frame codec per later frame position (the paper trains a model per position). Every
 * position has one encoder side (motion encoder, flow decoder, content encoder: the
 * representation) and up to three decoders on it (DECODERS): mmse, fmd and jd, the last reading
 * its own outputs of every earlier frame.
 */
import type { RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import { initCritic, type CriticParams } from './critic.ts';
import { criticPrefix, DECODERS, type CriticKind, type DecoderName } from './decoders.ts';
import { disposeIFrameModel, iframeFromArrays, iframeGroups, type CriticSpec, type IFrameModel, type IFrameModelConfig } from './iframe.ts';
import { assignParams, disposeParams, type ParamTree } from './params.ts';
import { initPFrameDecoder, initPFrameEncoder, pframeConfigFor, type PFrameConfig, type PFrameDecoderConfig, type PFrameDecoderParams, type PFrameEncoderParams } from './pframe.ts';
import type { NamedArrays } from './tensor-file.ts';

export interface GopModelConfig {
  kind: 'gop';
  size: number;
  /** The rate of every frame: frame 1 (the I-frame) at '12' or 'inf', then the P-frames. */
  rates: RateName[];
  /** The I-frame network when rates[0] is not 'inf'. */
  iframe?: IFrameModelConfig;
  /** The P-frame networks' stride-2 stack widths (every position has the same shape). */
  pframeWidths: number[];
  /** The critics' shape, for positions trained with perception. */
  critic?: CriticSpec;
  /**
   * The P-frame latents' BatchNorm without a learned shift: each latent's pre-tanh batch mean
   * stays 0. With one, the single motion bit of pframe-inf-2 settled on one side for 91% of the
   * sequences (0.42 bits of its 1; docs/results/pframe.md).
   */
  centredLatents?: boolean;
  /**
   * The 0-PLF-JD decoder reads its own earlier outputs warped by this frame's decoded flow (as
   * the prediction is warped from the MMSE reference), rather than where they were: to stay
   * consistent with its own past (keep frame 1's digit) it then need not learn the motion
   * itself. Frames at rate inf have no flow; there it reads them as they are.
   */
  warpedPast?: boolean;
}

/**
 * One P-frame position (frame t >= 2). At rate inf the decoders receive the frame itself: no
 * encoder, and the mmse and fmd decoders are the identity; only a jd decoder has networks.
 */
export interface PFramePosition {
  net: PFrameConfig;
  enc?: PFrameEncoderParams;
  decoders: Partial<Record<DecoderName, PFrameDecoderParams>>;
  critics: Partial<Record<CriticKind, CriticParams>>;
}

export interface GopModel {
  config: GopModelConfig;
  iframe?: IFrameModel;
  /** pframes[k] codes frame k + 2. */
  pframes: PFramePosition[];
}

/** Weight-file prefix of the I-frame and of the position coding 1-based frame `frame`. */
export const IFRAME_PREFIX = 'i';
export const positionPrefix = (frame: number) => `p${frame}`;

function checkConfig(c: GopModelConfig): void {
  if (c.rates.length < 2) throw new UserError(`a GOP model needs 2 or more frames, got rates ${c.rates.join(',')}`);
  if ((c.rates[0] === 'inf') !== (c.iframe === undefined)) throw new UserError('a GOP model has an I-frame network exactly when its first rate is not inf');
}

/** Position groups by weight-file name, for a frame (1-based). */
export function positionGroups(p: PFramePosition, frame: number): Record<string, ParamTree> {
  const pre = positionPrefix(frame);
  const groups: Record<string, ParamTree> = p.enc ? { [`${pre}.enc`]: p.enc } : {};
  for (const [name, d] of Object.entries(p.decoders)) groups[`${pre}.${DECODERS[name as DecoderName].prefix}`] = d;
  for (const [kind, c] of Object.entries(p.critics)) groups[`${pre}.${criticPrefix(kind as CriticKind)}`] = c;
  return groups;
}

export function gopGroups(m: GopModel): Record<string, ParamTree> {
  const groups: Record<string, ParamTree> = {};
  if (m.iframe) for (const [k, t] of Object.entries(iframeGroups(m.iframe))) groups[`${IFRAME_PREFIX}.${k}`] = t;
  m.pframes.forEach((p, k) => Object.assign(groups, positionGroups(p, k + 2)));
  return groups;
}

/** Seed offsets per position, so positions start from independent weights. */
const positionSeed = (seed: number, frame: number) => seed + 100 * frame;

/** The joint critic of frame `frame` reads all frames so far stacked as channels. */
export function initPositionCritic(c: GopModelConfig, kind: CriticKind, frame: number, seed: number): CriticParams {
  if (!c.critic) throw new Error('the GOP config has no critic spec');
  const joint = kind === 'joint';
  const widths = joint ? (c.critic.jointWidths ?? c.critic.widths) : c.critic.widths;
  return initCritic({ widths, spectralNorm: c.critic.spectralNorm, size: c.size, frames: joint ? frame : 1 }, positionSeed(seed, frame) + (joint ? 8 : 7));
}

/** Whether position p decodes with `name` (at rate inf, mmse and fmd are the identity). */
export const hasDecoder = (p: PFramePosition, name: DecoderName): boolean => p.decoders[name] !== undefined || (!p.enc && name !== 'jd');

/**
 * A fresh position for 1-based frame `frame` with the given decoders (their extra inputs from the
 * decoder table); at rate inf only the jd decoder has networks.
 */
export function initPosition(c: GopModelConfig, frame: number, seed: number, decoders: DecoderName[]): PFramePosition {
  const net = { ...pframeConfigFor(c.pframeWidths, c.rates[frame - 1]!, c.size), ...(c.centredLatents ? { centredLatents: true } : {}) };
  const s = positionSeed(seed, frame);
  const p: PFramePosition = { net, ...(net.motion ? { enc: initPFrameEncoder(net, s) } : {}), decoders: {}, critics: {} };
  for (const name of decoders) if (net.motion || name === 'jd') p.decoders[name] = initPFrameDecoder(decoderConfig(net, name, frame), s);
  return p;
}

/** A decoder's network config at a position: the jd decoder reads its own outputs of the frame - 1 earlier frames. */
export const decoderConfig = (net: PFrameConfig, name: DecoderName, frame: number): PFrameDecoderConfig => ({ ...net, extraFrames: DECODERS[name].ownPast ? frame - 1 : 0 });

/** The model held by named arrays: which decoders and critics each position has is read off their names. */
export function gopFromArrays(c: GopModelConfig, arrays: NamedArrays, source: string): GopModel {
  checkConfig(c);
  const has = (prefix: string) => [...arrays.keys()].some((k) => k.startsWith(`${prefix}.`));
  const sub = (prefix: string): NamedArrays => new Map([...arrays].filter(([k]) => k.startsWith(`${prefix}.`)).map(([k, v]) => [k.slice(prefix.length + 1), v]));
  const m: GopModel = { config: c, pframes: [] };
  if (c.iframe) m.iframe = iframeFromArrays(c.iframe, sub(IFRAME_PREFIX), `${source} (I-frame)`);
  for (let frame = 2; frame <= c.rates.length; frame++) {
    const pre = positionPrefix(frame);
    const inf = c.rates[frame - 1] === 'inf';
    if (!inf && !has(`${pre}.enc`)) throw new UserError(`${source}: the file has no encoder for frame ${frame} ('${pre}.enc.*' tensors)`);
    const p = initPosition(c, frame, 0, (Object.keys(DECODERS) as DecoderName[]).filter((n) => has(`${pre}.${DECODERS[n].prefix}`)));
    for (const kind of ['marginal', 'joint'] as const) if (has(`${pre}.${criticPrefix(kind)}`)) p.critics[kind] = initPositionCritic(c, kind, frame, 0);
    if (!inf && !p.decoders.mmse) throw new UserError(`${source}: the file has no MMSE decoder for frame ${frame}`);
    for (const [prefix, tree] of Object.entries(positionGroups(p, frame))) assignParams(tree, arrays, source, prefix);
    m.pframes.push(p);
  }
  return m;
}

export function disposeGopModel(m: GopModel): void {
  if (m.iframe) disposeIFrameModel(m.iframe);
  for (const p of m.pframes) for (const t of Object.values(positionGroups(p, 2))) disposeParams(t);
}
