/**
 * One cell of a table scored: the model read from its file (readModelFile, so what decoding
 * .rdpv bytes gives: the evaluation goes through the model's VideoCodec) on the MovingMNIST test
 * split, every decoder's per-pixel MSE of the P-frame (frame 2) per dither seed (each a mean over
 * the sequences), then mean and standard deviation over the seeds; with a judge, each decoder's
 * judge W1 the same way.
 */
import { movingMnistSource } from '../data/source.ts';
import { evalProgress, evaluate, type EvalReport, type EvalResult, type Stat } from '../eval/evaluate.ts';
import { otBound, type OtBoundFrame } from '../eval/ot-bound.ts';
import type { Split } from '../data/types.ts';
import type { DecoderName } from '../models/decoders.ts';
import type { CriticSpec } from '../models/iframe.ts';
import type { LoadedModel } from '../models/model-file.ts';

export interface CellEvalSettings {
  /** Test sequences scored. */
  samples: number;
  /** Dither seeds 1..K. */
  ditherSeeds: number;
  /** Steps of a fresh judge critic per decoder and seed; 0: no judge. */
  judgeSteps: number;
  batch: number;
  /** N > 0: Theorem 3.2's bound on N test sequences beside the learned decoders (cellOtBound); 0 or absent: none (it costs minutes at N = 1,000). */
  otBound?: number;
  /** The frame scored, 1-based (default 2: the P-frame of Table 1; the tradeoff sweep scores an I-frame model's frame 1). */
  frame?: number;
  /**
   * Score training sequences from this index instead of the test split: held out, far past what
   * training reads, so that settings such as lambda are chosen without looking at the test split.
   */
  heldOut?: number;
}

/** MovingMNIST's test split as the paper's table is measured on it (the data seed of `rdpv eval`). */
export const EVAL_DATA_SEED = 1;
/** The P-frame: frame 2 (index 1 of EvalResult.frames). */
export const PFRAME_INDEX = 1;
/** The frame settings score (1-based). */
const scoredFrame = (s: CellEvalSettings) => s.frame ?? PFRAME_INDEX + 1;
/** Bootstrap resamples of the OT bound (its seed and the dither seed of its encoding are 1: one fixed file). */
export const OT_BOOTSTRAP = 20;

/** The judge's settings as `rdpv eval --judge-steps` uses them. */
const JUDGE_ADAM = { lr: 2e-4, beta1: 0.5, beta2: 0.9 };
const DEFAULT_JUDGE_CRITIC: CriticSpec = { widths: [16, 32, 64, 128], spectralNorm: true };
const JUDGE_BATCH = 32;
const JUDGE_SEED = 1000 + EVAL_DATA_SEED;

/** Mean and (sample, n - 1) standard deviation over dither seeds, with the per-seed values. */
export interface SeedStat {
  mean: number;
  std: number;
  per_seed: number[];
}

export interface CellEval {
  job: string;
  cell: string;
  /** Where the model came from (a file path or `zoo:NAME`), its id and the sha256 of its bytes. */
  model: { from: string; id: string; sha256: string };
  source: string;
  split: Split;
  /** The first sequence scored (0 on the test split). */
  first?: number;
  samples: number;
  dither_seeds: number[];
  judge_steps: number;
  frame: number;
  rate: string;
  mse: Partial<Record<DecoderName, SeedStat>>;
  judge_w1?: Partial<Record<DecoderName, SeedStat>>;
  /** The joint judge on frames 1..t (from frame 2 on): the 0-PLF-JD decoder's criterion. */
  judge_joint_w1?: Partial<Record<DecoderName, SeedStat>>;
  /** With settings.otBound > 0: the scored frame's Theorem 3.2 bound. */
  ot_bound?: CellOtBound;
  eval_seconds: number;
}

/** Theorem 3.2 for one frame of a model (src/eval/ot-bound.ts), with the settings it was estimated under. */
export interface CellOtBound extends OtBoundFrame {
  bootstrap: number;
  dither_seed: number;
  reference_first: number;
  seconds: number;
}

export function seedStat(values: number[]): SeedStat {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, std, per_seed: values };
}

const fromStat = (s: Stat) => seedStat(s.values);

/**
 * The best any 0-PLF-FMD decoder of this model's encoder can do at `frame` (1-based): D_MMSE +
 * W2^2 by exact assignment between the MMSE reconstructions of N test sequences and the frames of
 * N others, with a bootstrap spread, beside the learned FMD decoder on the same file.
 */
export function cellOtBound(lm: LoadedModel, samples: number, frame: number): CellOtBound {
  const r = otBound(lm.model, movingMnistSource({ seed: EVAL_DATA_SEED }), { samples, bootstrap: OT_BOOTSTRAP, seed: 1, ditherSeed: 1 });
  const f = r.frames[frame - 1];
  if (!f) throw new Error(`${lm.id}: a model of ${r.frames.length} frame(s) has no frame ${frame}`);
  return { ...f, bootstrap: r.bootstrap, dither_seed: r.dither_seed, reference_first: r.reference_first, seconds: Number(r.seconds.toFixed(2)) };
}

/** A job's evaluation progress as log lines: each seed's end, and a line at most every 30 s between. */
export const evalLines = (seeds: number, say: (line: string) => void): EvalReport => evalProgress(seeds, say, 30_000);

/** Score one cell's model (progress lines to `say`). */
export async function evaluateCell(lm: LoadedModel, job: string, cell: string, from: string, s: CellEvalSettings, say?: (line: string) => void): Promise<CellEval> {
  const t0 = performance.now();
  const seeds = Array.from({ length: s.ditherSeeds }, (_, i) => i + 1);
  const source = movingMnistSource({ seed: EVAL_DATA_SEED });
  const index = scoredFrame(s) - 1;
  const critic = lm.model.config.critic ?? DEFAULT_JUDGE_CRITIC;
  const r: EvalResult = await evaluate(lm.model, source, {
    samples: s.samples, split: s.heldOut === undefined ? 'test' : 'train', first: s.heldOut ?? 0, ditherSeeds: seeds, batch: s.batch, ...(say ? evalLines(seeds.length, say) : {}),
    // Judges for the scored frame only (and its joint judge over the frames up to it).
    ...(s.judgeSteps > 0 ? { judge: { widths: critic.widths, spectralNorm: critic.spectralNorm, ...(critic.jointWidths ? { jointWidths: critic.jointWidths } : {}), steps: s.judgeSteps, batch: JUDGE_BATCH, seed: JUDGE_SEED, optimizer: JUDGE_ADAM }, judgeFrames: [index + 1] } : {}),
  });
  const f = r.frames[index];
  if (!f) throw new Error(`${from}: a model of ${r.frames.length} frame(s) has no frame ${index + 1}`);
  const mse: CellEval['mse'] = {};
  const judge: NonNullable<CellEval['judge_w1']> = {};
  const joint: NonNullable<CellEval['judge_joint_w1']> = {};
  for (const [name, d] of Object.entries(f.decoders) as [DecoderName, NonNullable<(typeof f.decoders)[DecoderName]>][]) {
    mse[name] = fromStat(d.mse);
    if (d.judge_w1) judge[name] = fromStat(d.judge_w1);
    if (d.judge_joint_w1) joint[name] = fromStat(d.judge_joint_w1);
  }
  return {
    job, cell, model: { from, id: lm.id, sha256: lm.sha256 }, source: r.source, split: r.split, first: r.first, samples: s.samples, dither_seeds: seeds,
    judge_steps: s.judgeSteps, frame: f.frame, rate: f.rate, mse, ...(s.judgeSteps > 0 ? { judge_w1: judge, ...(Object.keys(joint).length ? { judge_joint_w1: joint } : {}) } : {}),
    ...(s.otBound ? { ot_bound: cellOtBound(lm, s.otBound, f.frame) } : {}),
    eval_seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
  };
}

/** Whether a stored result was made with these settings on these weights (else the job is redone). */
export function matches(r: CellEval, s: CellEvalSettings, sha256: string): boolean {
  return r.model.sha256 === sha256 && r.samples === s.samples && r.dither_seeds.length === s.ditherSeeds && r.judge_steps === s.judgeSteps &&
    r.frame === scoredFrame(s) && (r.ot_bound?.samples ?? 0) === (s.otBound ?? 0) && (r.split ?? 'test') === (s.heldOut === undefined ? 'test' : 'train') && (r.first ?? 0) === (s.heldOut ?? 0);
}
