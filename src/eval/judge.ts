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

/**
 * Data for judges trained side by side: draw(start, n) makes once what they share (the frames,
 * one encoding, each decoder's output), and judge k reads its real and fake batches from it.
 */
export interface SharedJudgeData<S> {
  draw: (start: number, n: number) => S;
  real: (shared: S, k: number) => tf.Tensor4D;
  fake: (shared: S, k: number) => tf.Tensor4D;
  trainFrom: number;
  heldOut: number;
}

const EPS_STREAM = 0x4a554447;

/** The judge's W1 estimate (asynchronous: its scores are read back with `await data()`, as a GPU backend requires). */
export async function judgeW1(c: JudgeConfig, d: JudgeData): Promise<number> {
  const [w1] = await judgeW1s([c], {
    draw: (start, n) => ({ real: d.real(start, n), start }),
    real: (s) => s.real,
    fake: (s) => d.fake(s.real, s.start),
    trainFrom: d.trainFrom, heldOut: d.heldOut,
  });
  return w1!;
}

/**
 * Several judges trained in lockstep on the same sequences, each exactly as judgeW1 would train
 * it alone (its own critic, optimizer and eps stream), while the shared work of a step (for a
 * video model: generating, encoding and decoding the sequences) is done once for all of them.
 * `onStep(done, steps)` follows the training steps (the held-out scoring after them is short).
 */
export async function judgeW1s<S>(configs: JudgeConfig[], d: SharedJudgeData<S>, onStep?: (done: number, steps: number) => void): Promise<number[]> {
  const batch = configs[0]!.batch;
  if (configs.some((c) => c.batch !== batch || c.steps !== configs[0]!.steps)) throw new Error('judgeW1s: judges in lockstep share batch and steps');
  const judges = configs.map((c) => {
    const p = initCritic({ widths: c.widths, size: c.size, frames: c.frames ?? 1, spectralNorm: c.spectralNorm }, c.seed);
    return { c, p, opt: new Adam({ critic: p }, c.optimizer) };
  });
  try {
    for (let step = 0; step < configs[0]!.steps; step++) {
      tf.tidy(() => {
        const shared = d.draw(d.trainFrom + step * batch, batch);
        judges.forEach(({ c, p, opt }, k) => {
          const rng = new Rng(c.seed, EPS_STREAM, step);
          const eps = tf.tensor4d(Float32Array.from({ length: batch }, () => rng.uniform()), [batch, 1, 1, 1]);
          const [real, fake] = [d.real(shared, k), d.fake(shared, k)];
          updateSpectralNorms(p);
          opt.apply(tf.variableGrads(() => criticLoss(p, real, fake, eps).loss, opt.variables()).grads);
        });
      });
      onStep?.(step + 1, configs[0]!.steps);
    }
    const sums = judges.map(() => 0);
    for (let start = 0; start < d.heldOut; start += batch) {
      const n = Math.min(batch, d.heldOut - start);
      const ws = tf.tidy(() => {
        const shared = d.draw(start, n);
        return judges.map(({ p }, k) => tf.sub(tf.mean(critic(p, d.real(shared, k))), tf.mean(critic(p, d.fake(shared, k)))));
      });
      const values = await Promise.all(ws.map((w) => w.data()));
      values.forEach((v, k) => (sums[k]! += v[0]! * n));
      tf.dispose(ws);
    }
    return sums.map((s) => s / d.heldOut);
  } finally {
    for (const { p, opt } of judges) {
      disposeParams(p);
      disposeParams(opt.state);
    }
  }
}
