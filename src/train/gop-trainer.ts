/**
 * Training one P-frame position of a group-of-pictures model (frame `config.frame`), with every
 * earlier position and the I-frame frozen:
 * - 'mse': motion encoder, flow decoder, content encoder and MMSE decoder, end to end, on the
 *   MMSE reference the encoder side produces (soft-quantizer gradient, hard forward);
 * - 'perception': encoders and MMSE decoder frozen (the representation is fixed); the 0-PLF-FMD
 *   decoder against a marginal critic on the frame, the 0-PLF-JD decoder, which reads its own
 *   earlier outputs, against a joint critic on all frames so far.
 * All randomness is a pure function of (seed, step), so a resumed run is the uninterrupted one.
 */
import { tf } from '../engine/index.ts';
import { binWidth, quantizeTensor } from '../codec/quantizer.ts';
import type { FrameSource } from '../data/source.ts';
import { frameOf as sequenceFrame } from '../data/source.ts';
import { UserError } from '../errors.ts';
import { critic, criticLoss, updateSpectralNorms, type CriticParams } from '../models/critic.ts';
import { gopGroups, initPosition, initPositionCritic, type GopModel, type GopModelConfig, type PFramePosition } from '../models/gop.ts';
import { initIFrameModel, type IFrameModel } from '../models/iframe.ts';
import { applyUpdates, trainCtx } from '../models/layers.ts';
import type { Model } from '../models/model-file.ts';
import { copyParams, flattenParams, type ParamTree } from '../models/params.ts';
import { decodeFlow, encodeContent, encodeMotion } from '../models/pframe.ts';
import { scaleSpaceWarp } from '../models/warp.ts';
import { Adam } from '../optim/adam.ts';
import { Rng } from '../rng.ts';
import { decodeGop, encodeGop, frameOf, latentLayout, type Dithers } from '../video/gop.ts';
import type { TrainConfig } from './presets.ts';
import type { Losses, Trainer } from './trainer.ts';

const DITHER_STREAM = 0x44495448;
const EPS_STREAM = 0x45505331;

const mse = (a: tf.Tensor, b: tf.Tensor) => tf.mean(tf.squaredDifference(a, b)) as tf.Scalar;

/**
 * Copy `src` into `dst` where shapes match; a weight that differs only in its input channels
 * (the jd decoder's first context conv reads its past outputs too) gets src's weights for the
 * first channels and zeros for the rest, so the new decoder starts as the MMSE decoder.
 */
function copyWidening(dst: ParamTree, src: ParamTree): void {
  const from = new Map(flattenParams(src));
  for (const [name, v] of flattenParams(dst)) {
    const s = from.get(name)!;
    if (s.shape.join() === v.shape.join()) v.assign(s);
    else v.assign(tf.tidy(() => tf.concat([s, tf.zeros([...s.shape.slice(0, 2), v.shape[2]! - s.shape[2]!, s.shape[3]!])], 2)));
  }
}

export class GopTrainer implements Trainer {
  readonly m: GopModel;
  /** 0-based index of the trained frame; pframes[k - 1] is its position. */
  private readonly k: number;
  private readonly pos: PFramePosition;
  private codecOpt: Adam;
  private criticOpt?: Adam;

  constructor(readonly config: TrainConfig, private readonly source: FrameSource) {
    const c = config.model as GopModelConfig;
    const frame = config.frame;
    if (frame === undefined || frame < 2 || frame > c.rates.length) throw new UserError(`a GOP preset trains one P-frame: frame must be in [2, ${c.rates.length}]`);
    this.k = frame - 1;
    const perception = config.stage === 'perception';
    const m: GopModel = { config: perception ? { ...c, critic: config.critic } : c, pframes: [] };
    if (c.iframe) m.iframe = initIFrameModel(c.iframe, config.seed, c.iframe.critic ? ['mmse', 'fmd'] : ['mmse']);
    // Earlier positions are frozen and loaded by start(); they carry every decoder (jd's past outputs need theirs).
    for (let f = 2; f < frame; f++) m.pframes.push(initPosition(c, f, config.seed, ['mmse', 'fmd', 'jd']));
    this.pos = initPosition(c, frame, config.seed, perception ? ['mmse', 'fmd', 'jd'] : ['mmse']);
    m.pframes.push(this.pos);
    this.m = m;
    if (!perception) {
      this.codecOpt = new Adam({ enc: this.pos.enc, mmse: this.pos.decoders.mmse! }, config.codecOptimizer);
      return;
    }
    this.pos.critics.marginal = initPositionCritic(m.config, 'marginal', frame, config.seed);
    this.pos.critics.joint = initPositionCritic(m.config, 'joint', frame, config.seed);
    this.codecOpt = new Adam({ fmd: this.pos.decoders.fmd!, jd: this.pos.decoders.jd! }, config.codecOptimizer);
    this.criticOpt = new Adam({ marginal: this.pos.critics.marginal, joint: this.pos.critics.joint }, config.criticOptimizer);
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
    if (from?.config.kind === 'iframe') {
      if (!m.iframe || this.k !== 1 || this.config.stage !== 'mse') throw new UserError('only the first P-frame\'s MSE stage starts from an I-frame model');
      copyIFrame(m.iframe, from as IFrameModel);
    } else if (from) {
      const src = from as GopModel;
      if (m.iframe) copyIFrame(m.iframe, src.iframe);
      const upto = this.config.stage === 'mse' ? this.k - 1 : this.k;
      for (let j = 0; j < upto; j++) {
        const [d, s] = [m.pframes[j]!, src.pframes[j]];
        if (!s) throw new UserError(`the model to start from has no frame ${j + 2}`);
        copyParams(d.enc, s.enc);
        // This stage's own position takes only its representation and MMSE decoder.
        for (const name of d === this.pos ? (['mmse'] as const) : (Object.keys(d.decoders) as (keyof typeof d.decoders)[])) {
          if (!s.decoders[name]) throw new UserError(`the model to start from has no ${name} decoder for frame ${j + 2}`);
          copyParams(d.decoders[name]!, s.decoders[name]!);
        }
      }
    } else if (m.iframe || this.k > 1 || this.config.stage !== 'mse') {
      throw new UserError('this preset starts from a trained model: set its `from`');
    }
    if (this.config.stage === 'perception') {
      copyParams(this.pos.decoders.fmd!, this.pos.decoders.mmse!);
      copyWidening(this.pos.decoders.jd!, this.pos.decoders.mmse!);
    }
  }

  private frames(step: number): tf.Tensor4D[] {
    const c = this.config;
    const b = this.source.batch('train', step * c.batch, c.batch, this.k + 1);
    return Array.from({ length: this.k + 1 }, (_, t) => tf.tensor4d(sequenceFrame(b, t), [c.batch, this.source.size, this.source.size, 1]));
  }

  /** Training dither: fresh uniform draws per step, frame and latent. */
  private dithers(step: number): Dithers {
    const B = this.config.batch;
    return latentLayout(this.m).slice(0, this.k + 1).map((latents, t) =>
      latents.map(({ dims, levels }, j) => {
        const rng = new Rng(this.config.seed, DITHER_STREAM, step, t * 4 + j);
        return tf.tensor2d(Float32Array.from({ length: B * dims }, () => (rng.uniform() - 0.5) * binWidth(levels)), [B, dims]);
      }),
    );
  }

  step(step: number): Losses {
    const poison = this.config.nanAtStep === step + 1 ? NaN : 1;
    return tf.tidy(() => {
      const xs = this.frames(step);
      const u = this.dithers(step);
      return this.config.stage === 'mse' ? this.mseStep(step, xs, u, poison) : this.perceptionStep(step, xs, u, poison);
    });
  }

  private mseStep(step: number, xs: tf.Tensor4D[], u: Dithers, poison: number): Losses {
    const p = this.pos;
    const x = xs[this.k]!;
    const ref = encodeGop(this.m, xs.slice(0, this.k), u).recon[this.k - 1]!;
    const [um, uc] = u[this.k]!;
    const ctx = trainCtx();
    const { value, grads } = tf.variableGrads(() => {
      const motion = quantizeTensor(encodeMotion(p.enc, x, ref, ctx), um!, p.net.motion!.levels, 'train');
      const pred = scaleSpaceWarp(ref, decodeFlow(p.enc, p.net, motion, um!, ctx));
      const content = p.net.content ? { zq: quantizeTensor(encodeContent(p.enc, x, pred, ctx), uc!, p.net.content.levels, 'train'), u: uc! } : undefined;
      return tf.mul(mse(frameOf(p, 'mmse', this.k, content, pred, null, ctx), x), poison) as tf.Scalar;
    }, this.codecOpt.variables());
    this.codecOpt.apply(grads, this.config.lrDropAt !== undefined && step >= this.config.lrDropAt ? 0.1 : 1);
    applyUpdates(ctx);
    return { mse: value.dataSync()[0]! };
  }

  private perceptionStep(step: number, xs: tf.Tensor4D[], u: Dithers, poison: number): Losses {
    const c = this.config;
    const p = this.pos;
    const k = this.k;
    const x = xs[k]!;
    const enc = encodeGop(this.m, xs, u);
    const pred = enc.preds[k]!;
    const content = enc.messages[k]!.latents[1];
    const past = decodeGop(this.m, 'jd', enc.messages.slice(0, k));
    const extra = tf.concat(past, 3) as tf.Tensor4D;
    const realJoint = tf.concat(xs, 3) as tf.Tensor4D;
    const decodeBoth = (ctx: ReturnType<typeof trainCtx>) => ({
      fmd: frameOf(p, 'fmd', k, content, pred, null, ctx),
      jd: frameOf(p, 'jd', k, content, pred, extra, ctx),
    });
    const rng = new Rng(c.seed, EPS_STREAM, step);
    const eps = tf.tensor4d(Float32Array.from({ length: c.batch }, () => rng.uniform()), [c.batch, 1, 1, 1]);
    // The critics' fake batches, in the same (training) BatchNorm mode as the decoder update below.
    const fakeCtx = trainCtx();
    const fake = decodeBoth(fakeCtx);
    applyUpdates(fakeCtx, false);
    const [marginal, joint] = [p.critics.marginal!, p.critics.joint!];
    updateSpectralNorms(marginal);
    updateSpectralNorms(joint);
    const w1: number[] = [];
    const critics = tf.variableGrads(() => {
      const rm = criticLoss(marginal, x, fake.fmd, eps);
      const rj = criticLoss(joint, realJoint, tf.concat([extra, fake.jd], 3) as tf.Tensor4D, eps);
      w1.push(rm.w1.dataSync()[0]!, rj.w1.dataSync()[0]!);
      return tf.mul(tf.add(rm.loss, rj.loss), poison) as tf.Scalar;
    }, this.criticOpt!.variables());
    this.criticOpt!.apply(critics.grads);
    const losses: Losses = { critic: critics.value.dataSync()[0]!, w1_fmd: w1[0]!, w1_jd: w1[1]! };
    if ((step + 1) % c.criticPerDecoder === 0) {
      const ctx = trainCtx();
      const d: number[] = [];
      const score = (cp: CriticParams, y: tf.Tensor4D) => tf.neg(tf.mean(critic(cp, y)));
      const dec = tf.variableGrads(() => {
        const y = decodeBoth(ctx);
        const [ef, ej] = [mse(y.fmd, x), mse(y.jd, x)];
        d.push(ef.dataSync()[0]!, ej.dataSync()[0]!);
        const lf = tf.add(ef, tf.mul(score(marginal, y.fmd), c.lambda));
        const lj = tf.add(ej, tf.mul(score(joint, tf.concat([extra, y.jd], 3) as tf.Tensor4D), c.lambdaJoint ?? c.lambda));
        return tf.add(lf, lj) as tf.Scalar;
      }, this.codecOpt.variables());
      this.codecOpt.apply(dec.grads);
      applyUpdates(ctx);
      Object.assign(losses, { mse_fmd: d[0]!, mse_jd: d[1]! });
    }
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
