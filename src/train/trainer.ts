/**
 * What the training loop (run.ts) needs of a model kind's trainer; a new kind registers its
 * trainer in TRAINERS and the loop's checkpoints, resume, NaN stop, progress and logs apply.
 */
import type { FrameSource } from '../data/source.ts';
import type { Model } from '../models/model-file.ts';
import type { ParamTree } from '../models/params.ts';
import { IFrameTrainer } from './iframe-trainer.ts';
import type { TrainConfig } from './presets.ts';

export type Losses = Record<string, number>;

export interface Trainer {
  /** The model as trained so far (its variables are the trainer's own): what the final file holds. */
  model(): Model;
  /** What a checkpoint holds: the model plus every optimizer's state. */
  checkpointGroups(): Record<string, ParamTree>;
  /** The groups a perception stage loads from its MSE stage's model file, before `start()`. */
  startGroups(): Record<string, ParamTree>;
  /** Begin a perception stage from the loaded groups (its new decoders start from the MMSE decoder). */
  start(): void;
  /** Step `step` (0-based): one batch, one update; all randomness a pure function of (seed, step). */
  step(step: number): Losses;
}

export const TRAINERS: Record<TrainConfig['model']['kind'], (c: TrainConfig, source: FrameSource) => Trainer> = {
  iframe: (c, source) => new IFrameTrainer(c, source),
};
