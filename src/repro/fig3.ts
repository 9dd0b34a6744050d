/**
 * The paper's Figure 3: the distortion of every frame of a group of 3 pictures under the 0-PLF-FMD
 * and 0-PLF-JD decoders, R1 = 12 bits and several (R2, R3), and the claim read off it ("the
 * achievable distortion decreases much faster for 0-PLF-FMD than 0-PLF-JD for all selection of
 * rates"), measured per pair. Its cells are the presets `pframe-12-<R2>-<R3>-perception`, trained
 * and evaluated through the Table 1 grid machinery (a cell here is a Table 1 cell with an R3).
 */
import type { RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import { movingMnistSource } from '../data/source.ts';
import { evaluate } from '../eval/evaluate.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import type { LoadedModel } from '../models/model-file.ts';
import { presets } from '../train/presets.ts';
import { EVAL_DATA_SEED, evalLines, seedStat, type SeedStat } from './cell-eval.ts';
import type { SignalRef } from 'vega';
import type { ExprRef } from 'vega-lite/build/src/expr.js';
import type { Legend } from 'vega-lite/build/src/legend.js';
import type { ChartSpec } from './chart.ts';
import type { Table1Cell, TableRate } from './table1.ts';

/**
 * (R2, R3) of the figure. The paper's text does not list them and the authors' code has no R1 = 12
 * GOP-3 plot: their later GOP-3 script (jadick/video-perception, train-R1-eps-eps.py) codes both
 * P-frames at one rate (`12-{eps}-{eps}`) and its runs are not published. So: Table 1's P-frame
 * rates, each for both P-frames, and the caption's R2 = R3 = inf.
 */
export const FIG3_PAIRS: readonly [RateName, RateName][] = [['4', '4'], ['8', '8'], ['12', '12'], ['inf', 'inf']];
export const FIG3_PAIRS_FROM = "Table 1's P-frame rates with R2 = R3 (the paper's text lists no pairs; the authors' R1 = 12 GOP-3 script codes both P-frames at one rate) and the caption's R2 = R3 = inf";

export interface FigureCell extends Table1Cell {
  R3: TableRate;
}

const tableRate = (r: RateName): TableRate => (r === 'inf' ? 'inf' : Number(r));

/** The GOP cell at these rates (`pframe-12-4-4`, `tiny-pframe-...` with tiny), or undefined when its preset does not exist. */
export function gopCell(rates: [RateName, RateName, RateName], tiny: boolean): FigureCell | undefined {
  const name = `${tiny ? 'tiny-' : ''}pframe-${rates.join('-')}`;
  const preset = `${name}-perception`;
  return presets[preset] ? { part: 'b', R1: tableRate(rates[0]), R2: tableRate(rates[1]), R3: tableRate(rates[2]), name, preset } : undefined;
}

/**
 * Figure 3's cells whose presets exist: all four, or with `tiny` the tiny ones (12-12 and inf-inf);
 * with `pairs` ('R2-R3' names) only those, so that a partial figure can be drawn while cells train.
 */
export function fig3Cells(tiny: boolean, pairs?: string[]): FigureCell[] {
  const cells = FIG3_PAIRS.flatMap(([r2, r3]) => gopCell(['12', r2, r3], tiny) ?? []);
  if (pairs === undefined) return cells;
  const pair = (c: FigureCell) => `${c.R2}-${c.R3}`;
  const unknown = pairs.filter((n) => !cells.some((c) => pair(c) === n));
  if (unknown.length) throw new UserError(`--pairs: no pair ${unknown.join(', ')} in Figure 3${tiny ? ' (tiny)' : ''}; pairs: ${cells.map(pair).join(', ')}`);
  return cells.filter((c) => pairs.includes(pair(c)));
}

/** One model scored on every frame of its group of pictures (what a fig3 evaluation job stores). */
export interface FramesEval {
  job: string;
  cell: string;
  model: { from: string; id: string; sha256: string };
  source: string;
  split: 'test';
  samples: number;
  dither_seeds: number[];
  frames: { frame: number; rate: RateName; mse: Partial<Record<DecoderName, SeedStat>> }[];
  eval_seconds: number;
}

export interface FramesEvalSettings {
  samples: number;
  ditherSeeds: number;
  batch: number;
}

/** Every decoder's per-pixel MSE of every frame on the MovingMNIST test split (as Table 1 scores frame 2), per dither seed and over them (progress lines to `say`). */
export async function evaluateFrames(lm: LoadedModel, job: string, cell: string, from: string, s: FramesEvalSettings, say?: (line: string) => void): Promise<FramesEval> {
  const t0 = performance.now();
  const seeds = Array.from({ length: s.ditherSeeds }, (_, i) => i + 1);
  const r = await evaluate(lm.model, movingMnistSource({ seed: EVAL_DATA_SEED }), { samples: s.samples, split: 'test', ditherSeeds: seeds, batch: s.batch, ...(say ? evalLines(seeds.length, say) : {}) });
  return {
    job, cell, model: { from, id: lm.id, sha256: lm.sha256 }, source: r.source, split: 'test', samples: s.samples, dither_seeds: seeds,
    frames: r.frames.map((f) => ({ frame: f.frame, rate: f.rate, mse: Object.fromEntries(Object.entries(f.decoders).map(([d, v]) => [d, seedStat(v!.mse.values)])) })),
    eval_seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
  };
}

/** Whether a stored evaluation was made with these settings on these weights (else it is redone). */
export const framesMatch = (r: FramesEval, s: FramesEvalSettings, sha256: string) => r.model.sha256 === sha256 && r.samples === s.samples && r.dither_seeds.length === s.ditherSeeds;

export interface MeanStdSeeds {
  mean: number;
  std: number;
  per_seed: number[];
}

export interface Fig3Pair {
  cell: string;
  R1: TableRate;
  R2: TableRate;
  R3: TableRate;
  preset: string;
  model: { from: string; sha256: string };
  /** Per frame: each decoder's per-pixel MSE on [0, 1] pixels (x1), mean and sample std over dither seeds. */
  frames: { frame: number; rate: RateName; mmse: MeanStdSeeds; fmd: MeanStdSeeds; jd: MeanStdSeeds }[];
  /** How far each perception decoder's mean distortion falls from frame 1 to frame 2 and to frame 3 (D1 - D2, D1 - D3). */
  fall: { fmd: number[]; jd: number[] };
  /** The claim for this pair: FMD's fall is the larger one to frame 2 and to frame 3. */
  fmd_falls_faster: boolean;
}

export interface Fig3 {
  figure: 'fig3';
  what: string;
  claim: string;
  pairs_from: string;
  source: string;
  split: 'test';
  samples: number;
  dither_seeds: number[];
  mode: 'train' | 'pretrained';
  tiny: boolean;
  pairs: Fig3Pair[];
  /** The claim over every pair drawn; null when no pair was evaluated. */
  holds_for_every_pair: boolean | null;
  /** Cells without an evaluation (a job failed). */
  missing: string[];
  /** Figure 3's cells left out by --pairs (a partial figure). */
  not_drawn: string[];
}

export const FIG3_CLAIM = "0-PLF-FMD's distortion falls faster over frames 2-3 than 0-PLF-JD's: D1 - Dt is larger for FMD than for JD at t = 2 and t = 3 " +
  '(frame 1 is the I-frame, where the two decoders are one: for one frame the joint law is the marginal)';

const stat = (s: SeedStat | undefined, what: string): MeanStdSeeds => {
  if (!s) throw new Error(`${what}: missing (a perception-stage GOP model has every decoder at every frame)`);
  return { mean: s.mean, std: s.std, per_seed: s.per_seed };
};

/** One pair's row of the figure from its evaluation, with the claim measured on the means. */
export function fig3Pair(cell: FigureCell, e: FramesEval): Fig3Pair {
  const frames = e.frames.map((f) => ({ frame: f.frame, rate: f.rate, mmse: stat(f.mse.mmse, `${e.model.from} mmse f${f.frame}`), fmd: stat(f.mse.fmd, `${e.model.from} fmd f${f.frame}`), jd: stat(f.mse.jd, `${e.model.from} jd f${f.frame}`) }));
  const fall = (d: 'fmd' | 'jd') => frames.slice(1).map((f) => frames[0]![d].mean - f[d].mean);
  const [fmd, jd] = [fall('fmd'), fall('jd')];
  return {
    cell: cell.name, R1: cell.R1, R2: cell.R2, R3: cell.R3, preset: cell.preset, model: { from: e.model.from, sha256: e.model.sha256 },
    frames, fall: { fmd, jd }, fmd_falls_faster: fmd.length > 0 && fmd.every((v, k) => v > jd[k]!),
  };
}

export const pairName = (p: { R2: TableRate; R3: TableRate }) => `(${show(p.R2)}, ${show(p.R3)})`;
const show = (r: TableRate) => (r === 'inf' ? '∞' : String(r));
const PLOTTED: ('fmd' | 'jd')[] = ['fmd', 'jd'];

/**
 * A black stroke as the decoder legend's symbol, so that it shows each decoder's dash (by default a
 * filled circle, which hides it). Vega-Lite ignores `symbolStrokeColor` on a strokeDash legend but
 * passes a legend's `encode` block on to Vega; its Legend type omits that block, hence the cast.
 */
const DASH_LEGEND = { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 400, encode: { symbols: { update: { stroke: { value: 'black' } } } } } as Legend<ExprRef | SignalRef>;

/** The figure as a Vega-Lite line chart: x the frame, y the distortion, one colour per (R2, R3), one dash per decoder. */
export function fig3Spec(t: Fig3): ChartSpec {
  const values = t.pairs.flatMap((p) => PLOTTED.flatMap((d) => p.frames.map((f) => ({ pair: pairName(p), decoder: DECODERS[d].title, frame: f.frame, mse: f[d].mean, std: f[d].std }))));
  return {
    title: { text: 'Distortion per frame, R1 = 12 bits', subtitle: `${t.samples} test sequences, ${t.dither_seeds.length} dither seed(s)${t.tiny ? ' (tiny models: a smoke test)' : ''}` },
    width: 360, height: 240,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'frame', type: 'ordinal', title: 'frame', axis: { labelAngle: 0 } },
      y: { field: 'mse', type: 'quantitative', title: 'per-pixel MSE' },
      color: { field: 'pair', type: 'nominal', title: '(R2, R3)', sort: t.pairs.map(pairName) },
      strokeDash: { field: 'decoder', type: 'nominal', title: 'decoder', legend: DASH_LEGEND },
      tooltip: [{ field: 'pair' }, { field: 'decoder' }, { field: 'frame' }, { field: 'mse', format: '.5f' }, { field: 'std', format: '.5f' }],
    },
  };
}

const pct = (v: number) => (v * 100).toFixed(2);

/** The figure's numbers for people: x1e-2, per pair and frame, and the claim per pair. */
export function fig3Markdown(t: Fig3): string {
  const lines = [
    `# Figure 3: distortion per frame, R1 = 12 bits${t.tiny ? ' (tiny models: a smoke test, not the paper\'s)' : ''}`, '',
    `Per-pixel MSE on [0, 1] pixels, x1e-2: mean ± standard deviation over ${t.dither_seeds.length} dither seed(s), each the mean over ${t.samples} sequences of the ${t.source} ${t.split} split. ` +
      `Pairs: ${t.pairs_from}.`, '',
    '| (R2, R3) | frame | rate | 0-PLF-FMD | 0-PLF-JD | MMSE |', '| --- | --- | --- | --- | --- | --- |',
  ];
  const ms = (s: MeanStdSeeds) => `${pct(s.mean)} ± ${pct(s.std)}`;
  for (const p of t.pairs) for (const f of p.frames) lines.push(`| ${pairName(p)} | ${f.frame} | ${f.rate} | ${ms(f.fmd)} | ${ms(f.jd)} | ${ms(f.mmse)} |`);
  lines.push('', `## The claim, measured`, '', `${t.claim}.`, '', '| (R2, R3) | FMD: D1 - D2, D1 - D3 | JD: D1 - D2, D1 - D3 | FMD falls faster |', '| --- | --- | --- | --- |');
  for (const p of t.pairs) lines.push(`| ${pairName(p)} | ${p.fall.fmd.map(pct).join(', ')} | ${p.fall.jd.map(pct).join(', ')} | ${p.fmd_falls_faster ? 'yes' : 'no'} |`);
  lines.push('', `For every pair${t.not_drawn.length ? ' drawn' : ''}: ${t.holds_for_every_pair === null ? 'nothing evaluated' : t.holds_for_every_pair ? 'yes' : 'no'}.`);
  if (t.not_drawn.length) lines.push('', `A partial figure (--pairs): not drawn: ${t.not_drawn.join(', ')}.`);
  lines.push('', '## Models', '', '| (R2, R3) | preset | model | sha256 |', '| --- | --- | --- | --- |');
  for (const p of t.pairs) lines.push(`| ${pairName(p)} | ${p.preset} | ${p.model.from} | ${p.model.sha256.slice(0, 16)} |`);
  if (t.missing.length) lines.push('', `Not evaluated (a job failed or did not run): ${t.missing.join(', ')}.`);
  return lines.join('\n') + '\n';
}
