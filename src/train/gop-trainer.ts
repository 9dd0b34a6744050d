/**
 * Training one P-frame position of a group-of-pictures model (frame `config.frame`), with every
 * earlier position and the I-frame frozen:
 * - 'mse': motion encoder, flow decoder, content encoder and MMSE decoder, end to end, on the
 *   MMSE reference the encoder side produces (soft-quantizer gradient, hard forward);
 * - 'perception': encoders and MMSE decoder frozen (the representation is fixed); the 0-PLF-FMD
 *   decoder against a marginal critic on the frame, the 0-PLF-JD decoder, which reads its own
 *   earlier outputs, against a joint critic on all frames so far. Each step updates the decoders
 *   (against the critics as they are), then the critics on those decoders' outputs.
 * All randomness is a pure function of (seed, step), so a resumed run is the uninterrupted one.
 */
import { tf } from '../engine/index.ts';
import { binWidth, quantizeTensor } from '../codec/quantizer.ts';
import type { FrameSource } from '../data/source.ts';
import { frameOf as sequenceFrame } from '../data/source.ts';
import { UserError } from '../errors.ts';
import { critic, criticLoss, updateSpectralNorms } from '../models/critic.ts';
import { DECODERS } from '../models/decoders.ts';
import { gopGroups, initPosition, initPositionCritic, type GopModel, type GopModelConfig, type PFramePosition } from '../models/gop.ts';
import { initIFrameModel, type IFrameModel } from '../models/iframe.ts';
import { applyUpdates, scaleBatchNorm, trainCtx, type Ctx } from '../models/layers.ts';
import type { Model } from '../models/model-file.ts';
import { copyParams, flattenParams, type ParamTree } from '../models/params.ts';
import { decodeFlow, encodeContent, encodeMotion } from '../models/pframe.ts';
import { scaleSpaceWarp } from '../models/warp.ts';
import { Adam } from '../optim/adam.ts';
import { Rng } from '../rng.ts';
import { decodeGop, encodeGop, frameOf, jdPast, latentLayout, type Dithers } from '../video/gop.ts';
import type { TrainConfig } from './presets.ts';
import { drawRows, stepRows, WHOLE, type Replica } from './replica.ts';
import type { LossTensors, Trainer } from './trainer.ts';

const DITHER_STREAM = 0x44495448;
const EPS_STREAM = 0x45505331;

const mse = (a: tf.Tensor, b: tf.Tensor) => tf.mean(tf.squaredDifference(a, b)) as tf.Scalar;

/**
 * Copy `src` into `dst` where shapes match; a weight that differs only in its input channels
 * (a 0-PLF-JD decoder reads its past outputs as its last channels, one more each frame) gets
 * src's weights with zeros inserted before src's last `past` channels, so the new decoder starts
 * as src: the MMSE decoder (past 0), or the previous frame's JD decoder (its past frames, which
 * stay the most recent ones).
 */
function copyWidening(dst: ParamTree, src: ParamTree, past: number): void {
  const from = new Map(flattenParams(src));
  for (const [name, v] of flattenParams(dst)) {
    const s = from.get(name)!;
    if (s.shape.join() === v.shape.join()) v.assign(s);
    else {
      v.assign(tf.tidy(() => {
        const [own, old] = tf.split(s, [s.shape[2]! - past, past], 2);
        return tf.concat([own!, tf.zeros([...s.shape.slice(0, 2), v.shape[2]! - s.shape[2]!, s.shape[3]!]), old!], 2);
      }));
    }
  }
}

/**
 * Copy `src`, trained at another rate, into `dst`. An axis of `ds` latents becomes `dd` (the first
 * ones kept); an axis of 2 ds, a latent decoder's input (zq, u), keeps the first dd of each half.
 * A decoder without a content latent (dd = 0: rate 1) reads only the context map at its first
 * stage, which follows the latent map in the source's input channels: it keeps those last ones.
 * Any other shape must match. A weight src lacks stays as initialised.
 */
function copyOtherRate(dst: ParamTree | undefined, src: ParamTree | undefined, ds: number, dd: number): void {
  if (!dst || !src) return;
  const from = new Map(flattenParams(src));
  for (const [name, v] of flattenParams(dst)) {
    const s = from.get(name);
    if (!s) continue;
    v.assign(tf.tidy(() => v.shape.reduce<tf.Tensor>((t, n, axis) => {
      const m = t.shape[axis]!;
      const take = (at: number, size: number) => tf.slice(t, t.shape.map((_, a) => (a === axis ? at : 0)), t.shape.map((k, a) => (a === axis ? size : k)));
      if (m === n) return t;
      if (m === ds && n === dd) return take(0, dd);
      if (m === 2 * ds && n === 2 * dd) return tf.concat([take(0, dd), take(ds, dd)], axis);
      if (dd === 0 && ds > 0 && m > n) return take(m - n, n);
      throw new UserError(`fromOtherRate: weight '${name}' has shape [${s.shape}] in the model to start from and [${v.shape}] here`);
    }, s)));
  }
}

export class GopTrainer implements Trainer {
  readonly m: GopModel;
  /** 0-based index of the trained frame; pframes[k - 1] is its position. */
  private readonly k: number;
  private readonly pos: PFramePosition;
  private codecOpt: Adam;
  private criticOpt?: Adam;

  /** The perception decoders this stage trains: fmd and jd, or at rate inf jd only (fmd is the identity there). */
  private readonly trained: ('fmd' | 'jd')[];

  constructor(readonly config: TrainConfig, private readonly source: FrameSource, private readonly replica: Replica = WHOLE) {
    const c = config.model as GopModelConfig;
    const frame = config.frame;
    if (frame === undefined || frame < 2 || frame > c.rates.length) throw new UserError(`a GOP preset trains one P-frame: frame must be in [2, ${c.rates.length}]`);
    this.k = frame - 1;
    const inf = c.rates[this.k] === 'inf';
    const perception = config.stage === 'perception';
    if (inf && !perception) throw new UserError(`frame ${frame} is at rate inf: it has no MSE stage (the decoder receives the frame), only a perception stage`);
    this.trained = inf ? ['jd'] : ['fmd', 'jd'];
    // The frozen I-frame's critic is neither trained nor read here, and a shipped model has none.
    const iframe = c.iframe && { ...c.iframe, critic: undefined };
    const m: GopModel = { config: { ...c, iframe, ...(perception ? { critic: config.critic } : {}) }, pframes: [] };
    if (c.iframe) m.iframe = initIFrameModel(iframe!, config.seed, c.iframe.critic ? ['mmse', 'fmd'] : ['mmse']);
    // Earlier positions are frozen and loaded by start(); they carry every decoder (jd's past outputs need theirs).
    for (let f = 2; f < frame; f++) m.pframes.push(initPosition(c, f, config.seed, ['mmse', 'fmd', 'jd']));
    this.pos = initPosition(c, frame, config.seed, perception ? ['mmse', 'fmd', 'jd'] : ['mmse']);
    m.pframes.push(this.pos);
    this.m = m;
    if (!perception) {
      this.codecOpt = new Adam({ enc: this.pos.enc!, mmse: this.pos.decoders.mmse! }, config.codecOptimizer, replica.reduce);
      return;
    }
    const decoders: Record<string, ParamTree> = {};
    const critics: Record<string, ParamTree> = {};
    for (const name of this.trained) {
      const kind = DECODERS[name].critic!;
      decoders[name] = this.pos.decoders[name]!;
      critics[kind] = this.pos.critics[kind] = initPositionCritic(m.config, kind, frame, config.seed);
    }
    this.codecOpt = new Adam(decoders, config.codecOptimizer, replica.reduce);
    this.criticOpt = new Adam(critics, config.criticOptimizer, replica.reduce);
  }

  model(): GopModel {
    return this.m;
  }

  checkpointGroups(): Record<string, ParamTree> {
    return { ...gopGroups(this.m), 'opt.codec': this.codecOpt.state, ...(this.criticOpt ? { 'opt.critic': this.criticOpt.state } : {}) };
  }

  /**
   * Take the frozen parts from `from`: an I-frame model (the first P-frame of R1 = 12), or a GOP
   * model with the earlier positions (and, for the perception stage, this one's encoder and
   * MMSE decoder). The new perception decoders start as the MMSE decoder.
   */
  start(from: Model | undefined): void {
    const m = this.m;
    const ownsEncoder = this.pos.enc !== undefined;
    if (from?.config.kind === 'iframe') {
      if (!m.iframe || this.k !== 1 || (this.config.stage !== 'mse' && ownsEncoder)) throw new UserError('only the first P-frame\'s first stage starts from an I-frame model');
      copyIFrame(m.iframe, from as IFrameModel);
    } else if (from) {
      const src = from as GopModel;
      if (m.iframe) copyIFrame(m.iframe, src.iframe);
      const upto = this.config.stage === 'mse' || !ownsEncoder ? this.k - 1 : this.k;
      for (let j = 0; j < upto; j++) {
        const [d, s] = [m.pframes[j]!, src.pframes[j]];
        if (!s) throw new UserError(`the model to start from has no frame ${j + 2}`);
        if (d.enc) copyParams(d.enc, s.enc!);
        // This stage's own position takes only its representation and MMSE decoder.
        for (const name of d === this.pos ? (['mmse'] as const) : (Object.keys(d.decoders) as (keyof typeof d.decoders)[])) {
          if (!s.decoders[name]) throw new UserError(`the model to start from has no ${name} decoder for frame ${j + 2}`);
          copyParams(d.decoders[name]!, s.decoders[name]!);
        }
      }
    } else if (m.iframe || this.k > 1 || (this.config.stage !== 'mse' && ownsEncoder)) {
      throw new UserError('this preset starts from a trained model: set its `from`');
    }
    const prev = this.config.fromPreviousFrame ? this.previousFrame() : undefined;
    if (this.config.stage === 'mse') {
      if (prev) {
        copyParams(this.pos.enc!, prev.enc!);
        copyParams(this.pos.decoders.mmse!, prev.decoders.mmse!);
      } else if (this.config.fromOtherRate) this.fromOtherRate(from);
    } else if (prev) {
      // The previous frame's perception decoders: the same task one frame on.
      if (ownsEncoder) copyParams(this.pos.decoders.fmd!, prev.decoders.fmd!);
      copyWidening(this.pos.decoders.jd!, prev.decoders.jd!, this.k - 1);
    } else if (ownsEncoder) {
      // The new perception decoders start as the MMSE decoder (at rate inf there is none: fresh weights).
      copyParams(this.pos.decoders.fmd!, this.pos.decoders.mmse!);
      copyWidening(this.pos.decoders.jd!, this.pos.decoders.mmse!, 0);
    }
  }

  /** Stage 1 of this frame from the same frame of `from`, a GOP model at another rate (fromOtherRate). */
  private fromOtherRate(from: Model | undefined): void {
    const src = from?.config.kind === 'gop' ? (from as GopModel).pframes[this.k - 1] : undefined;
    if (!src?.enc || !src.decoders.mmse) throw new UserError(`fromOtherRate: the model to start from has no trained frame ${this.k + 1} (a GOP model with its encoder and MMSE decoder)`);
    const [ms, cs] = [src.net.motion?.dims ?? 0, src.net.content?.dims ?? 0];
    const [md, cd] = [this.pos.net.motion?.dims ?? 0, this.pos.net.content?.dims ?? 0];
    const enc = this.pos.enc!;
    copyOtherRate(enc.motion, src.enc.motion, ms, md);
    copyOtherRate(enc.flow, src.enc.flow, ms, md);
    copyOtherRate(enc.content, src.enc.content, cs, cd);
    copyOtherRate(this.pos.decoders.mmse, src.decoders.mmse, cs, cd);
  }

  /** The frozen position before this one, checked to share its rate (fromPreviousFrame). */
  private previousFrame(): PFramePosition {
    const rates = (this.config.model as GopModelConfig).rates;
    if (this.k < 2 || rates[this.k] !== rates[this.k - 1]) throw new UserError(`fromPreviousFrame: frame ${this.k + 1} needs a previous P-frame at its rate (${rates[this.k]} bits), got ${this.k < 2 ? 'none' : `${rates[this.k - 1]} bits`}`);
    return this.m.pframes[this.k - 2]!;
  }

  /** This replica's rows of step `step`'s batch, frame by frame. */
  private frames(step: number): tf.Tensor4D[] {
    const c = this.config;
    const { start, n } = stepRows(this.replica, c.batch, step);
    const b = this.source.batch('train', start, n, this.k + 1);
    return Array.from({ length: this.k + 1 }, (_, t) => tf.tensor4d(sequenceFrame(b, t), [n, this.source.size, this.source.size, 1]));
  }

  /** Training dither: fresh uniform draws per step, frame and latent. */
  private dithers(step: number): Dithers {
    const B = this.config.batch;
    return latentLayout(this.m).slice(0, this.k + 1).map((latents, t) =>
      latents.map(({ dims, levels }, j) => {
        const rng = new Rng(this.config.seed, DITHER_STREAM, step, t * 4 + j);
        const rows = drawRows(this.replica, B, dims, () => (rng.uniform() - 0.5) * binWidth(levels));
        return tf.tensor2d(rows, [rows.length / dims, dims]);
      }),
    );
  }

  step(step: number): LossTensors {
    const poison = this.config.nanAtStep === step + 1 ? NaN : 1;
    return tf.tidy(() => {
      const xs = this.frames(step);
      const u = this.dithers(step);
      return this.config.stage === 'mse' ? this.mseStep(step, xs, u, poison) : this.perceptionStep(step, xs, u, poison);
    });
  }

  private mseStep(step: number, xs: tf.Tensor4D[], u: Dithers, poison: number): LossTensors {
    const p = this.pos;
    const enc = p.enc!;
    const x = xs[this.k]!;
    const ref = encodeGop(this.m, xs.slice(0, this.k), u).recon[this.k - 1]!;
    const [um, uc] = u[this.k]!;
    const harden = this.config.harden;
    if (harden?.at === step) for (const latent of [enc.motion, enc.content]) if (latent) scaleBatchNorm(latent.latent.bn, harden.gain);
    const ctx = trainCtx();
    const { value, grads } = tf.variableGrads(() => {
      const motion = quantizeTensor(encodeMotion(enc, x, ref, ctx), um!, p.net.motion!.levels, 'train');
      const pred = scaleSpaceWarp(ref, decodeFlow(enc, p.net, motion, um!, ctx));
      const content = p.net.content ? { zq: quantizeTensor(encodeContent(enc, x, pred, ctx), uc!, p.net.content.levels, 'train'), u: uc! } : undefined;
      return tf.mul(mse(frameOf(p, 'mmse', this.k, content, pred, null, ctx), x), poison) as tf.Scalar;
    }, this.codecOpt.variables());
    this.codecOpt.apply(grads, this.config.lrDropAt !== undefined && step >= this.config.lrDropAt ? 0.1 : 1);
    applyUpdates(ctx, true, this.replica.reduce);
    return { mse: value };
  }

  private perceptionStep(step: number, xs: tf.Tensor4D[], u: Dithers, poison: number): LossTensors {
    const c = this.config;
    const p = this.pos;
    const k = this.k;
    const x = xs[k]!;
    const enc = encodeGop(this.m, xs, u);
    // The prediction every decoder refines; at rate inf the frame itself.
    const pred = enc.preds[k] ?? enc.recon[k]!;
    const content = enc.messages[k]!.latents[1];
    // The jd decoder's earlier frames: as the joint critic reads them, and as the decoder does.
    const past = tf.concat(decodeGop(this.m, 'jd', enc.messages.slice(0, k)), 3) as tf.Tensor4D;
    const pastInput = jdPast(this.m, past, enc.fields[k]);
    const realJoint = tf.concat(xs, 3) as tf.Tensor4D;
    const decodeAll = (ctx: Ctx) => this.trained.map((name) => frameOf(p, name, k, content, pred, DECODERS[name].ownPast ? pastInput : null, ctx));
    // What each decoder's critic reads: the frame (marginal), or all frames so far (joint).
    const criticInput = (name: 'fmd' | 'jd', y: tf.Tensor4D) => (DECODERS[name].critic === 'joint' ? (tf.concat([past, y], 3) as tf.Tensor4D) : y);
    const criticOf = (name: 'fmd' | 'jd') => p.critics[DECODERS[name].critic!]!;
    const realOf = (name: 'fmd' | 'jd') => (DECODERS[name].critic === 'joint' ? realJoint : x);
    const rng = new Rng(c.seed, EPS_STREAM, step);
    const e = drawRows(this.replica, c.batch, 1, () => rng.uniform());
    const eps = tf.tensor4d(e, [e.length, 1, 1, 1]);
    // A step with a decoder update makes it first, against the critics as they are; its outputs
    // (this batch through these weights, in training BatchNorm mode) are then the critics' fake
    // batch, which would otherwise be the same forward pass again: one decoder pass a step, not two.
    const mses: tf.Scalar[] = [];
    let fake: tf.Tensor4D[];
    if ((step + 1) % c.criticPerDecoder === 0) {
      const ctx = trainCtx();
      let ys: tf.Tensor4D[] = [];
      const dec = tf.variableGrads(() => {
        ys = decodeAll(ctx).map((y) => tf.keep(y));
        return tf.addN(ys.map((y, i) => {
          const name = this.trained[i]!;
          const e = mse(y, x);
          mses.push(tf.keep(e));
          const lambda = name === 'jd' ? (c.lambdaJoint ?? c.lambda) : c.lambda;
          return tf.add(e, tf.mul(tf.neg(tf.mean(critic(criticOf(name), criticInput(name, y)))), lambda));
        })) as tf.Scalar;
      }, this.codecOpt.variables());
      this.codecOpt.apply(dec.grads);
      applyUpdates(ctx, true, this.replica.reduce);
      fake = ys;
    } else {
      const fakeCtx = trainCtx();
      fake = decodeAll(fakeCtx);
      applyUpdates(fakeCtx, false);
    }
    for (const name of this.trained) updateSpectralNorms(criticOf(name));
    const w1: tf.Scalar[] = [];
    const critics = tf.variableGrads(() => {
      const losses = this.trained.map((name, i) => {
        const r = criticLoss(criticOf(name), realOf(name), criticInput(name, fake[i]!), eps);
        w1.push(tf.keep(r.w1));
        return r.loss;
      });
      return tf.mul(tf.addN(losses), poison) as tf.Scalar;
    }, this.criticOpt!.variables());
    this.criticOpt!.apply(critics.grads);
    tf.dispose(fake); // kept past the decoder update's tape
    const losses: LossTensors = { critic: critics.value };
    this.trained.forEach((name, i) => (losses[`w1_${name}`] = w1[i]!));
    if (mses.length) this.trained.forEach((name, i) => (losses[`mse_${name}`] = mses[i]!));
    return losses;
  }
}

/** The I-frame part of a GOP model from another GOP model's. */
function copyIFrame(dst: IFrameModel, src: IFrameModel | undefined): void {
  if (!src) throw new UserError('the model to start from has no I-frame network');
  for (const [name, d] of Object.entries(dst.decoders)) copyParams(d, src.decoders[name as keyof typeof src.decoders]!);
  copyParams(dst.enc, src.enc);
  for (const [kind, c] of Object.entries(dst.critics)) copyParams(c, src.critics[kind as keyof typeof src.critics]!);
}
