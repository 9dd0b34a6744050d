/**
 * Scoring a model on a source's test split, apart from any training state: every decoder's
 * per-pixel MSE for every frame of the group of pictures, under several dither seeds (each seed
 * is a different file dither: mean, min and max over them), the model's own critic's W1
 * estimate where it has one, and optionally the judge's (src/eval/judge.ts). Frames reach the
 * decoders through the model's VideoCodec, so the scores are what decoding .rdpv files gives.
 */
import { formatSeconds } from '../duration.ts';
import { tf } from '../engine/index.ts';
import type { RateName } from '../codec/rates.ts';
import type { Split } from '../data/types.ts';
import { frameOf, type FrameSource } from '../data/source.ts';
import { critic } from '../models/critic.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import { marginalCritic, type Model } from '../models/model-file.ts';
import { videoCodec } from '../video/codec.ts';
import { judgeW1s, type JudgeConfig } from './judge.ts';

export interface EvalOptions {
  /** Sequences scored: `samples` of `split` (default test) from index `first` (default 0). */
  samples: number;
  split?: Split;
  first?: number;
  ditherSeeds: number[];
  batch?: number;
  /**
   * Train a fresh judge critic per decoder, frame and dither seed (on sequences of the split from
   * first + 2^20 on): a marginal one on the frame, and from frame 2 on also a joint one on frames
   * 1..t (the 0-PLF-JD decoder's criterion).
   */
  judge?: Omit<JudgeConfig, 'size' | 'frames'> & { jointWidths?: number[] };
  /** The frames (1-based) the judges score (default: every frame): a Table 1 cell needs frame 2 only. */
  judgeFrames?: number[];
  /** Called after each dither seed (progress). */
  onSeed?: (seed: number) => void;
  /** Within a seed: sequences scored, then (with judges) judge training steps done, of their total. */
  onProgress?: (p: EvalProgress) => void;
}

export interface Stat {
  mean: number;
  min: number;
  max: number;
  /** One value per dither seed, in order. */
  values: number[];
}

export interface DecoderScores {
  mse: Stat;
  /** The model's own marginal critic: mean score of real frames minus that of decoded ones. */
  critic_w1?: Stat;
  /** The marginal judge's W1 on this frame. */
  judge_w1?: Stat;
  /** From frame 2 on: the joint judge's W1 on frames 1..t. */
  judge_joint_w1?: Stat;
}

export interface EvalResult {
  source: string;
  split: Split;
  first: number;
  samples: number;
  dither_seeds: number[];
  /** Per frame of the GOP. */
  frames: { frame: number; rate: RateName; decoders: Partial<Record<DecoderName, DecoderScores>> }[];
}

export interface EvalProgress {
  seed: number;
  phase: 'scoring' | 'judges';
  done: number;
  total: number;
}

/** An evaluation's progress callbacks. */
export type EvalReport = Pick<EvalOptions, 'onProgress' | 'onSeed'>;

/**
 * Progress lines for an evaluation: each seed's scoring, then its judges' training (the long
 * part), with an ETA from the phase's own pace. A seed's closing line goes to `say` with `last`
 * set; the others at most one every `everyMs` (a log wants a line now and then, not every step).
 */
export function evalProgress(seeds: number, say: (line: string, last: boolean) => void, everyMs = 0): Required<EvalReport> {
  let [phase, start, last, said] = ['', performance.now(), performance.now(), -Infinity];
  return {
    onProgress(p) {
      const now = performance.now();
      if (`${p.seed} ${p.phase}` !== phase) [phase, start] = [`${p.seed} ${p.phase}`, last];
      last = now;
      if (now - said < everyMs) return;
      said = now;
      const eta = p.done < p.total ? `, ETA ${formatSeconds(((now - start) / 1000 / p.done) * (p.total - p.done))}` : '';
      say(`dither seed ${p.seed}/${seeds}: ${p.phase === 'scoring' ? `scored ${p.done}/${p.total} sequences` : `judges trained ${p.done}/${p.total} steps`}${eta}`, false);
    },
    onSeed(seed) {
      say(`dither seed ${seed}/${seeds} done`, true);
      last = said = performance.now();
    },
  };
}

const JUDGE_TRAIN_FROM = 1 << 20;

function stat(values: number[]): Stat {
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, min: Math.min(...values), max: Math.max(...values), values };
}

/** Asynchronous: scores are read back with `await data()` (a GPU backend in Node reads no other way). */
export async function evaluate(model: Model, source: FrameSource, o: EvalOptions): Promise<EvalResult> {
  const codec = videoCodec(model);
  const T = codec.rates.length;
  const batch = o.batch ?? 64;
  const crits = codec.rates.map((_, t) => marginalCritic(model, t));
  const split = o.split ?? 'test';
  const first = o.first ?? 0;
  const frames = (start: number, n: number) => {
    const b = source.batch(split, first + start, n, T);
    return codec.rates.map((_, t) => tf.tensor4d(frameOf(b, t), [n, source.size, source.size, 1]));
  };
  // per seed -> per frame -> per decoder -> metric -> value
  const perSeed: Map<string, number>[][] = [];
  for (const seed of o.ditherSeeds) {
    const sums = codec.rates.map(() => new Map<string, number>());
    const add = (t: number, k: string, v: number) => sums[t]!.set(k, (sums[t]!.get(k) ?? 0) + v);
    for (let start = 0; start < o.samples; start += batch) {
      const n = Math.min(batch, o.samples - start);
      // A batch's means by [frame, key], read back together.
      const means = tf.tidy(() => {
        const out: [number, string, tf.Scalar][] = [];
        const xs = frames(start, n);
        const { messages } = codec.encode(xs, { seed, firstGop: first + start });
        const real = xs.map((x, t) => (crits[t] ? tf.mean(critic(crits[t]!, x)) : undefined));
        for (const name of codec.decoders) {
          codec.decode(name, messages).forEach((y, t) => {
            out.push([t, `${name}.mse`, tf.mean(tf.squaredDifference(y, xs[t]!))]);
            if (crits[t]) out.push([t, `${name}.critic_w1`, tf.sub(real[t]!, tf.mean(critic(crits[t]!, y)))]);
          });
        }
        return out;
      });
      const values = await Promise.all(means.map(([, , v]) => v.data()));
      means.forEach(([t, k, v], i) => (add(t, k, values[i]![0]! * n), v.dispose()));
      o.onProgress?.({ seed, phase: 'scoring', done: start + n, total: o.samples });
    }
    const scores = sums.map((m) => new Map([...m].map(([k, v]) => [k, v / o.samples])));
    if (o.judge) {
      // Every judge of this seed, trained side by side on one encoding and one decoding per decoder
      // of each batch: a marginal judge per decoder and frame and, from frame 2 on, a joint one on
      // frames 1..t (frames lo..t stacked as channels).
      const judges = codec.decoders.flatMap((name) => codec.rates.flatMap((_, t) => (o.judgeFrames && !o.judgeFrames.includes(t + 1) ? [] :
        ([['judge_w1', t], ...(t > 0 ? [['judge_joint_w1', 0]] : [])] as [string, number][]).map(([metric, lo]) => ({ name, t, lo, metric })))));
      const pick = (ys: tf.Tensor4D[], lo: number, t: number) => (lo === t ? ys[t]! : (tf.concat(ys.slice(lo, t + 1), 3) as tf.Tensor4D));
      const decoders = [...new Set(judges.map((j) => j.name))];
      const { jointWidths, ...judge } = o.judge;
      const w1s = await judgeW1s(judges.map((j) => ({ ...judge, size: source.size, frames: j.t - j.lo + 1, widths: j.t > j.lo ? (jointWidths ?? judge.widths) : judge.widths })), {
        draw: (start, n) => {
          const xs = frames(start, n);
          const { messages } = codec.encode(xs, { seed, firstGop: first + start });
          return { xs, ys: new Map(decoders.map((name) => [name, codec.decode(name, messages)])) };
        },
        real: ({ xs }, k) => pick(xs, judges[k]!.lo, judges[k]!.t),
        fake: ({ ys }, k) => pick(ys.get(judges[k]!.name)!, judges[k]!.lo, judges[k]!.t),
        trainFrom: JUDGE_TRAIN_FROM,
        heldOut: o.samples,
      }, (done, total) => o.onProgress?.({ seed, phase: 'judges', done, total }));
      judges.forEach((j, k) => scores[j.t]!.set(`${j.name}.${j.metric}`, w1s[k]!));
    }
    o.onSeed?.(seed);
    perSeed.push(scores);
  }
  return {
    source: source.name, split, first, samples: o.samples, dither_seeds: o.ditherSeeds,
    frames: codec.rates.map((rate, t) => ({
      frame: t + 1, rate,
      decoders: Object.fromEntries(codec.decoders.map((name) => {
        const series = (metric: string) => (perSeed[0]![t]!.has(`${name}.${metric}`) ? stat(perSeed.map((s) => s[t]!.get(`${name}.${metric}`)!)) : undefined);
        const [criticW1, judge, joint] = [series('critic_w1'), series('judge_w1'), series('judge_joint_w1')];
        const scores: DecoderScores = { mse: series('mse')!, ...(criticW1 ? { critic_w1: criticW1 } : {}), ...(judge ? { judge_w1: judge } : {}), ...(joint ? { judge_joint_w1: joint } : {}) };
        return [name, scores];
      })),
    })),
  };
}

/**
 * Flat metric names for logs and manifests: `<decoder>_<metric>` (means over seeds), with
 * `_f<frame>` appended for groups of more than one picture.
 */
export function flatMetrics(r: EvalResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of r.frames) {
    for (const [name, scores] of Object.entries(f.decoders)) {
      for (const [metric, s] of Object.entries(scores)) out[`${name}_${metric}${r.frames.length > 1 ? `_f${f.frame}` : ''}`] = (s as Stat).mean;
    }
  }
  return out;
}

/**
 * The CompressAI results-file shape: name, description, and one array per metric (here over
 * the frames of the GOP), with min and max over dither seeds beside each mean.
 */
export function compressAiJson(r: EvalResult, name: string, sha256: string): { name: string; description: string; results: Record<string, (number | string | null)[]> } {
  const results: Record<string, (number | string | null)[]> = { frame: r.frames.map((f) => f.frame), rate_bits: r.frames.map((f) => f.rate) };
  // One entry per frame in every array: null where a frame has no such score (a critic or a judge on some frames only).
  const pairs = new Map<string, [DecoderName, keyof DecoderScores]>();
  for (const f of r.frames) for (const [d, scores] of Object.entries(f.decoders)) for (const m of Object.keys(scores)) pairs.set(`${d}_${m}`, [d as DecoderName, m as keyof DecoderScores]);
  for (const [key, [d, m]] of pairs) {
    for (const k of ['mean', 'min', 'max'] as const) results[`${key}${k === 'mean' ? '' : `_${k}`}`] = r.frames.map((f) => f.decoders[d]?.[m]?.[k] ?? null);
  }
  const decoders = Object.keys(r.frames[0]!.decoders).map((n) => DECODERS[n as DecoderName].title).join(', ');
  return {
    name,
    description: `${name} (sha256 ${sha256.slice(0, 12)}) on ${r.source}, ${r.split} split, ${r.samples} sequences from ${r.first}, dither seeds ${r.dither_seeds.join(',')}; decoders ${decoders}; per-pixel MSE on [0, 1] pixels`,
    results,
  };
}
