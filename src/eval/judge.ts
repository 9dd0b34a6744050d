/**
 * A realism score that does not depend on a run's own critic: a fresh WGAN-GP critic (the
 * judge) is trained for a fixed number of steps to tell real frames from one decoder's
 * reconstructions, and its W1 estimate on held-out frames is the score. A marginal judge reads
 * one frame; a joint judge reads frames 1..t stacked as channels, the law the 0-PLF-JD decoder
 * must match. A run's own critic was
 * trained against its perception decoder only, so its estimates compare poorly across decoders
 * and runs; the judge starts from the same seed, sees the same frames for the same steps for
 * every decoder, and so gives numbers that compare. Being a trained critic's estimate, the
 * score is a lower bound on the true W1 (in the critic's units).
 */
import { tf } from '../engine/index.ts';
import { critic, criticLoss, initCritic, updateSpectralNorms } from '../models/critic.ts';
import { disposeParams } from '../models/params.ts';
import { Adam, type AdamConfig } from '../optim/adam.ts';
import { Rng } from '../rng.ts';

export interface JudgeConfig {
  widths: number[];
  size: number;
  /** Frames stacked as channels (default 1: a marginal judge). */
  frames?: number;
  spectralNorm: boolean;
  steps: number;
  batch: number;
  seed: number;
  optimizer: AdamConfig;
}

/** real(start, n) gives sequences start..start+n-1 as [n, size, size, frames]; fake(real, start) one decoder's reconstructions of them. */
export interface JudgeData {
  real: (start: number, n: number) => tf.Tensor4D;
  fake: (real: tf.Tensor4D, start: number) => tf.Tensor4D;
  /** The judge trains on frames from this index on and is scored on frames 0..heldOut-1 (heldOut <= trainFrom). */
  trainFrom: number;
  heldOut: number;
}

const EPS_STREAM = 0x4a554447;

/** The judge's W1 estimate (asynchronous: its scores are read back with `await data()`, as a GPU backend requires). */
export async function judgeW1(c: JudgeConfig, d: JudgeData): Promise<number> {
  const p = initCritic({ widths: c.widths, size: c.size, frames: c.frames ?? 1, spectralNorm: c.spectralNorm }, c.seed);
  const opt = new Adam({ critic: p }, c.optimizer);
  try {
    for (let step = 0; step < c.steps; step++) {
      tf.tidy(() => {
        const start = d.trainFrom + step * c.batch;
        const real = d.real(start, c.batch);
        const fake = d.fake(real, start);
        const rng = new Rng(c.seed, EPS_STREAM, step);
        const eps = tf.tensor4d(Float32Array.from({ length: c.batch }, () => rng.uniform()), [c.batch, 1, 1, 1]);
        updateSpectralNorms(p);
        opt.apply(tf.variableGrads(() => criticLoss(p, real, fake, eps).loss, opt.variables()).grads);
      });
    }
    let sum = 0;
    for (let start = 0; start < d.heldOut; start += c.batch) {
      const n = Math.min(c.batch, d.heldOut - start);
      const w = tf.tidy(() => {
        const real = d.real(start, n);
        return tf.sub(tf.mean(critic(p, real)), tf.mean(critic(p, d.fake(real, start))));
      });
      sum += (await w.data())[0]! * n;
      w.dispose();
    }
    return sum / d.heldOut;
  } finally {
    disposeParams(p);
    disposeParams(opt.state);
  }
}
