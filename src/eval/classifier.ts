/**
 * A digit classifier for MovingMNIST frames, the reader of the error-permanence measurement
 * (src/eval/permanence.ts): a small CNN as a pure function over a parameter record (like the
 * critics), trained with Adam on frames of the training split's digits, scored on frames of the
 * test split's digits (the two splits hold different MNIST digits, data/mnist.ts).
 *
 * The network: blocks of a 3x3 convolution, ReLU and a 2x2 max pool (64 -> 32 -> 16 -> 8 -> 4),
 * then each channel's maximum over positions (the digit may sit anywhere on the canvas) and a
 * dense layer to the class scores. Seeded init, seeded data, a fixed step count: the same options
 * give the same weights (on the single-threaded wasm backend, bit for bit).
 */
import { tf } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { movingMnistSource, type FrameSource } from '../data/source.ts';
import type { Split } from '../data/types.ts';
import { conv, dense, initConv, initDense, type ConvParams } from '../models/layers.ts';
import { decodeParamsInto, disposeParams, encodeParams, type ParamTree } from '../models/params.ts';
import { decodeTensorFile } from '../models/tensor-file.ts';
import { sha256Hex } from '../models/model-file.ts';
import { zooManifest, type WeightStore } from '../models/zoo.ts';
import { Adam } from '../optim/adam.ts';

export interface ClassifierConfig {
  /** Frame height and width (square, one channel). */
  size: number;
  /** Channels of the conv blocks (each halves height and width). */
  widths: number[];
  classes: number;
}

export interface ClassifierParams extends ParamTree {
  blocks: Record<string, ConvParams>;
  out: ConvParams;
}

/** The shipped classifier's shape (models/digit-classifier.safetensors). */
export const DIGIT_CLASSIFIER: ClassifierConfig = { size: 64, widths: [16, 32, 64, 64], classes: 10 };
/**
 * How it was trained (scripts/train-classifier.ts): 2,000 steps of 32 frames. Measured on one
 * busy core (docs/results/beyond.md): [8, 16, 32] 4x4 stride-2 convs with a dense layer on the
 * flattened map reached 94.8% in 3,000 steps of 64, [16, 32, 64, 64] 97.1% (shift-variant heads
 * learn every position apart); this pooled, shift-invariant stack reached 98.1%.
 */
export const DIGIT_CLASSIFIER_TRAINING = { seed: 1, steps: 2000, batch: 32, lr: 2e-3 } as const;
/** Its manifest name. */
export const DIGIT_CLASSIFIER_NAME = 'digit-classifier';
/** The metadata key holding a classifier file's config. */
const CONFIG_KEY = 'classifier';
/** The weight-file prefix of the parameters. */
const PREFIX = 'classifier';

function checkConfig(c: ClassifierConfig): void {
  const down = 2 ** c.widths.length;
  if (!Number.isInteger(c.size) || c.size < 1 || c.size % down !== 0) throw new UserError(`classifier: size ${c.size} must be a multiple of ${down}`);
  if (c.widths.length < 1 || c.widths.some((w) => !Number.isInteger(w) || w < 1)) throw new UserError(`classifier: widths must be positive integers, got [${c.widths}]`);
  if (!Number.isInteger(c.classes) || c.classes < 2) throw new UserError(`classifier: classes must be an integer >= 2, got ${c.classes}`);
}

export function initClassifier(c: ClassifierConfig, seed: number): ClassifierParams {
  checkConfig(c);
  const blocks: Record<string, ConvParams> = {};
  c.widths.forEach((w, i) => (blocks[`b${i}`] = initConv(seed, 900 + i, 3, i === 0 ? 1 : c.widths[i - 1]!, w)));
  return { blocks, out: initDense(seed, 950, c.widths.at(-1)!, c.classes) };
}

/** [B, size, size, 1] frames in [0, 1] to [B, classes] scores (logits). */
export function classifierLogits(p: ClassifierParams, x: tf.Tensor4D): tf.Tensor2D {
  let h = x;
  for (const b of Object.values(p.blocks)) h = tf.maxPool(tf.relu(conv(b, h, 1)), 2, 2, 'valid');
  return dense(p.out, tf.max(h, [1, 2]) as tf.Tensor2D);
}

/** The most likely class of each frame of a [B, size, size, 1] batch. */
export function classify(p: ClassifierParams, frames: tf.Tensor4D): Int32Array {
  return Int32Array.from(tf.tidy(() => tf.argMax(classifierLogits(p, frames), 1).dataSync()));
}

/** A classifier as the permanence measurement uses it: frames in, classes out. */
export type FrameClassifier = (frames: tf.Tensor4D) => Int32Array;

export const classifierFn = (p: ClassifierParams): FrameClassifier => (frames) => classify(p, frames);

export interface TrainClassifierOptions {
  config?: ClassifierConfig;
  /** Init seed. */
  seed: number;
  steps: number;
  batch: number;
  /** Adam's learning rate (betas 0.9, 0.999), decayed by a half cosine to 0 over the steps. */
  lr?: number;
  /** Frames to learn from (default: MovingMNIST, 'paper' motion, data seed `seed`); step k reads training sequences k*batch.. (frame 1 of each). */
  source?: FrameSource;
  /** Called every `logEvery` steps (default 100) with the step (1-based) and the mean loss since the last call. */
  onLog?: (step: number, loss: number) => void;
  logEvery?: number;
}

export interface TrainedClassifier {
  config: ClassifierConfig;
  params: ClassifierParams;
  steps: number;
  /** Wall-clock seconds of the training loop. */
  seconds: number;
  /** Mean cross-entropy of the last `logEvery` steps. */
  finalLoss: number;
}

/** Mean softmax cross-entropy of logits against integer labels. */
function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, classes: number): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, classes), tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

export function trainClassifier(o: TrainClassifierOptions): TrainedClassifier {
  const config = o.config ?? DIGIT_CLASSIFIER;
  const source = o.source ?? movingMnistSource({ seed: o.seed });
  if (source.size !== config.size) throw new UserError(`classifier: the source's frames are ${source.size}x${source.size}, the network reads ${config.size}x${config.size}`);
  if (!Number.isInteger(o.steps) || o.steps < 1 || !Number.isInteger(o.batch) || o.batch < 1) throw new UserError('classifier: steps and batch must be positive integers');
  const params = initClassifier(config, o.seed);
  const opt = new Adam(params, { lr: o.lr ?? 2e-3, beta1: 0.9, beta2: 0.999 });
  const logEvery = o.logEvery ?? 100;
  const started = performance.now();
  let sum = 0, count = 0, finalLoss = NaN;
  for (let step = 0; step < o.steps; step++) {
    const b = source.batch('train', step * o.batch, o.batch, 1);
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(b.data, [o.batch, config.size, config.size, 1]);
      const y = tf.tensor1d(b.labels, 'int32');
      const { value, grads } = tf.variableGrads(() => crossEntropy(classifierLogits(params, x), y, config.classes), opt.variables());
      opt.apply(grads, 0.5 * (1 + Math.cos((Math.PI * step) / o.steps)));
      return value.dataSync()[0]!;
    });
    if (!Number.isFinite(loss)) throw new Error(`classifier: the loss is ${loss} at step ${step + 1}`);
    sum += loss;
    count++;
    if ((step + 1) % logEvery === 0 || step + 1 === o.steps) {
      finalLoss = sum / count;
      o.onLog?.(step + 1, finalLoss);
      sum = 0;
      count = 0;
    }
  }
  tf.dispose([opt.state.t, ...Object.values(opt.state.m), ...Object.values(opt.state.v)] as tf.Tensor[]);
  return { config, params, steps: o.steps, seconds: (performance.now() - started) / 1000, finalLoss };
}

export interface AccuracyOptions {
  samples: number;
  split?: Split;
  first?: number;
  /** Frames per sequence read (default 1: frame 1 only); every one is scored against the sequence's label. */
  frames?: number;
  batch?: number;
}

export interface Accuracy {
  accuracy: number;
  correct: number;
  /** Frames scored. */
  frames: number;
  source: string;
  split: Split;
  first: number;
}

/** Accuracy on ground-truth frames: sequences first..first+samples-1 of a split (default test). */
export function classifierAccuracy(p: ClassifierParams, source: FrameSource, o: AccuracyOptions): Accuracy {
  const split = o.split ?? 'test';
  const first = o.first ?? 0;
  const T = o.frames ?? 1;
  const batch = o.batch ?? 128;
  let correct = 0;
  for (let s = 0; s < o.samples; s += batch) {
    const n = Math.min(batch, o.samples - s);
    const b = source.batch(split, first + s, n, T);
    const got = tf.tidy(() => classify(p, tf.tensor4d(b.data, [n * T, source.size, source.size, 1])));
    got.forEach((c, k) => (correct += c === b.labels[Math.floor(k / T)]! ? 1 : 0));
  }
  return { accuracy: correct / (o.samples * T), correct, frames: o.samples * T, source: source.name, split, first };
}

/** A classifier weight file: the parameters under `classifier.*`, its config under the metadata key `classifier`. */
export function encodeClassifier(c: ClassifierConfig, p: ClassifierParams, metadata: Record<string, string> = {}): Uint8Array {
  return encodeParams({ [PREFIX]: p }, { ...metadata, [CONFIG_KEY]: JSON.stringify(c) });
}

export function decodeClassifier(bytes: Uint8Array, source: string): { config: ClassifierConfig; params: ClassifierParams; metadata: Record<string, string> } {
  const raw = decodeTensorFile(bytes, source).metadata[CONFIG_KEY];
  if (raw === undefined) throw new UserError(`${source}: not a classifier file (no '${CONFIG_KEY}' metadata)`);
  let config: ClassifierConfig;
  try {
    config = JSON.parse(raw) as ClassifierConfig;
  } catch {
    throw new UserError(`${source}: unreadable classifier config`);
  }
  const params = initClassifier(config, 0);
  try {
    const metadata = decodeParamsInto(bytes, { [PREFIX]: params }, source);
    return { config, params, metadata };
  } catch (e) {
    disposeParams(params);
    throw e;
  }
}

/** The shipped classifier (models/digit-classifier.safetensors), its bytes checked against the manifest's sha256. */
export async function loadShippedClassifier(store: WeightStore, name = DIGIT_CLASSIFIER_NAME): Promise<{ config: ClassifierConfig; params: ClassifierParams; sha256: string }> {
  const entry = (await zooManifest(store)).find((e) => e.name === name);
  if (!entry) throw new UserError(`no shipped classifier '${name}' in the model manifest`);
  const bytes = await store.read(entry.file);
  const sha256 = await sha256Hex(bytes);
  if (sha256 !== entry.sha256) throw new UserError(`${store.where(entry.file)}: sha256 does not match the manifest (corrupt or replaced file)`);
  const { config, params } = decodeClassifier(bytes, store.where(entry.file));
  return { config, params, sha256 };
}
