/**
 * One cell of a table scored: the model read from its file (readModelFile, so what decoding
 * .rdpv bytes gives: the evaluation goes through the model's VideoCodec) on the MovingMNIST test
 * split, every decoder's per-pixel MSE of the P-frame (frame 2) per dither seed (each a mean over
 * the sequences), then mean and standard deviation over the seeds; with a judge, each decoder's
 * judge W1 the same way.
 */
import { movingMnistSource } from '../data/source.ts';
import { evaluate, type EvalResult, type Stat } from '../eval/evaluate.ts';
import type { DecoderName } from '../models/decoders.ts';
import type { LoadedModel } from '../models/model-file.ts';

export interface CellEvalSettings {
  /** Test sequences scored. */
  samples: number;
  /** Dither seeds 1..K. */
  ditherSeeds: number;
  /** Steps of a fresh judge critic per decoder and seed; 0: no judge. */
  judgeSteps: number;
  batch: number;
}

/** MovingMNIST's test split as the paper's table is measured on it (the data seed of `rdpv eval`). */
export const EVAL_DATA_SEED = 1;
/** The P-frame: frame 2 (index 1 of EvalResult.frames). */
export const PFRAME_INDEX = 1;

/** The judge's settings as `rdpv eval --judge-steps` uses them. */
const JUDGE_ADAM = { lr: 2e-4, beta1: 0.5, beta2: 0.9 };
const DEFAULT_JUDGE_CRITIC = { widths: [16, 32, 64, 128], spectralNorm: true };
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
  split: 'test';
  samples: number;
  dither_seeds: number[];
  judge_steps: number;
  frame: number;
  rate: string;
  mse: Partial<Record<DecoderName, SeedStat>>;
  judge_w1?: Partial<Record<DecoderName, SeedStat>>;
  eval_seconds: number;
}

export function seedStat(values: number[]): SeedStat {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, std, per_seed: values };
}

const fromStat = (s: Stat) => seedStat(s.values);

/** Score one cell's model. */
export function evaluateCell(lm: LoadedModel, job: string, cell: string, from: string, s: CellEvalSettings, onSeed?: (seed: number) => void): CellEval {
  const t0 = performance.now();
  const seeds = Array.from({ length: s.ditherSeeds }, (_, i) => i + 1);
  const source = movingMnistSource({ seed: EVAL_DATA_SEED });
  const critic = lm.model.config.critic ?? DEFAULT_JUDGE_CRITIC;
  const r: EvalResult = evaluate(lm.model, source, {
    samples: s.samples, split: 'test', ditherSeeds: seeds, batch: s.batch, onSeed,
    ...(s.judgeSteps > 0 ? { judge: { widths: critic.widths, spectralNorm: critic.spectralNorm, steps: s.judgeSteps, batch: JUDGE_BATCH, seed: JUDGE_SEED, optimizer: JUDGE_ADAM } } : {}),
  });
  const f = r.frames[PFRAME_INDEX];
  if (!f) throw new Error(`${from}: a model of ${r.frames.length} frame(s) has no P-frame (frame 2)`);
  const mse: CellEval['mse'] = {};
  const judge: NonNullable<CellEval['judge_w1']> = {};
  for (const [name, d] of Object.entries(f.decoders) as [DecoderName, NonNullable<(typeof f.decoders)[DecoderName]>][]) {
    mse[name] = fromStat(d.mse);
    if (d.judge_w1) judge[name] = fromStat(d.judge_w1);
  }
  return {
    job, cell, model: { from, id: lm.id, sha256: lm.sha256 }, source: r.source, split: 'test', samples: s.samples, dither_seeds: seeds,
    judge_steps: s.judgeSteps, frame: f.frame, rate: f.rate, mse, ...(s.judgeSteps > 0 ? { judge_w1: judge } : {}),
    eval_seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
  };
}

/** Whether a stored result was made with these settings on these weights (else the job is redone). */
export function matches(r: CellEval, s: CellEvalSettings, sha256: string): boolean {
  return r.model.sha256 === sha256 && r.samples === s.samples && r.dither_seeds.length === s.ditherSeeds && r.judge_steps === s.judgeSteps;
}
