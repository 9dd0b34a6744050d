/**
 * One training step of the I-frame codec, for both stages, over explicit state (models and
 * optimizers as parameter records). All randomness is a pure function of (seed, step), so
 * a resumed run draws exactly what the uninterrupted run would have drawn.
 */
import { tf } from '../engine/index.ts';
import { binWidth, ditherTensor, quantizeTensor } from '../codec/quantizer.ts';
import { CANVAS as FRAME, movingMnistBatch } from '../data/moving-mnist.ts';
import type { Split } from '../data/types.ts';
import { critic, criticLoss, initCritic, updateSpectralNorms, type CriticParams } from '../models/critic.ts';
import { decode, encode, iframeConfigFor, initDecoder, initEncoder, type DecoderParams, type EncoderParams, type IFrameConfig } from '../models/iframe.ts';
import { judgeW1 } from '../eval/judge.ts';
import { applyUpdates, evalCtx, trainCtx } from '../models/layers.ts';
import { cloneParams, type ParamTree } from '../models/params.ts';
import { Rng } from '../rng.ts';
import { Adam } from './adam.ts';
import type { TrainConfig } from './presets.ts';

// Stream tags keep the trainer's random numbers apart from each other and from the data's.
const DITHER_STREAM = 0x44495448;
const EPS_STREAM = 0x45505331;
/** The judge critics' seed offset from the run's seed. */
const JUDGE_SEED = 1000;

export type Losses = Record<string, number>;


export function frames(c: TrainConfig, split: Split, start: number, batch: number): tf.Tensor4D {
  const b = movingMnistBatch({ split, seed: c.seed, frames: 1, mode: c.data.mode, digits: c.data.digits }, start, batch);
  return tf.tensor4d(b.data, [batch, FRAME, FRAME, 1]);
}

/** Multiplies the encoder's pre-tanh latent by `gain` (its BatchNorm scale and shift). */
export function scaleLatent(enc: EncoderParams, gain: number): void {
  for (const v of [enc.latentBn.gamma, enc.latentBn.beta]) v.assign(tf.mul(v, gain));
}

const mse = (a: tf.Tensor, b: tf.Tensor) => tf.mean(tf.squaredDifference(a, b)) as tf.Scalar;

export class IFrameTrainer {
  readonly model: IFrameConfig & { levels: number };
  enc: EncoderParams;
  dec: DecoderParams;
  /** Perception stage only: the new decoder and its marginal critic. */
  pdec?: DecoderParams;
  critic?: CriticParams;
  private codecOpt!: Adam;
  private criticOpt?: Adam;

  constructor(readonly config: TrainConfig) {
    this.model = iframeConfigFor(config.widths, config.rate, FRAME);
    this.enc = initEncoder(this.model, config.seed);
    this.dec = initDecoder(this.model, config.seed);
    if (config.stage === 'mse') this.codecOpt = new Adam({ enc: this.enc, dec: this.dec }, config.codecOptimizer);
    else this.startPerception();
  }

  /** The perception decoder starts from the MMSE decoder's weights (call again after loading them). */
  startPerception(): void {
    this.pdec = cloneParams(this.dec);
    this.critic ??= initCritic({ widths: this.config.criticWidths, size: FRAME, frames: 1, spectralNorm: this.config.spectralNorm }, this.config.seed + 7);
    this.codecOpt = new Adam({ pdec: this.pdec }, this.config.codecOptimizer);
    this.criticOpt = new Adam({ critic: this.critic }, this.config.criticOptimizer);
  }

  /** What the final model file holds. */
  modelGroups(): Record<string, ParamTree> {
    return this.pdec && this.critic ? { enc: this.enc, dec: this.dec, pdec: this.pdec, critic: this.critic } : { enc: this.enc, dec: this.dec };
  }

  /** What a checkpoint holds: the model plus every optimizer's state. */
  checkpointGroups(): Record<string, ParamTree> {
    const groups: Record<string, ParamTree> = { ...this.modelGroups(), 'opt.codec': this.codecOpt.state };
    if (this.criticOpt) groups['opt.critic'] = this.criticOpt.state;
    return groups;
  }

  private dither(step: number, batch: number): tf.Tensor2D {
    const rng = new Rng(this.config.seed, DITHER_STREAM, step);
    const w = binWidth(this.model.levels);
    return tf.tensor2d(Float32Array.from({ length: batch * this.model.dims }, () => (rng.uniform() - 0.5) * w), [batch, this.model.dims]);
  }

  /** Step `step` (0-based): one batch, one update (perception: a critic update, plus a decoder update every criticPerDecoder steps). */
  step(step: number): Losses {
    const c = this.config;
    const poison = c.nanAtStep === step + 1 ? NaN : 1;
    return tf.tidy(() => {
      const x = frames(c, 'train', step * c.batch, c.batch);
      const u = this.dither(step, c.batch);
      if (c.stage === 'mse') {
        if (c.harden?.at === step) scaleLatent(this.enc, c.harden.gain);
        const ctx = trainCtx();
        const { value, grads } = tf.variableGrads(() => {
          const y = decode(this.dec, this.model, quantizeTensor(encode(this.enc, x, ctx), u, this.model.levels, 'train'), u, ctx);
          return tf.mul(mse(y, x), poison) as tf.Scalar;
        }, this.codecOpt.variables());
        this.codecOpt.apply(grads, c.lrDropAt !== undefined && step >= c.lrDropAt ? 0.1 : 1);
        applyUpdates(ctx);
        return { mse: value.dataSync()[0]! };
      }
      return this.perceptionStep(step, x, u, poison);
    });
  }

  private perceptionStep(step: number, x: tf.Tensor4D, u: tf.Tensor2D, poison: number): Losses {
    const c = this.config;
    const pdec = this.pdec!;
    const crit = this.critic!;
    // The encoder is frozen: eval mode (running stats, no updates), hard quantizer, no gradient.
    const zq = quantizeTensor(encode(this.enc, x, evalCtx()), u, this.model.levels, 'hard');
    const rng = new Rng(c.seed, EPS_STREAM, step);
    const eps = tf.tensor4d(Float32Array.from({ length: c.batch }, () => rng.uniform()), [c.batch, 1, 1, 1]);
    // The critic's fake batch, in the same (training) BatchNorm mode as the decoder update below.
    const fakeCtx = trainCtx();
    const fake = decode(pdec, this.model, zq, u, fakeCtx);
    applyUpdates(fakeCtx, false);
    updateSpectralNorms(crit);
    let w1 = 0;
    const critic_ = tf.variableGrads(() => {
      const r = criticLoss(crit, x, fake, eps);
      w1 = r.w1.dataSync()[0]!;
      return tf.mul(r.loss, poison) as tf.Scalar;
    }, this.criticOpt!.variables());
    this.criticOpt!.apply(critic_.grads);
    const losses: Losses = { critic: critic_.value.dataSync()[0]!, w1 };
    if ((step + 1) % c.criticPerDecoder === 0) {
      const ctx = trainCtx();
      let d = 0;
      const dec = tf.variableGrads(() => {
        const y = decode(pdec, this.model, zq, u, ctx);
        const m = mse(y, x);
        d = m.dataSync()[0]!;
        return tf.add(m, tf.mul(tf.neg(tf.mean(critic(crit, y))), c.lambda)) as tf.Scalar;
      }, this.codecOpt.variables());
      this.codecOpt.apply(dec.grads);
      applyUpdates(ctx);
      Object.assign(losses, { mse: d, decoder: dec.value.dataSync()[0]! });
    }
    return losses;
  }

  /**
   * Test-split scores with the hard quantizer and the dither of a file with seed `ditherSeed`
   * (the run's seed unless given): per-pixel MSE of each decoder, and (perception stage) the
   * critic's W1 estimate against each decoder's output.
   */
  evaluate(samples: number, ditherSeed = this.config.seed): Record<string, number> {
    const sums: Record<string, number> = {};
    const add = (k: string, v: number, n: number) => (sums[k] = (sums[k] ?? 0) + v * n);
    for (let start = 0; start < samples; start += this.config.batch) {
      const n = Math.min(this.config.batch, samples - start);
      tf.tidy(() => {
        const x = frames(this.config, 'test', start, n);
        const { zq, u } = this.received(x, start, ditherSeed);
        const realScore = this.critic ? tf.mean(critic(this.critic, x)).dataSync()[0]! : 0;
        for (const [name, p] of this.decoders()) {
          const y = decode(p, this.model, zq, u, evalCtx());
          add(`${name}_mse`, mse(y, x).dataSync()[0]!, n);
          if (this.critic) add(`${name}_w1`, realScore - tf.mean(critic(this.critic, y)).dataSync()[0]!, n);
        }
      });
    }
    const scores = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / samples]));
    if (this.config.judgeSteps > 0) for (const [name, p] of this.decoders()) scores[`${name}_judge_w1`] = this.judge(p, samples, ditherSeed);
    return scores;
  }

  /** What the decoders receive for test frames x from index `start`: the file dither and the hard-quantized latent. */
  private received(x: tf.Tensor4D, start: number, ditherSeed: number): { zq: tf.Tensor2D; u: tf.Tensor2D } {
    const u = ditherTensor(ditherSeed, start, [x.shape[0], this.model.dims], this.model.levels) as tf.Tensor2D;
    return { zq: quantizeTensor(encode(this.enc, x, evalCtx()), u, this.model.levels, 'hard'), u };
  }

  private decoders(): [string, DecoderParams][] {
    return this.pdec ? [['mmse', this.dec], ['perception', this.pdec]] : [['mmse', this.dec]];
  }

  /** The judge's W1 estimate for one decoder: trained on test frames from index 2^20 on, scored on the first `samples`. */
  private judge(dec: DecoderParams, samples: number, ditherSeed: number): number {
    const c = this.config;
    const m = this.model;
    return judgeW1(
      { widths: c.criticWidths, size: m.size, spectralNorm: c.spectralNorm, steps: c.judgeSteps, batch: c.batch, seed: c.seed + JUDGE_SEED, optimizer: c.criticOptimizer },
      {
        real: (start, n) => frames(c, 'test', start, n),
        fake: (x, start) => {
          const { zq, u } = this.received(x, start, ditherSeed);
          return decode(dec, m, zq, u, evalCtx());
        },
        trainFrom: 1 << 20,
        heldOut: samples,
      },
    );
  }
}
