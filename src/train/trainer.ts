/**
 * What the training loop (run.ts) needs of a model kind's trainer; a new kind registers its
 * trainer in TRAINERS and the loop's checkpoints, resume, NaN stop, progress and logs apply.
 */
import { tf } from '../engine/index.ts';
import type { FrameSource } from '../data/source.ts';
import type { Model } from '../models/model-file.ts';
import type { ParamTree } from '../models/params.ts';
import { GopTrainer } from './gop-trainer.ts';
import { IFrameTrainer } from './iframe-trainer.ts';
import type { TrainConfig } from './presets.ts';
import type { Replica } from './replica.ts';

export type Losses = Record<string, number>;
/** A step's losses as scalars where they were computed: a GPU backend hands them back only asynchronously. */
export type LossTensors = Record<string, tf.Scalar>;

/** Read a step's losses (and free their tensors). */
export async function readLosses(step: LossTensors | Promise<LossTensors>): Promise<Losses> {
  const t = await step;
  const values = await Promise.all(Object.values(t).map((v) => v.data()));
  tf.dispose(Object.values(t));
  return Object.fromEntries(Object.keys(t).map((k, i) => [k, values[i]![0]!]));
}

export interface Trainer {
  /** The model as trained so far (its variables are the trainer's own): what the final file holds. */
  model(): Model;
  /** What a checkpoint holds: the model plus every optimizer's state. */
  checkpointGroups(): Record<string, ParamTree>;
  /**
   * A fresh run (not a resume) begins: take the weights the stage starts from out of `from`
   * (the model named by the config's `from`: the MSE stage's model for a perception stage).
   */
  start(from: Model | undefined): void;
  /**
   * Step `step` (0-based): one batch, one update; all randomness a pure function of (seed, step).
   * Its losses: read them with readLosses. A data-parallel trainer answers when its replicas have.
   */
  step(step: number): LossTensors | Promise<LossTensors>;
  /** Bring the variables of model() and checkpointGroups() up to date (a data-parallel trainer's live in its replicas). */
  sync?(): Promise<void>;
  /** Release what the trainer holds beyond its variables (threads). */
  close?(): Promise<void>;
}

/** Each model kind's trainer, over a replica of every batch (the whole batch by default). */
export const TRAINERS: Record<TrainConfig['model']['kind'], (c: TrainConfig, source: FrameSource, replica?: Replica) => Trainer> = {
  iframe: (c, source, replica) => new IFrameTrainer(c, source, replica),
  gop: (c, source, replica) => new GopTrainer(c, source, replica),
};
