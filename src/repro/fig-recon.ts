/**
 * The picture figures (the paper's Figures 2 and 4): groups of pictures next to their 0-PLF-JD,
 * 0-PLF-FMD and MMSE reconstructions, one row per sequence. Rows are chosen where the error
 * permanence shows (Figure 2: the classifier reads the I-frame's digit wrong; Figure 4, where no
 * digit is to be read: the I-frame reconstructions farthest from their frames), and a seeded
 * random set beside them, so a reader sees how typical the chosen rows are. Frames reach the
 * decoders through the model's VideoCodec, as decoding an .rdpv file gives them.
 */
import { tf } from '../engine/index.ts';
import type { RateName } from '../codec/rates.ts';
import { frameOf, type FrameSource } from '../data/source.ts';
import type { Split } from '../data/types.ts';
import type { FrameClassifier } from '../eval/classifier.ts';
import { UserError } from '../errors.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import type { Model } from '../models/model-file.ts';
import { Rng } from '../rng.ts';
import { videoCodec } from '../video/codec.ts';
import type { GrayImage } from '../data/frames-io.ts';
import { labelledGrid, toTile } from './labelled-grid.ts';

/** The paper's column order after the ground truth. */
export const FIGURE_DECODERS: readonly DecoderName[] = ['jd', 'fmd', 'mmse'];
/** The decoder whose frame 1 decides whether the I-frame is wrong: the I-frame's perception reconstruction, which 0-PLF-JD and 0-PLF-FMD share. */
export const PERCEPTION_IFRAME: DecoderName = 'jd';
const SHORT: Record<DecoderName, string> = { mmse: 'MMSE', fmd: 'FMD', jd: 'JD' };
const RANDOM_TAG = 0x46494752; // 'FIGR': the random rows' stream

type Columns = 'truth' | DecoderName;

/** One batch of decoded groups of pictures: frames [t] as [n, size, size] values, and the classifier's reads when one is given. */
export interface DecodedBatch {
  start: number;
  n: number;
  labels: Int32Array;
  frames: Record<Columns, Float32Array[]>;
  reads?: Record<Columns, Int32Array[]>;
}

export interface ScanOptions {
  /** Sequences `first`.. `first + samples - 1` of `split` (default test, from 0). */
  samples: number;
  split?: Split;
  first?: number;
  /** The file dither seed of the one decoding shown (default 1). */
  ditherSeed?: number;
  batch?: number;
  classify?: FrameClassifier;
}

/** Decode sequences batch by batch with every decoder the figure shows (and classify every frame). */
export function* decodedBatches(model: Model, source: FrameSource, o: ScanOptions): Generator<DecodedBatch> {
  const codec = videoCodec(model);
  const T = codec.rates.length;
  const missing = FIGURE_DECODERS.filter((d) => !codec.decoders.includes(d));
  if (missing.length) throw new UserError(`the model has no ${missing.map((d) => DECODERS[d].title).join(', ')} decoder: draw a perception-stage GOP model (it has all three)`);
  const batch = o.batch ?? 64;
  const first = o.first ?? 0;
  for (let s = 0; s < o.samples; s += batch) {
    const n = Math.min(batch, o.samples - s);
    const b = source.batch(o.split ?? 'test', first + s, n, T);
    const out = tf.tidy(() => {
      const xs = codec.rates.map((_, t) => tf.tensor4d(frameOf(b, t), [n, source.size, source.size, 1]));
      const { messages } = codec.encode(xs, { seed: o.ditherSeed ?? 1, firstGop: first + s });
      const decoded: Record<Columns, tf.Tensor4D[]> = { truth: xs, ...Object.fromEntries(FIGURE_DECODERS.map((d) => [d, codec.decode(d, messages)])) } as Record<Columns, tf.Tensor4D[]>;
      const each = <V>(f: (x: tf.Tensor4D) => V) => Object.fromEntries(Object.entries(decoded).map(([k, ys]) => [k, ys.map(f)])) as Record<Columns, V[]>;
      return { frames: each((y) => y.dataSync() as Float32Array), reads: o.classify ? each(o.classify) : undefined };
    });
    yield { start: first + s, n, labels: b.labels, ...out };
  }
}

export interface ReconRow {
  /** The sequence's index in the split. */
  index: number;
  label: number;
  /** 8-bit tiles per column group, frame by frame. */
  tiles: Record<Columns, Uint8Array[]>;
  /** Per decoder and frame: the per-pixel MSE against the ground truth, on [0, 1] pixels. */
  mse: Record<DecoderName, number[]>;
  /** Per column group and frame: the classifier's read (when the figure has a classifier). */
  reads?: Record<Columns, number[]>;
}

/** The per-pixel MSE of decoder d's frame t (0-based) of sequence k of a batch. */
export function frameMse(b: DecodedBatch, d: DecoderName, t: number, k: number): number {
  const per = b.frames.truth[0]!.length / b.n;
  const [y, x] = [b.frames[d][t]!, b.frames.truth[t]!];
  let s = 0;
  for (let p = k * per; p < (k + 1) * per; p++) s += (y[p]! - x[p]!) ** 2;
  return s / per;
}

/** Sequence k of a batch as a figure row. */
export function rowOf(b: DecodedBatch, k: number): ReconRow {
  const per = b.frames.truth[0]!.length / b.n;
  const frame = (a: Float32Array) => a.subarray(k * per, (k + 1) * per);
  const mse = (d: DecoderName) => b.frames[d].map((_, t) => frameMse(b, d, t, k));
  const map = <V>(f: (c: Columns) => V) => Object.fromEntries((['truth', ...FIGURE_DECODERS] as Columns[]).map((c) => [c, f(c)])) as Record<Columns, V>;
  return {
    index: b.start + k, label: b.labels[k]!,
    tiles: map((c) => b.frames[c].map((y) => toTile(frame(y)))),
    mse: Object.fromEntries(FIGURE_DECODERS.map((d) => [d, mse(d)])) as Record<DecoderName, number[]>,
    ...(b.reads ? { reads: map((c) => b.reads![c].map((r) => r[k]!)) } : {}),
  };
}

/**
 * Figure 2's rows: the sequences (indices into the arrays, first `count` in order) whose
 * ground-truth frame 1 the classifier reads as its label (so the classifier can read this digit)
 * and whose perception I-frame reconstruction it reads as another digit.
 */
export function wrongIFrameRows(labels: ArrayLike<number>, truth1: ArrayLike<number>, perception1: ArrayLike<number>, count: number): number[] {
  const rows: number[] = [];
  for (let i = 0; i < labels.length && rows.length < count; i++) if (truth1[i] === labels[i] && perception1[i] !== labels[i]) rows.push(i);
  return rows;
}

/** `count` distinct indices of 0..samples-1 drawn with the seed (a partial Fisher-Yates shuffle), in increasing order. */
export function randomRows(samples: number, count: number, seed: number): number[] {
  const rng = new Rng(RANDOM_TAG, seed >>> 0);
  const pool = Array.from({ length: samples }, (_, i) => i);
  const k = Math.min(count, samples);
  for (let i = 0; i < k; i++) {
    const j = rng.int(i, samples - 1);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k).sort((a, b) => a - b);
}

/** The `count` largest scores' indices, largest first (ties: the earlier index). */
export function largestRows(scores: ArrayLike<number>, count: number): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, count);
}

export interface GridText {
  title: string;
  rates: RateName[];
  /** Row labels (default `#index`). */
  rowLabel?: (r: ReconRow) => string;
  scale?: number;
}

/** Rows as one labelled image: ground truth X1..XT, then each decoder's reconstructions (the paper's layout). */
export function reconGrid(rows: ReconRow[], size: number, o: GridText): GrayImage {
  const T = o.rates.length;
  const frames = Array.from({ length: T }, (_, t) => t + 1);
  const columns = [...frames.map((t) => `X${t}`), ...FIGURE_DECODERS.flatMap((d) => frames.map((t) => `${SHORT[d]} ${t}`))];
  return labelledGrid(rows.map((r) => [...r.tiles.truth, ...FIGURE_DECODERS.flatMap((d) => r.tiles[d])]), size, {
    columns, rows: rows.map(o.rowLabel ?? ((r) => `#${r.index}`)), title: o.title, scale: o.scale ?? 2,
  });
}

/** A row for the JSON beside the picture: what it shows, without the pixels. */
export const rowJson = ({ index, label, mse, reads }: ReconRow) => ({ index, label, mse, ...(reads ? { reads } : {}) });

/** The figure title's rates: `R = 12, 12, 12 bits`. */
export const ratesTitle = (rates: RateName[]) => `R = ${rates.map((r) => (r === 'inf' ? '∞' : r)).join(', ')} bits`;
