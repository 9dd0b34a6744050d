import { UserError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { MNIST_SIZE, mnistDigits } from './mnist.ts';
import { SPLIT_KEY, type Split, type VideoBatch } from './types.ts';

export type MotionMode = 'paper' | 'bounce';
export const MOTION_MODES: readonly MotionMode[] = ['paper', 'bounce'];

export interface MovingMnistOptions {
  split: Split;
  seed: number;
  frames: number;
  /** 'paper' (default): a fresh integer step in [-4, 4]^2 every frame, clamped at the walls; 'bounce': constant velocity, reflected. */
  mode?: MotionMode;
  /** Digits per sequence (default 1); overlapping pixels are clipped at 1. */
  digits?: number;
}

export const CANVAS = 64;
export const DIGIT = 32;
/** Largest top-left coordinate that keeps the whole digit on the canvas. */
export const MAX_POS = CANVAS - DIGIT;
/** Largest per-axis step of 'paper' mode, as in the paper's generator. */
export const MAX_STEP = 4;
/** 'bounce' speed in pixels per frame: the classic generator's 0.1 of the free range (Srivastava et al. 2015). */
export const BOUNCE_SPEED = 0.1 * MAX_POS;

const STREAM_TAG = 0x4d4d4e53; // 'MMNS': keeps these streams apart from every other use of Rng

/** Where each digit sits in each frame: top-left corners, index t * digits + d. */
export interface Trajectory {
  /** Index of each digit into mnistDigits(split). */
  digitIndex: Int32Array;
  x: Int32Array;
  y: Int32Array;
}

function checkOptions(opts: MovingMnistOptions): { mode: MotionMode; digits: number } {
  const mode = opts.mode ?? 'paper';
  const digits = opts.digits ?? 1;
  if (!MOTION_MODES.includes(mode)) throw new UserError(`unknown motion mode '${mode}' (expected ${MOTION_MODES.join(' or ')})`);
  if (!Number.isInteger(opts.frames) || opts.frames < 1) throw new UserError(`frames must be a positive integer, got ${opts.frames}`);
  if (!Number.isInteger(digits) || digits < 1) throw new UserError(`digits must be a positive integer, got ${digits}`);
  if (!Number.isInteger(opts.seed)) throw new UserError(`seed must be an integer, got ${opts.seed}`);
  return { mode, digits };
}

const clampPos = (p: number) => Math.min(MAX_POS, Math.max(0, p));

/** Reflect a coordinate that left [0, MAX_POS] by one step back inside; returns the new position and velocity sign. */
function reflect(p: number, v: number): [number, number] {
  if (p < 0) return [-p, -v];
  if (p > MAX_POS) return [2 * MAX_POS - p, -v];
  return [p, v];
}

/** The motion of sequence `index`: a pure function of (split, seed, index, mode, digits, frames). */
export function movingMnistTrajectory(opts: MovingMnistOptions, index: number): Trajectory {
  const { mode, digits } = checkOptions(opts);
  const T = opts.frames;
  const rng = new Rng(STREAM_TAG, SPLIT_KEY[opts.split], opts.seed >>> 0, index >>> 0);
  const pool = mnistDigits(opts.split).images.length;
  const traj: Trajectory = { digitIndex: new Int32Array(digits), x: new Int32Array(T * digits), y: new Int32Array(T * digits) };
  for (let d = 0; d < digits; d++) {
    traj.digitIndex[d] = rng.int(0, pool - 1);
    let x = rng.int(0, MAX_POS);
    let y = rng.int(0, MAX_POS);
    if (mode === 'paper') {
      for (let t = 0; t < T; t++) {
        if (t > 0) {
          x = clampPos(x + rng.int(-MAX_STEP, MAX_STEP));
          y = clampPos(y + rng.int(-MAX_STEP, MAX_STEP));
        }
        traj.x[t * digits + d] = x;
        traj.y[t * digits + d] = y;
      }
    } else {
      const angle = 2 * Math.PI * rng.uniform();
      let vx = BOUNCE_SPEED * Math.cos(angle);
      let vy = BOUNCE_SPEED * Math.sin(angle);
      for (let t = 0; t < T; t++) {
        if (t > 0) {
          [x, vx] = reflect(x + vx, vx);
          [y, vy] = reflect(y + vy, vy);
        }
        traj.x[t * digits + d] = Math.round(x);
        traj.y[t * digits + d] = Math.round(y);
      }
    }
  }
  return traj;
}

/** Bilinear resize of a 28x28 digit to 32x32 with pixel-centre alignment (as PIL and OpenCV do). */
export function resizeDigit(src: Float32Array): Float32Array {
  const out = new Float32Array(DIGIT * DIGIT);
  const scale = MNIST_SIZE / DIGIT;
  const coord = (i: number) => {
    const s = Math.min(MNIST_SIZE - 1, Math.max(0, (i + 0.5) * scale - 0.5));
    const i0 = Math.min(MNIST_SIZE - 2, Math.floor(s));
    return [i0, s - i0] as const;
  };
  for (let r = 0; r < DIGIT; r++) {
    const [r0, fr] = coord(r);
    for (let c = 0; c < DIGIT; c++) {
      const [c0, fc] = coord(c);
      const p = r0 * MNIST_SIZE + c0;
      const top = src[p]! * (1 - fc) + src[p + 1]! * fc;
      const bottom = src[p + MNIST_SIZE]! * (1 - fc) + src[p + MNIST_SIZE + 1]! * fc;
      out[r * DIGIT + c] = top * (1 - fr) + bottom * fr;
    }
  }
  return out;
}

const resized: Record<Split, Array<Float32Array | undefined>> = { train: [], test: [] };

/** The 32x32 version of digit i of a split, resized once and kept. */
export function resizedDigit(split: Split, i: number): Float32Array {
  return (resized[split][i] ??= resizeDigit(mnistDigits(split).images[i]!));
}

/** Sequences start..start+batch-1 as [batch, frames, 64, 64, 1]; each is a pure function of (split, seed, index). */
export function movingMnistBatch(opts: MovingMnistOptions, start: number, batch: number): VideoBatch {
  const { digits } = checkOptions(opts);
  if (!Number.isInteger(start) || start < 0) throw new UserError(`start must be a non-negative integer, got ${start}`);
  if (!Number.isInteger(batch) || batch < 1) throw new UserError(`batch must be a positive integer, got ${batch}`);
  const T = opts.frames;
  const frameSize = CANVAS * CANVAS;
  const data = new Float32Array(batch * T * frameSize);
  const labels = new Int32Array(batch);
  const digitLabels = mnistDigits(opts.split).labels;
  for (let b = 0; b < batch; b++) {
    const traj = movingMnistTrajectory(opts, start + b);
    labels[b] = digitLabels[traj.digitIndex[0]!]!;
    const images = Array.from(traj.digitIndex, (i) => resizedDigit(opts.split, i));
    for (let t = 0; t < T; t++) {
      const frame = (b * T + t) * frameSize;
      for (let d = 0; d < digits; d++) {
        const img = images[d]!;
        const x = traj.x[t * digits + d]!;
        const y = traj.y[t * digits + d]!;
        for (let r = 0; r < DIGIT; r++) {
          const row = frame + (y + r) * CANVAS + x;
          for (let c = 0; c < DIGIT; c++) data[row + c]! += img[r * DIGIT + c]!;
        }
      }
      if (digits > 1) {
        for (let p = frame; p < frame + frameSize; p++) if (data[p]! > 1) data[p] = 1;
      }
    }
  }
  return { data, shape: [batch, T, CANVAS, CANVAS, 1], labels };
}
