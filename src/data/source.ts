/**
 * One interface for "a source of frame sequences": MovingMNIST, KTH and, later, a user's video
 * implement it, and training and evaluation take a source instead of calling a data set.
 */
import { UserError } from '../errors.ts';
import { KTH_SIZE, loadKth } from './kth.ts';
import { CANVAS, movingMnistBatch, type MotionMode } from './moving-mnist.ts';
import type { Split, VideoBatch } from './types.ts';

export interface FrameSource {
  /** What it is, for logs and results (e.g. `moving-mnist paper 1 digit seed 1`). */
  name: string;
  /** Frame height and width (square frames, one channel in [0, 1]). */
  size: number;
  /** Sequences in a split (Infinity for generated data). */
  count(split: Split): number;
  /** Sequences start..start+n-1 of a split, `frames` long: [n, frames, size, size, 1]. */
  batch(split: Split, start: number, n: number, frames: number): VideoBatch;
}

export interface MovingMnistSourceOptions {
  seed: number;
  mode?: MotionMode;
  digits?: number;
}

/** MovingMNIST generated on the fly: sequence i of a split is a pure function of (seed, i), whatever the length asked. */
export function movingMnistSource(o: MovingMnistSourceOptions): FrameSource {
  const mode = o.mode ?? 'paper';
  const digits = o.digits ?? 1;
  return {
    name: `moving-mnist ${mode} ${digits} digit${digits === 1 ? '' : 's'} seed ${o.seed}`,
    size: CANVAS,
    count: () => Infinity,
    batch: (split, start, n, frames) => movingMnistBatch({ split, seed: o.seed, frames, mode, digits }, start, n),
  };
}

/** KTH clips of a fixed length from a user's folder of the original AVIs (both splits decoded and cached once). */
export async function kthSource(dir: string, o: { frames: number; seed?: number; actions?: string[] }): Promise<FrameSource> {
  const splits = { train: await loadKth(dir, { ...o, split: 'train' }), test: await loadKth(dir, { ...o, split: 'test' }) };
  return {
    name: `kth ${dir} seed ${o.seed ?? 0}`,
    size: KTH_SIZE,
    count: (split) => splits[split].count,
    batch(split, start, n, frames) {
      if (frames !== o.frames) throw new UserError(`this KTH source was opened for ${o.frames}-frame clips, not ${frames}`);
      return splits[split].batch(start, n);
    },
  };
}

/** Frame t of every sequence of a batch: [n, size, size, 1] values. */
export function frameOf(b: VideoBatch, t: number): Float32Array {
  const [n, T, h, w] = b.shape;
  const per = h * w;
  const out = new Float32Array(n * per);
  for (let i = 0; i < n; i++) out.set(b.data.subarray((i * T + t) * per, (i * T + t + 1) * per), i * per);
  return out;
}
