/**
 * Error permanence, measured: a digit classifier (src/eval/classifier.ts) reads every frame each
 * decoder reconstructs from a group of pictures, and counts, per decoder and frame, how often the
 * digit is wrong, and how often a wrong frame 1 is still wrong later. The paper's claim (shown
 * there in pictures): the 0-PLF-JD decoder keeps a wrong first frame's digit, since its output
 * must be jointly realistic with its own past; the 0-PLF-FMD decoder corrects it once the
 * P-frames bring the information.
 *
 * Frames reach the decoders through the model's VideoCodec, so these are the frames decoding
 * .rdpv files gives. The truth of sequence i is its label (MovingMNIST: the digit of a one-digit
 * sequence); the classifier's error on the ground-truth frames is reported beside, as the floor.
 */
import { tf } from '../engine/index.ts';
import type { RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import { frameOf, type FrameSource } from '../data/source.ts';
import type { Split } from '../data/types.ts';
import type { DecoderName } from '../models/decoders.ts';
import type { Model } from '../models/model-file.ts';
import { videoCodec } from '../video/codec.ts';
import type { FrameClassifier } from './classifier.ts';

/** Frame t >= 2, given how frame 1 went. Rates are null where their condition never happened. */
export interface LaterFrame {
  frame: number;
  /** P(frame t wrong | frame 1 wrong). */
  still_wrong: number | null;
  /** P(frame t shows frame 1's wrong digit | frame 1 wrong): the error kept, not just another one. */
  same_wrong: number | null;
  /** P(frame t wrong | frame 1 right): errors that appear later. */
  newly_wrong: number | null;
}

export interface ErrorCounts {
  /** Scored groups of pictures (sequences times dither seeds). */
  count: number;
  /** Per frame: the share classified wrong. */
  wrong: number[];
  /** Groups whose frame 1 is wrong. */
  wrong_first: number;
  later: LaterFrame[];
  /** P(every later frame wrong | frame 1 wrong). */
  wrong_throughout: number | null;
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/**
 * The counting on its own: `labels[i]` the truth of group i, `predicted[t][i]` the class read
 * off its frame t (0-based).
 */
export function countErrors(labels: Int32Array, predicted: Int32Array[]): ErrorCounts {
  const n = labels.length;
  const T = predicted.length;
  if (T < 1 || predicted.some((p) => p.length !== n)) throw new RangeError(`countErrors: ${T} frames of predictions for ${n} labels`);
  const wrong = predicted.map((p) => p.reduce((s, c, i) => s + (c !== labels[i]! ? 1 : 0), 0) / Math.max(n, 1));
  const first = predicted[0]!;
  const isWrong1 = (i: number) => first[i] !== labels[i];
  let wrongFirst = 0, throughout = 0;
  const still = new Array<number>(T).fill(0), same = new Array<number>(T).fill(0), fresh = new Array<number>(T).fill(0);
  for (let i = 0; i < n; i++) {
    const w1 = isWrong1(i);
    if (w1) wrongFirst++;
    let all = w1;
    for (let t = 1; t < T; t++) {
      const c = predicted[t]![i]!;
      const wt = c !== labels[i];
      if (!wt) all = false;
      if (w1 && wt) still[t]!++;
      if (w1 && c === first[i]) same[t]!++;
      if (!w1 && wt) fresh[t]!++;
    }
    if (all && T > 1) throughout++;
  }
  return {
    count: n,
    wrong,
    wrong_first: wrongFirst,
    later: Array.from({ length: T - 1 }, (_, k) => ({
      frame: k + 2,
      still_wrong: ratio(still[k + 1]!, wrongFirst),
      same_wrong: ratio(same[k + 1]!, wrongFirst),
      newly_wrong: ratio(fresh[k + 1]!, n - wrongFirst),
    })),
    wrong_throughout: T > 1 ? ratio(throughout, wrongFirst) : null,
  };
}

export interface PermanenceOptions {
  /** Sequences scored: `samples` of `split` (default test) from index `first` (default 0). */
  samples: number;
  split?: Split;
  first?: number;
  /** File dither seeds (default [1]); every seed is another encoding, and the counts pool over them. */
  ditherSeeds?: number[];
  batch?: number;
}

export interface PermanenceResult {
  source: string;
  split: Split;
  first: number;
  samples: number;
  dither_seeds: number[];
  rates: RateName[];
  /** The classifier on the ground-truth frames of the same sequences (its own floor), per frame. */
  truth: ErrorCounts;
  decoders: Partial<Record<DecoderName, ErrorCounts>>;
}

/** Decode `samples` test sequences with every decoder of the model and count the classifier's errors. */
export function errorPermanence(model: Model, source: FrameSource, classify: FrameClassifier, o: PermanenceOptions): PermanenceResult {
  const codec = videoCodec(model);
  const T = codec.rates.length;
  const split = o.split ?? 'test';
  const first = o.first ?? 0;
  const seeds = o.ditherSeeds ?? [1];
  const batch = o.batch ?? 64;
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new UserError(`permanence: samples must be a positive integer, got ${o.samples}`);
  if (seeds.length < 1) throw new UserError('permanence: at least one dither seed');
  const total = o.samples * seeds.length;
  const labels = new Int32Array(total);
  const truth = codec.rates.map(() => new Int32Array(total));
  const read = Object.fromEntries(codec.decoders.map((d) => [d, codec.rates.map(() => new Int32Array(total))])) as Partial<Record<DecoderName, Int32Array[]>>;
  seeds.forEach((seed, k) => {
    for (let s = 0; s < o.samples; s += batch) {
      const n = Math.min(batch, o.samples - s);
      const at = k * o.samples + s;
      const b = source.batch(split, first + s, n, T);
      labels.set(b.labels, at);
      tf.tidy(() => {
        const xs = codec.rates.map((_, t) => tf.tensor4d(frameOf(b, t), [n, source.size, source.size, 1]));
        xs.forEach((x, t) => truth[t]!.set(classify(x), at));
        const { messages } = codec.encode(xs, { seed, firstGop: first + s });
        for (const d of codec.decoders) codec.decode(d, messages).forEach((y, t) => read[d]![t]!.set(classify(y), at));
      });
    }
  });
  return {
    source: source.name, split, first, samples: o.samples, dither_seeds: seeds, rates: codec.rates,
    truth: countErrors(labels, truth),
    decoders: Object.fromEntries(codec.decoders.map((d) => [d, countErrors(labels, read[d]!)])),
  };
}

const pct = (v: number | null) => (v === null ? '-' : `${(100 * v).toFixed(1)}%`);

/** A Markdown table: per decoder, the share wrong per frame, then per later frame the shares of wrong frames 1 still wrong and kept. */
export function permanenceMarkdown(r: PermanenceResult): string {
  const T = r.rates.length;
  const head = ['decoder', ...r.rates.map((rate, t) => `wrong f${t + 1} (${rate})`), ...Array.from({ length: T - 1 }, (_, k) => [`f1 wrong: f${k + 2} wrong`, `f1 wrong: f${k + 2} same digit`]).flat(), 'f1 wrong'];
  const row = (name: string, c: ErrorCounts) => [name, ...c.wrong.map(pct), ...c.later.flatMap((l) => [pct(l.still_wrong), pct(l.same_wrong)]), `${c.wrong_first}/${c.count}`];
  const rows = [row('ground truth', r.truth), ...Object.entries(r.decoders).map(([d, c]) => row(d, c!))];
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n') + '\n';
}
