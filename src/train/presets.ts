/**
 * The one registry of training presets: name -> full config. The CLI, the benchmark and
 * later the experiment grid take their names from here.
 */
import type { MotionMode } from '../data/moving-mnist.ts';
import { movingMnistSource, type FrameSource } from '../data/source.ts';
import type { RateName } from '../codec/rates.ts';
import type { GopModelConfig } from '../models/gop.ts';
import type { CriticSpec, IFrameModelConfig } from '../models/iframe.ts';
import type { ModelConfig } from '../models/model-file.ts';
import type { AdamConfig } from '../optim/adam.ts';

/** How to train a model: the network to build (`model`, what its weight file records) and every training setting. */
export interface TrainConfig {
  model: ModelConfig;
  /** 'mse': encoder + MMSE decoder. 'perception': encoders frozen, the perception decoders vs their critics. */
  stage: 'mse' | 'perception';
  /** The critics' shape (perception stage, and the judge at evaluation). */
  critic: CriticSpec;
  /** Perception weight: loss = MSE + lambda * W1 (the 0-PLF-FMD decoder's, and the 0-PLF-JD one's unless lambdaJoint is set). */
  lambda: number;
  lambdaJoint?: number;
  /** GOP models: the P-frame (1-based frame index) this preset trains; the earlier frames are frozen. */
  frame?: number;
  batch: number;
  /**
   * Data-parallel replicas (default 1): each step's batch is split over this many worker threads
   * whose gradients and BatchNorm statistics are averaged. It changes the arithmetic (BatchNorm
   * normalises each replica's rows by their own statistics), so it is part of the recipe: a run is
   * bit-identical for a given replica count, whatever the machine and its thread count.
   */
  replicas?: number;
  steps: number;
  codecOptimizer: AdamConfig;
  /** From this step on, the codec's learning rate is a tenth (a step decay to settle the MMSE fit). */
  lrDropAt?: number;
  /**
   * Stage 1: before step `at`, the encoder's latent BatchNorm scale and shift are multiplied
   * by `gain` (once). The bits become more deterministic, which the MMSE decoder prefers but
   * whose gradient through the soft quantizer is too weak for training to find by itself.
   */
  harden?: { at: number; gain: number };
  criticOptimizer: AdamConfig;
  /** Perception stage: critic updates per decoder update (the critic trains every step). */
  criticPerDecoder: number;
  data: { mode: MotionMode; digits: number };
  seed: number;
  /**
   * GOP models, frame 3 on: the trained parts start as the previous P-frame's (same rate), not
   * fresh or as the MMSE decoder: stage 1 its encoder and MMSE decoder, stage 2 its perception decoders.
   */
  fromPreviousFrame?: boolean;
  /**
   * GOP models, a P-frame's MSE stage: its encoder and MMSE decoder start as the same frame of
   * `from`, a GOP model trained at another rate (latent weights cut to this rate's size).
   */
  fromOtherRate?: boolean;
  /** Perception stage: the preset whose trained model (encoder, MMSE decoder) it starts from. */
  from?: string;
  checkpointEvery: number;
  logEvery: number;
  /** Test sequences scored at the end (MSE per decoder, critic W1 estimate). */
  evalSamples: number;
  /** Steps of the fresh judge critic trained per decoder at the end (src/eval/judge.ts); 0: none. */
  judgeSteps: number;
  /** Fault injection for tests: the loss becomes NaN at this step. */
  nanAtStep?: number;
}

/** The frames a config trains and is scored on. */
export function sourceFor(c: TrainConfig): FrameSource {
  return movingMnistSource({ seed: c.seed, mode: c.data.mode, digits: c.data.digits });
}

// Adam, not the paper's RMSprop: on CPU we can afford ~10^5 samples rather than the paper's
// ~10^7, and Adam at 1e-3 reaches the target distortion in that budget. Critic: WGAN-GP's
// recommended Adam(1e-4, 0.5, 0.9) scaled to our short runs.
const codecAdam: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999 };
const criticAdam: AdamConfig = { lr: 2e-4, beta1: 0.5, beta2: 0.9 };
const perceptionAdam: AdamConfig = { lr: 2e-4, beta1: 0.5, beta2: 0.9 };

const PAPER_WIDTHS = [64, 128, 256, 512];
const CPU_WIDTHS = [16, 32, 64, 128];
const TINY_WIDTHS = [4, 4, 8, 8];

const base: Omit<TrainConfig, 'model' | 'critic' | 'steps' | 'batch'> = {
  stage: 'mse',
  lambda: 0,
  codecOptimizer: codecAdam,
  criticOptimizer: criticAdam,
  criticPerDecoder: 2,
  data: { mode: 'paper', digits: 1 },
  seed: 1,
  checkpointEvery: 500,
  logEvery: 50,
  evalSamples: 1024,
  judgeSteps: 0,
};

const mse = (widths: number[], criticWidths: number[], batch: number, steps: number): TrainConfig => ({
  ...base, model: { kind: 'iframe', size: 64, widths, rate: '12' }, critic: { widths: criticWidths, spectralNorm: true }, batch, steps,
});
const perception = (from: string, lambda: number, steps: number): TrainConfig => ({
  ...presets_[from]!, stage: 'perception', from, lambda, steps, codecOptimizer: perceptionAdam, lrDropAt: undefined, harden: undefined,
});

const presets_: Record<string, TrainConfig> = {};
Object.assign(presets_, {
  // The last 1000 steps run on a hardened code (gain 2): test MSE 0.01276 at step 20000,
  // 0.01234 at 21000 (docs/results/iframe.md).
  'iframe-cpu-mse': { ...mse(CPU_WIDTHS, [16, 32, 64, 128], 32, 21000), lrDropAt: 16000, harden: { at: 20000, gain: 2 }, checkpointEvery: 250 },
  // Twice the cpu widths: tells whether decoder capacity or training length limits the cpu preset.
  'iframe-wide-mse': { ...mse([32, 64, 128, 256], [16, 32, 64, 128], 32, 20000), lrDropAt: 16000, checkpointEvery: 250 },
  'iframe-paper-mse': mse(PAPER_WIDTHS, [64, 128, 256, 512], 64, 20000),
  // Tiny nets for tests and smoke runs: seconds on the cpu backend.
  'tiny-mse': { ...mse(TINY_WIDTHS, TINY_WIDTHS, 4, 12), checkpointEvery: 3, logEvery: 1, evalSamples: 8 },
});
Object.assign(presets_, {
  // A decoder update every step (with every other step, the base, the critic stayed ahead).
  // Length: on the hardened stage-1 model the judge's W1 for the perception decoder was 11% of
  // the MMSE decoder's after 4500 steps and 17% after 6000 (31% after 3000 on the previous
  // model). Lambda 0.1: judge 31% against 35% at 0.05 on that model (docs/results/iframe.md).
  'iframe-cpu-perception': { ...perception('iframe-cpu-mse', 0.1, 4500), criticPerDecoder: 1, judgeSteps: 500 },
  'iframe-paper-perception': perception('iframe-paper-mse', 0.05, 10000),
  'tiny-perception': { ...perception('tiny-mse', 0.05, 8), judgeSteps: 2 },
  'tiny-nan': { ...presets_['tiny-mse']!, nanAtStep: 5 },
});

/**
 * P-frame cells: `pframe-<R1>-<R2>[-<R3>]-<mse|perception>` trains the last frame of a GOP at
 * those rates (frame 2 of a GOP of 2, frame 3 of a GOP of 3) with the earlier frames frozen:
 * R1 = 12 is the shipped I-frame model, R1 = inf the first frame itself; the MSE stage of frame 3
 * starts from the perception model of the GOP of 2 with the same first rates. The grid of the
 * paper's Table 1 and Figure 3 is this pattern over its rates.
 */
// [32, 32, 64, 64] trained at 15 samples/s on one core, [16, 32, 32, 64] at 31 (the full-resolution
// stages dominate): the narrower stack, so that a cell trains in hours. The last 1000 MSE steps run
// on hardened latents (gain 2), as the I-frame's: on 1024 held-out training sequences of
// pframe-12-12, frame-2 MMSE 0.909e-2 after 16000 steps, 0.886e-2 after 1000 more hardened ones
// (3 dither seeds; docs/results/pframe.md). The perception stage inherits the recipe (inert there),
// so a perception checkpoint of another stage-1 recipe is not resumed. Stage 2 updates the
// decoders every 5th step (the authors' schedule): with every step or every other step the
// decoders outran their critics and their ink swung a third above and below the real frames'
// (docs/results/pframe.md, the 12-12 recipe experiments).
const PFRAME_CPU_WIDTHS = [16, 32, 32, 64];
const SHIPPED_IFRAME: IFrameModelConfig = { kind: 'iframe', size: 64, widths: CPU_WIDTHS, rate: '12', critic: { widths: [16, 32, 64, 128], spectralNorm: true } };
function pframeCell(name: string, rates: RateName[], iframe: { config: IFrameModelConfig; from: string } | undefined, widths: number[], critic: CriticSpec, mse: Pick<TrainConfig, 'batch' | 'steps'> & Partial<TrainConfig>, perception: Pick<TrainConfig, 'steps' | 'lambda' | 'judgeSteps' | 'criticPerDecoder'>): void {
  const frame = rates.length;
  const first = { ...base, model: { kind: 'gop', size: 64, rates, ...(iframe ? { iframe: iframe.config } : {}), pframeWidths: widths }, critic, frame, ...mse } satisfies TrainConfig;
  const from = mse.from ?? (frame > 2 ? `${name.replace(/-[^-]+$/, '')}-perception` : iframe?.from);
  const second = { ...first, stage: 'perception', codecOptimizer: perceptionAdam, ...perception } satisfies TrainConfig;
  // At rate inf the frame is sent as is: no MSE stage, only the 0-PLF-JD decoder to train.
  if (rates.at(-1) === 'inf') {
    presets_[`${name}-perception`] = { ...second, ...(from ? { from } : {}) };
    return;
  }
  presets_[`${name}-mse`] = { ...first, ...(from ? { from } : {}) };
  presets_[`${name}-perception`] = { ...second, from: `${name}-mse` };
}
// Frame 3 repeats frame 2's task at the same rate on a better reference, so its stages start from
// frame 2's trained parts (fromPreviousFrame) and are short: stage 1 continues at frame 2's final
// learning rate (1e-4, already hardened). A fresh frame-3 stage 1 had reached a training-batch MSE
// of 0.0081 after 12000 steps (docs/results/pframe.md, Training record).
//
// The other frame-2 cells start stage 1 from a trained neighbour of the same R1 (fromOtherRate):
// 12-4 and 12-8 from 12-12, inf-1 and inf-3.17 from inf-2, a third of a fresh cell's steps with the
// same schedule shape. A fresh cell costs about 10 core-hours (docs/repro.md).
const NEIGHBOUR: Partial<Record<string, string>> = { 'inf-1': 'pframe-inf-2', 'inf-3.17': 'pframe-inf-2', '12-4': 'pframe-12-12', '12-8': 'pframe-12-12' };
for (const rates of [['inf', '1'], ['inf', '2'], ['inf', '3.17'], ['12', '4'], ['12', '8'], ['12', '12'], ['12', 'inf'], ['12', '4', '4'], ['12', '8', '8'], ['12', '12', '12'], ['12', 'inf', 'inf']] as RateName[][]) {
  const later = rates.length > 2;
  const neighbour = NEIGHBOUR[rates.join('-')];
  const stage1: Pick<TrainConfig, 'batch' | 'steps'> & Partial<TrainConfig> = later
    ? { batch: 32, steps: 1500, codecOptimizer: { ...codecAdam, lr: 1e-4 }, fromPreviousFrame: true, checkpointEvery: 100 }
    : neighbour
      ? { batch: 32, steps: 6000, lrDropAt: 4000, harden: { at: 5500, gain: 2 }, checkpointEvery: 250, from: `${neighbour}-perception`, fromOtherRate: true }
      : { batch: 32, steps: 17000, lrDropAt: 12000, harden: { at: 16000, gain: 2 }, checkpointEvery: 250 };
  pframeCell(`pframe-${rates.join('-')}`, rates, rates[0] === 'inf' ? undefined : { config: SHIPPED_IFRAME, from: 'zoo:iframe-cpu-12' }, PFRAME_CPU_WIDTHS, { widths: [16, 32, 64, 128], spectralNorm: true },
    stage1, { steps: later ? 1500 : 4500, lambda: 0.1, judgeSteps: 500, criticPerDecoder: 5 });
}
// An experiment on the inf-2 cell, whose one motion bit collapsed (91% of sequences on one side):
// the same cell with centred latents (GopModelConfig.centredLatents), to be compared on held-out
// sequences before any cell adopts it.
for (const stage of ['mse', 'perception'] as const) {
  const cell = presets_[`pframe-inf-2-${stage}`]!;
  presets_[`pframe-inf-2-centred-${stage}`] = { ...cell, model: { ...(cell.model as GopModelConfig), centredLatents: true }, ...(stage === 'perception' ? { from: 'pframe-inf-2-centred-mse' } : {}) };
}
// Tiny cells for tests: R1 = inf, and R1 = 12 on the tiny I-frame preset trained beside them.
const tinyIFrame = presets_['tiny-perception']!;
for (const rates of [['inf', '2'], ['12', '12'], ['12', '12', '12'], ['12', 'inf'], ['12', 'inf', 'inf']] as RateName[][]) {
  pframeCell(`tiny-pframe-${rates.join('-')}`, rates, rates[0] === 'inf' ? undefined : { config: { ...(tinyIFrame.model as IFrameModelConfig), critic: tinyIFrame.critic }, from: 'tiny-perception' },
    TINY_WIDTHS, tinyIFrame.critic, { batch: 4, steps: 6, ...(rates.length > 2 ? { fromPreviousFrame: true } : {}) }, { steps: 4, lambda: 0.05, judgeSteps: 2, criticPerDecoder: 2 });
}
for (const k of Object.keys(presets_).filter((k) => k.startsWith('tiny-pframe'))) Object.assign(presets_[k]!, { checkpointEvery: 3, logEvery: 1, evalSamples: 8 });
// Experiments on the 12-12 cell's 0-PLF-JD decoder, which kept a wrong first digit no more often
// than MMSE did (docs/results/pframe.md), stage 2 only, from the same stage-1 model: its own past
// warped by the frame's flow (GopModelConfig.warpedPast); a joint critic at the authors' widths,
// since a 16-128 one could not tell real pairs from pairs whose digit changes identity; both.
for (const cell of ['pframe-12-12', 'tiny-pframe-12-12']) {
  const base = presets_[`${cell}-perception`]!;
  const warped = { model: { ...(base.model as GopModelConfig), warpedPast: true } };
  const wide = { critic: { ...base.critic, jointWidths: cell.startsWith('tiny') ? [8, 8, 8, 8] : [64, 128, 256, 512] } };
  presets_[`${cell}-warped-perception`] = { ...base, ...warped };
  presets_[`${cell}-wide-joint-perception`] = { ...base, ...wide };
  presets_[`${cell}-wide-joint-warped-perception`] = { ...base, ...warped, ...wide };
}

export const presets: Readonly<Record<string, TrainConfig>> = presets_;

export function presetNames(): string[] {
  return Object.keys(presets);
}
