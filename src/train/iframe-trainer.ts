/**
 * One training step of the I-frame codec, for both stages, over explicit state (models and
 * optimizers as parameter records). All randomness is a pure function of (seed, step), so
 * a resumed run draws exactly what the uninterrupted run would have drawn.
 */
import { tf } from '../engine/index.ts';
import { binWidth, quantizeTensor } from '../codec/quantizer.ts';
import type { FrameSource } from '../data/source.ts';
import { critic, criticLoss, initCritic, updateSpectralNorms } from '../models/critic.ts';
import { UserError } from '../errors.ts';
import type { Model } from '../models/model-file.ts';
import { decode, encode, iframeGroups, initIFrameModel, type IFrameModel, type IFrameModelConfig } from '../models/iframe.ts';
import { applyUpdates, evalCtx, scaleBatchNorm, trainCtx } from '../models/layers.ts';
import { cloneParams, copyParams, type ParamTree } from '../models/params.ts';
import { Adam } from '../optim/adam.ts';
import { Rng } from '../rng.ts';
import type { TrainConfig } from './presets.ts';
import { drawRows, stepRows, WHOLE, type Replica } from './replica.ts';
import type { LossTensors, Trainer } from './trainer.ts';

// Stream tags keep the trainer's random numbers apart from each other and from the data's.
const DITHER_STREAM = 0x44495448;
const EPS_STREAM = 0x45505331;

const mse = (a: tf.Tensor, b: tf.Tensor) => tf.mean(tf.squaredDifference(a, b)) as tf.Scalar;

export class IFrameTrainer implements Trainer {
  readonly m: IFrameModel;
  private codecOpt!: Adam;
  private criticOpt?: Adam;

  constructor(readonly config: TrainConfig, private readonly source: FrameSource, private readonly replica: Replica = WHOLE) {
    const m = (this.m = initIFrameModel(config.model as IFrameModelConfig, config.seed));
    if (config.stage === 'mse') {
      this.codecOpt = new Adam({ enc: m.enc, mmse: m.decoders.mmse! }, config.codecOptimizer, replica.reduce);
      return;
    }
    m.decoders.fmd = cloneParams(m.decoders.mmse!);
    m.config = { ...m.config, critic: config.critic };
    m.critics.marginal = initCritic({ ...config.critic, size: m.net.size, frames: 1 }, config.seed + 7);
    this.codecOpt = new Adam({ fmd: m.decoders.fmd }, config.codecOptimizer, replica.reduce);
    this.criticOpt = new Adam({ critic: m.critics.marginal }, config.criticOptimizer, replica.reduce);
  }

  model(): IFrameModel {
    return this.m;
  }

  /** The perception stage takes the encoder and MMSE decoder from `from`; its 0-PLF-FMD decoder starts as the MMSE decoder. */
  start(from: Model | undefined): void {
    if (this.config.stage === 'mse') return;
    if (from?.config.kind !== 'iframe') throw new UserError('the I-frame perception stage starts from an I-frame model');
    const src = from as IFrameModel;
    copyParams(this.m.enc, src.enc);
    copyParams(this.m.decoders.mmse!, src.decoders.mmse!);
    copyParams(this.m.decoders.fmd!, src.decoders.mmse!);
  }

  checkpointGroups(): Record<string, ParamTree> {
    const groups: Record<string, ParamTree> = { ...iframeGroups(this.m), 'opt.codec': this.codecOpt.state };
    if (this.criticOpt) groups['opt.critic'] = this.criticOpt.state;
    return groups;
  }

  /** This replica's rows of step `step`'s batch. */
  private frames(step: number): tf.Tensor4D {
    const { start, n } = stepRows(this.replica, this.config.batch, step);
    const b = this.source.batch('train', start, n, 1);
    return tf.tensor4d(b.data, [n, this.source.size, this.source.size, 1]);
  }

  private dither(step: number): tf.Tensor2D {
    const { dims, levels } = this.m.net;
    const rng = new Rng(this.config.seed, DITHER_STREAM, step);
    const w = binWidth(levels);
    const u = drawRows(this.replica, this.config.batch, dims, () => (rng.uniform() - 0.5) * w);
    return tf.tensor2d(u, [u.length / dims, dims]);
  }

  /** Perception stage: a critic update every step, plus a decoder update every criticPerDecoder steps. */
  step(step: number): LossTensors {
    const c = this.config;
    const m = this.m;
    const poison = c.nanAtStep === step + 1 ? NaN : 1;
    return tf.tidy(() => {
      const x = this.frames(step);
      const u = this.dither(step);
      if (c.stage === 'mse') {
        if (c.harden?.at === step) scaleBatchNorm(m.enc.latentBn, c.harden.gain);
        const ctx = trainCtx();
        const { value, grads } = tf.variableGrads(() => {
          const y = decode(m.decoders.mmse!, m.net, quantizeTensor(encode(m.enc, x, ctx), u, m.net.levels, 'train'), u, ctx);
          return tf.mul(mse(y, x), poison) as tf.Scalar;
        }, this.codecOpt.variables());
        this.codecOpt.apply(grads, c.lrDropAt !== undefined && step >= c.lrDropAt ? 0.1 : 1);
        applyUpdates(ctx, true, this.replica.reduce);
        return { mse: value };
      }
      return this.perceptionStep(step, x, u, poison);
    });
  }

  private perceptionStep(step: number, x: tf.Tensor4D, u: tf.Tensor2D, poison: number): LossTensors {
    const c = this.config;
    const m = this.m;
    const pdec = m.decoders.fmd!;
    const crit = m.critics.marginal!;
    // The encoder is frozen: eval mode (running stats, no updates), hard quantizer, no gradient.
    const zq = quantizeTensor(encode(m.enc, x, evalCtx()), u, m.net.levels, 'hard');
    const rng = new Rng(c.seed, EPS_STREAM, step);
    const e = drawRows(this.replica, c.batch, 1, () => rng.uniform());
    const eps = tf.tensor4d(e, [e.length, 1, 1, 1]);
    // The critic's fake batch, in the same (training) BatchNorm mode as the decoder update below.
    const fakeCtx = trainCtx();
    const fake = decode(pdec, m.net, zq, u, fakeCtx);
    applyUpdates(fakeCtx, false);
    updateSpectralNorms(crit);
    let w1: tf.Scalar | undefined;
    const critic_ = tf.variableGrads(() => {
      const r = criticLoss(crit, x, fake, eps);
      w1 = tf.keep(r.w1);
      return tf.mul(r.loss, poison) as tf.Scalar;
    }, this.criticOpt!.variables());
    this.criticOpt!.apply(critic_.grads);
    const losses: LossTensors = { critic: critic_.value, w1: w1! };
    if ((step + 1) % c.criticPerDecoder === 0) {
      const ctx = trainCtx();
      let d: tf.Scalar | undefined;
      const dec = tf.variableGrads(() => {
        const y = decode(pdec, m.net, zq, u, ctx);
        const e = mse(y, x);
        d = tf.keep(e);
        return tf.add(e, tf.mul(tf.neg(tf.mean(critic(crit, y))), c.lambda)) as tf.Scalar;
      }, this.codecOpt.variables());
      this.codecOpt.apply(dec.grads);
      applyUpdates(ctx, true, this.replica.reduce);
      Object.assign(losses, { mse: d!, decoder: dec.value });
    }
    return losses;
  }
}
