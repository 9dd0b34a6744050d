/**
 * `rdpv repro tradeoff`: the distortion-perception tradeoff of one universal representation. One
 * stage-1 model (encoder and MMSE decoder) is shared by a sweep of stage-2 runs, one per
 * perception weight lambda, each training only the perception decoders with the encoder frozen
 * (the paper's point: one representation serves every tradeoff). Each run's perception decoders
 * are scored on the test split (MSE and a fresh judge's W1, as Table 1 scores its cells) and drawn
 * as MSE against W1, with the MMSE decoder's point and the 0-PLF optimum of Theorem 3.2 on the
 * shared encoder (D_MMSE + W2^2 at W1 = 0) marked. The lambdas are given up front and every run
 * trains for the same steps (the preset's, or --steps): nothing is chosen by a test score.
 *
 * The work is a grid of jobs (src/repro/grid.ts) in the runs folder: the stage-1 chain (when the
 * stage-1 model is a preset), one training per lambda into `<runs>/<preset>-lambda-<x>` (resumed
 * from its checkpoint, skipped when finished with the same config), one evaluation per run, and
 * the bound; finished jobs are not redone.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Split } from '../data/types.ts';
import { initEngine } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import { disposeModel, type LoadedModel } from '../models/model-file.ts';
import { folderStore, readModelPath, writeFileAtomic } from '../models/weights-io.ts';
import { loadZooModel, zooManifest, type WeightStore } from '../models/zoo.ts';
import { presets, type TrainConfig } from '../train/presets.ts';
import { MODEL, runTraining } from '../train/run.ts';
import { cellOtBound, evaluateCell, matches, type CellEval, type CellEvalSettings, type CellOtBound, type SeedStat } from './cell-eval.ts';
import { renderChart, type ChartSpec } from './chart.ts';
import { runGrid, type Grid, type Job } from './grid.ts';
import { fileSha, jsonBytes, modelTrainConfig, readJson, RESULT, runsJobStore, trainingFinished, writeResults } from './runs.ts';
import { boundSummary, presetChain, type BoundSummary } from './table1.ts';

export interface TradeoffOptions {
  /** A perception preset: its settings (steps, critic, ...) for every run of the sweep. */
  preset: string;
  lambdas: number[];
  /** The stage-1 model the runs start from: a preset trained in `runs` (trained here when missing) or `zoo:NAME` (default: the preset's `from`). */
  from?: string;
  runs: string;
  results: string;
  /** Test sequences and dither seeds 1..K of each run's evaluation, judge steps per decoder and seed (> 0), N of the bound (0: no 0-PLF point). */
  samples: number;
  ditherSeeds: number;
  judgeSteps: number;
  otBound: number;
  /** Score training sequences from this index (held out, past what training reads) instead of the test split: for choosing lambda. No bound then. */
  heldOut?: number;
  threads?: number;
  batch?: number;
  /** Stage-2 steps of every run, in place of the preset's (a cheaper sweep; the runs are then `<preset>-lambda-<x>-steps-<n>`). */
  steps?: number;
  /** The shipped models (default: models/ of the package). */
  zoo?: WeightStore;
  say?: (line: string) => void;
}

/** A run of the sweep: `<preset>-lambda-<x>`, `-steps-<n>` with a step count of its own (its evaluation job: `eval-<run>`). */
export const lambdaRun = (preset: string, lambda: number, steps?: number) => `${preset}-lambda-${lambda}${steps === undefined ? '' : `-steps-${steps}`}`;
const evalId = (run: string, heldOut?: number) => (heldOut === undefined ? `eval-${run}` : `eval-heldout-${run}`);
/** The bound's job: one per stage-1 model (`ot-bound-<preset>` or `ot-bound-zoo-<name>`). */
const otId = (from: string) => `ot-bound-${from.replace(/^zoo:/, 'zoo-')}`;
const isZoo = (from: string) => from.startsWith('zoo:');

/**
 * A run's training config: the preset with this lambda (for every perception decoder) and the shared
 * stage-1 model. With steps of its own the run also skips its closing judge: the sweep's evaluation
 * trains fresh judges anyway, and on a P-frame the run's own costs about as much as its evaluation.
 */
export function tradeoffConfig(preset: string, lambda: number, from: string, steps?: number): TrainConfig {
  return { ...presets[preset]!, lambda, lambdaJoint: undefined, from, ...(steps === undefined ? {} : { steps, judgeSteps: 0 }) };
}

interface Plan {
  grid: Grid;
  from: string;
  /** The frame the preset trains (1 for an I-frame model). */
  frame: number;
  settings: CellEvalSettings;
  runs: { lambda: number; id: string; config: TrainConfig }[];
  /** N of the bound (0: none; always 0 on held-out sequences). */
  bound: number;
}

/** Checks the options (one-line UserErrors) and lays out the jobs: the stage-1 chain, the bound, then per lambda its training and evaluation. */
export function tradeoffPlan(o: TradeoffOptions): Plan {
  const base = presets[o.preset];
  if (!base) throw new UserError(`unknown preset '${o.preset}' (rdpv train --list --all shows the presets)`);
  if (base.stage !== 'perception' || base.from === undefined) throw new UserError(`--preset ${o.preset}: the sweep trains stage 2 only, so it needs a perception preset (e.g. ${o.preset.replace(/-mse$/, '-perception')})`);
  if (o.lambdas.length === 0) throw new UserError('--lambdas: at least one perception weight');
  const from = o.from ?? base.from;
  if (!isZoo(from) && !presets[from]) throw new UserError(`--from ${from}: neither zoo:NAME nor a preset`);
  const stage1Deps = isZoo(from) ? [] : [from];
  const jobs: Job[] = (isZoo(from) ? [] : presetChain(from)).map((p) => {
    const f = presets[p]!.from;
    return { id: p, kind: 'train' as const, deps: f !== undefined && !isZoo(f) ? [f] : [], cell: 'stage-1' };
  });
  const bound = o.heldOut === undefined ? o.otBound : 0;
  if (bound > 0) jobs.push({ id: otId(from), kind: 'eval', deps: stage1Deps, cell: 'stage-1' });
  const runs = o.lambdas.map((lambda) => ({ lambda, id: lambdaRun(o.preset, lambda, o.steps), config: tradeoffConfig(o.preset, lambda, from, o.steps) }));
  for (const r of runs) jobs.push({ id: r.id, kind: 'train', deps: stage1Deps, cell: r.id }, { id: evalId(r.id, o.heldOut), kind: 'eval', deps: [r.id], cell: r.id });
  const frame = base.frame ?? 1;
  const settings: CellEvalSettings = { samples: o.samples, ditherSeeds: o.ditherSeeds, judgeSteps: o.judgeSteps, batch: o.batch ?? 64, frame, ...(o.heldOut === undefined ? {} : { heldOut: o.heldOut }) };
  return { grid: { name: `tradeoff-${o.preset}`, cells: ['stage-1', ...runs.map((r) => r.id)], jobs }, from, frame, settings, runs, bound };
}

interface OtResult {
  job: string;
  model: { from: string; sha256: string };
  samples: number;
  frame: number;
  bound: CellOtBound;
}

export interface TradeoffDecoderPoint {
  mse: SeedStat;
  judge_w1: SeedStat;
}

export interface TradeoffPoint {
  lambda: number;
  run: string;
  model: { from: string; sha256: string };
  /** The run's perception decoders (0-PLF-FMD; for a P-frame also 0-PLF-JD) at the frame. */
  decoders: Partial<Record<DecoderName, TradeoffDecoderPoint>>;
}

export interface TradeoffTable {
  experiment: 'tradeoff';
  what: string;
  preset: string;
  frame: number;
  rate: string | null;
  /** The shared stage-1 model (a preset's model in the runs folder, or a shipped one) and its sha256. */
  stage1: { from: string; sha256: string | null };
  lambdas: number[];
  train_steps: number;
  source: string | null;
  split: Split;
  /** The first sequence scored: 0 on the test split, the held-out index on the training split. */
  first: number;
  samples: number;
  dither_seeds: number[];
  judge_steps: number;
  /** The MMSE decoder of the shared representation (from the first evaluated run). */
  mmse: TradeoffDecoderPoint | null;
  /** Every run's MMSE decoder scored the same: the runs do share one stage-1 model. */
  mmse_shared: boolean;
  points: TradeoffPoint[];
  /** The 0-PLF optimum of Theorem 3.2 on the shared encoder (with --ot-bound N > 0). */
  zero_plf: BoundSummary | null;
  /** Runs without an evaluation (a job failed or did not run). */
  missing: string[];
}

const sameSeries = (a: SeedStat | undefined, b: SeedStat | undefined) => a !== undefined && b !== undefined && a.per_seed.length === b.per_seed.length && a.per_seed.every((v, i) => v === b.per_seed[i]);

/** The table from the stored results of the plan's jobs. */
export function tradeoffTable(o: TradeoffOptions, p: Plan, stage1Sha: string | undefined): TradeoffTable {
  const evals = p.runs.map((r) => ({ r, e: readJson<CellEval>(join(o.runs, evalId(r.id, o.heldOut), RESULT)) }));
  const done = evals.filter((x): x is { r: (typeof p.runs)[number]; e: CellEval } => x.e !== undefined && matches(x.e, p.settings, fileSha(join(o.runs, x.r.id, MODEL)) ?? ''));
  const first = done[0]?.e;
  const mmseOf = (e: CellEval): TradeoffDecoderPoint | null => (e.mse.mmse && e.judge_w1?.mmse ? { mse: e.mse.mmse, judge_w1: e.judge_w1.mmse } : null);
  const ot = p.bound > 0 ? readJson<OtResult>(join(o.runs, otId(p.from), RESULT)) : undefined;
  const otOk = ot !== undefined && ot.model.sha256 === stage1Sha && ot.samples === p.bound && ot.frame === p.frame;
  return {
    experiment: 'tradeoff',
    what: `per-pixel MSE on [0, 1] pixels and a fresh judge critic's W1 of each stage-2 run's perception decoders (mean and sample std over dither seeds, each the mean over the ${o.heldOut === undefined ? 'test' : 'held-out training'} sequences), the shared MMSE decoder, and D_MMSE + W2^2 of Theorem 3.2 on the shared encoder`,
    preset: o.preset, frame: p.frame, rate: first?.rate ?? null, stage1: { from: p.from, sha256: stage1Sha ?? null }, lambdas: o.lambdas, train_steps: o.steps ?? presets[o.preset]!.steps,
    source: first?.source ?? null, split: o.heldOut === undefined ? 'test' : 'train', first: o.heldOut ?? 0, samples: o.samples, dither_seeds: Array.from({ length: o.ditherSeeds }, (_, i) => i + 1), judge_steps: o.judgeSteps,
    mmse: first ? mmseOf(first) : null,
    mmse_shared: done.every(({ e }) => sameSeries(e.mse.mmse, first!.mse.mmse) && sameSeries(e.judge_w1?.mmse, first!.judge_w1?.mmse)),
    points: done.map(({ r, e }) => ({
      lambda: r.lambda, run: r.id, model: { from: e.model.from, sha256: e.model.sha256 },
      decoders: Object.fromEntries((Object.keys(e.mse) as DecoderName[]).filter((d) => d !== 'mmse' && e.judge_w1?.[d]).map((d) => [d, { mse: e.mse[d]!, judge_w1: e.judge_w1![d]! }])),
    })),
    zero_plf: otOk ? boundSummary(ot.bound) : null,
    missing: p.runs.filter((r) => !done.some((d) => d.r === r)).map((r) => r.id),
  };
}

const pct = (v: number) => (v * 100).toFixed(3);
const w1 = (s: SeedStat) => `${s.mean.toFixed(3)} ± ${s.std.toFixed(3)}`;

export function tradeoffMarkdown(t: TradeoffTable): string {
  const dm = t.mmse?.mse.mean;
  const ratio = (v: number) => (dm && dm > 0 ? (v / dm).toFixed(2) : '—');
  const lines = [
    `# Distortion-perception tradeoff of one representation: ${t.preset}, frame ${t.frame}${t.rate ? ` (${t.rate} bits)` : ''}`,
    '',
    `One stage-1 model (${t.stage1.from}${t.stage1.sha256 ? `, sha256 ${t.stage1.sha256.slice(0, 12)}` : ''}) shared by ${t.lambdas.length} stage-2 runs, lambda in ${t.lambdas.join(', ')}, each ${t.train_steps} steps of ${t.preset} with the encoder frozen. ` +
      `Scored on ${t.samples} sequences of the ${t.source ?? 'MovingMNIST'} ${t.split === 'test' ? 'test split' : `training split from sequence ${t.first} (held out: far past what training reads)`} x dither seeds ${t.dither_seeds.join(', ')}; judge: a fresh critic, ${t.judge_steps} steps per decoder and seed (lower is more realistic). ` +
      `MSE x1e-2, per pixel on [0, 1] pixels; mean ± std over the seeds. ${t.split === 'test' ? 'The lambdas were fixed before the runs: nothing here is chosen by a test score.' : 'Held-out training sequences: the table to choose lambda by.'}`,
    '',
    '| point | lambda | decoder | MSE | MSE / D_MMSE | judge W1 |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  if (t.mmse) lines.push(`| MMSE decoder (stage 1, shared) | — | MMSE | ${pct(t.mmse.mse.mean)} ± ${pct(t.mmse.mse.std)} | 1.00 | ${w1(t.mmse.judge_w1)} |`);
  for (const p of t.points) {
    for (const [d, s] of Object.entries(p.decoders) as [DecoderName, TradeoffDecoderPoint][]) {
      lines.push(`| stage 2 | ${p.lambda} | ${DECODERS[d].title} | ${pct(s.mse.mean)} ± ${pct(s.mse.std)} | ${ratio(s.mse.mean)} | ${w1(s.judge_w1)} |`);
    }
  }
  if (t.zero_plf) {
    const z = t.zero_plf;
    lines.push(`| 0-PLF optimum, Theorem 3.2: D_MMSE + W2^2, paired (biased up at finite N) | — | — | ${pct(z.bound.paired.value)} ± ${pct(z.bound.paired.std)} | ${ratio(z.bound.paired.value)} | 0 |`,
      `| 0-PLF optimum, debiased (a heuristic, likely low) | — | — | ${pct(z.bound.debiased.value)} ± ${pct(z.bound.debiased.std)} | ${ratio(z.bound.debiased.value)} | 0 |`,
      `| oracle: the assignment decoder (${z.samples} real frames as codebook) | — | — | ${pct(z.oracle_mse)} | ${ratio(z.oracle_mse)} | |`);
    lines.push('', `The bound: exact assignment between the MMSE reconstructions of ${z.samples} test sequences and frames (dither seed 1; ± the std of ${z.bootstrap} bootstrap resamples); its D_MMSE on those sequences is ${pct(z.d_mmse)}.`);
  }
  if (!t.mmse_shared) lines.push('', '**The runs\' MMSE decoders score differently: they do not share one stage-1 model** (a run folder from another start?).');
  if (t.missing.length) lines.push('', `Not evaluated (a job failed or did not run): ${t.missing.join(', ')}.`);
  return lines.join('\n') + '\n';
}

/** MSE against the judge's W1: each perception decoder's curve over lambda, the MMSE point, the 0-PLF optimum at W1 = 0, the factor-of-two line. */
export function tradeoffChartSpec(t: TradeoffTable): ChartSpec {
  const x = { field: 'w1', type: 'quantitative', title: 'judge W1 (lower: more realistic)' } as const;
  const y = { field: 'mse', type: 'quantitative', title: 'MSE per pixel', scale: { zero: false } } as const;
  const curve = t.points.flatMap((p) => Object.entries(p.decoders).map(([d, s]) => ({ decoder: DECODERS[d as DecoderName].title, lambda: p.lambda, label: `λ=${p.lambda}`, w1: s.judge_w1.mean, mse: s.mse.mean })));
  const color = { field: 'decoder', type: 'nominal', title: 'stage-2 decoder', legend: { orient: 'bottom' } } as const;
  const layers: ChartSpec[] = [
    { name: 'curve', data: { values: curve }, mark: { type: 'line' }, encoding: { x, y, color, order: { field: 'lambda', type: 'quantitative' } } },
    { name: 'points', data: { values: curve }, mark: { type: 'point', filled: true, size: 60 }, encoding: { x, y, color } },
    { name: 'lambdas', data: { values: curve }, mark: { type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 10 }, encoding: { x, y, text: { field: 'label' } } },
  ] as ChartSpec[];
  if (t.mmse) {
    const m = [{ w1: t.mmse.judge_w1.mean, mse: t.mmse.mse.mean, label: 'MMSE', two: 2 * t.mmse.mse.mean, twoLabel: '2 D_MMSE' }];
    layers.push(
      { name: 'mmse', data: { values: m }, mark: { type: 'point', shape: 'square', filled: true, size: 90, color: 'black' }, encoding: { x, y } },
      { name: 'mmse_label', data: { values: m }, mark: { type: 'text', align: 'right', dx: -8, fontSize: 10 }, encoding: { x, y, text: { field: 'label' } } },
      { name: 'factor_of_two', data: { values: m }, mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { field: 'two', type: 'quantitative' } } },
      { name: 'factor_of_two_label', data: { values: m }, mark: { type: 'text', align: 'left', x: 4, dy: -6, fontSize: 10, color: 'gray' }, encoding: { y: { field: 'two', type: 'quantitative' }, text: { field: 'twoLabel' } } },
    );
  }
  if (t.zero_plf) {
    const b = t.zero_plf.bound.paired;
    const z = [{ w1: 0, mse: b.value, lo: b.value - b.std, hi: b.value + b.std, label: '0-PLF optimum (Thm 3.2)' }];
    layers.push(
      { name: 'zero_plf_spread', data: { values: z }, mark: { type: 'rule', color: 'firebrick' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      { name: 'zero_plf', data: { values: z }, mark: { type: 'point', shape: 'diamond', filled: true, size: 110, color: 'firebrick' }, encoding: { x, y } },
      { name: 'zero_plf_label', data: { values: z }, mark: { type: 'text', align: 'left', dx: 8, fontSize: 10, color: 'firebrick' }, encoding: { x, y, text: { field: 'label' } } },
    );
  }
  return {
    title: { text: `Distortion-perception tradeoff of one representation: ${t.preset}`, subtitle: `frame ${t.frame}; stage 2 only, lambda in ${t.lambdas.join(', ')}` },
    width: 420, height: 300, layer: layers,
  } as ChartSpec;
}

/** The stage-1 model: the shipped one, or the preset's model in the runs folder. */
async function stage1Model(o: TradeoffOptions, from: string): Promise<LoadedModel> {
  if (isZoo(from)) return loadZooModel(o.zoo ?? folderStore(), from.slice(4));
  const path = join(o.runs, from, MODEL);
  return readModelPath(path, `stage-1 model '${from}'`);
}

/** Run the sweep (what is not finished), then write tradeoff-<preset>.json/.md/.svg/.png; returns the exit code. */
export async function runTradeoff(o: TradeoffOptions): Promise<{ code: number; table: TradeoffTable; files: string[] }> {
  const say = o.say ?? ((l: string) => process.stderr.write(l + '\n'));
  const p = tradeoffPlan(o);
  const zoo = o.zoo ?? folderStore();
  const zooSha = isZoo(p.from) ? (await zooManifest(zoo)).find((e) => e.name === p.from.slice(4))?.sha256 : undefined;
  if (isZoo(p.from) && zooSha === undefined) throw new UserError(`--from ${p.from}: no such shipped model (rdpv models lists them)`);
  const stage1Sha = () => zooSha ?? fileSha(join(o.runs, p.from, MODEL));
  const byId = new Map(p.runs.map((r) => [r.id, r]));
  const runOf = (job: Job) => byId.get(job.kind === 'eval' ? job.id.replace(/^eval-(heldout-)?/, '') : job.id);
  const modelPath = (id: string) => join(o.runs, id, MODEL);

  const finished = (job: Job): boolean => {
    if (job.id === otId(p.from)) {
      const r = readJson<OtResult>(join(o.runs, job.id, RESULT));
      return r !== undefined && r.model.sha256 === stage1Sha() && r.samples === p.bound && r.frame === p.frame;
    }
    const run = runOf(job);
    if (!run) return trainingFinished(join(o.runs, job.id), presets[job.id]!.steps);
    if (job.kind === 'train') return trainingFinished(join(o.runs, run.id), run.config.steps) && modelTrainConfig(modelPath(run.id)) === JSON.stringify(run.config);
    const r = readJson<CellEval>(join(o.runs, job.id, RESULT));
    const sha = fileSha(modelPath(run.id));
    return r !== undefined && sha !== undefined && matches(r, p.settings, sha);
  };
  const store = runsJobStore(o.runs, finished, (job) => join(o.runs, job.id, job.kind === 'train' ? MODEL : RESULT));
  const write = (job: Job, v: unknown) => {
    mkdirSync(join(o.runs, job.id), { recursive: true });
    writeFileAtomic(join(o.runs, job.id, RESULT), jsonBytes(v));
  };

  const execute = async (job: Job, jsay: (l: string) => void): Promise<number> => {
    const run = runOf(job);
    if (job.kind === 'train') {
      const config = run?.config ?? presets[job.id]!;
      return (await runTraining({ preset: job.id, config, out: join(o.runs, job.id), resume: true, say: jsay })).exitCode;
    }
    const lm = run ? await readModelPath(modelPath(run.id), `model of ${run.id}`) : await stage1Model(o, p.from);
    try {
      // Scored as Table 1 scores a cell, at the preset's frame.
      if (run) write(job, await evaluateCell(lm, job.id, run.id, modelPath(run.id), p.settings, jsay));
      else write(job, { job: job.id, model: { from: p.from, sha256: lm.sha256 }, samples: p.bound, frame: p.frame, bound: cellOtBound(lm, p.bound, p.frame) } satisfies OtResult);
      return 0;
    } finally {
      disposeModel(lm.model);
    }
  };

  await initEngine({ threads: o.threads ?? 1 });
  mkdirSync(o.results, { recursive: true });
  const base = `tradeoff-${o.preset}${o.heldOut === undefined ? '' : '-heldout'}`;
  const logPath = join(o.results, `${base}.log.jsonl`);
  const log = (e: Record<string, unknown>) => appendFileSync(logPath, JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
  log({ event: 'begin', preset: o.preset, from: p.from, lambdas: o.lambdas, steps: p.runs[0]!.config.steps, runs: o.runs, samples: o.samples, dither_seeds: o.ditherSeeds, judge_steps: o.judgeSteps, ot_bound: o.otBound });
  say(`[repro] tradeoff ${o.preset} from ${p.from}: lambda ${o.lambdas.join(', ')}; ${p.grid.jobs.length} jobs; runs in ${o.runs}`);
  const report = await runGrid(p.grid, p.grid.jobs, { jobs: 1, store, pollMs: 1000, say, log, execute: (job) => execute(job, (l) => say(`[${job.id}] ${l}`)) });
  const table = tradeoffTable(o, p, stage1Sha());
  const chart = await renderChart(tradeoffChartSpec(table));
  const files = writeResults(o.results, base, { json: JSON.stringify(table, null, 2) + '\n', md: tradeoffMarkdown(table), svg: chart.svg, png: chart.png });
  log({ event: 'table', files, points: table.points.length, missing: table.missing });
  console.log(`tradeoff ${o.preset}: ${table.points.length}/${o.lambdas.length} runs scored; ${report.ran.length} job(s) run, ${report.skipped.length} already finished` +
    `${report.failed.length ? `, ${report.failed.length} failed (${report.failed.map((f) => f.id).join(', ')})` : ''}${report.blocked.length ? `, ${report.blocked.length} not run` : ''}; ${files.join(', ')}`);
  const code = report.interrupted ?? (report.failed.length || report.blocked.length || table.missing.length ? 1 : 0);
  return { code, table, files };
}
