/**
 * `rdpv repro fig2 | fig3 | fig4` on Node: the GOP-3 models behind each figure trained through the
 * grid runner (jobs, resume, failure markers and the JSON-lines log as `rdpv repro table1` has
 * them, in this process) or loaded from the zoo or from a file the user names, then the figure
 * drawn and written beside its numbers (every file atomically).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RateName } from '../codec/rates.ts';
import { KTH_ACTIONS } from '../data/kth.ts';
import { kthSource, movingMnistSource, type FrameSource } from '../data/source.ts';
import { initEngine, type BackendName } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { classifierFn, DIGIT_CLASSIFIER_NAME, loadShippedClassifier, type FrameClassifier } from '../eval/classifier.ts';
import { countErrors, permanenceMarkdown, type PermanenceResult } from '../eval/permanence.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import { disposeModel, readModelFile, type LoadedModel } from '../models/model-file.ts';
import { folderStore, readFileOrFail, readModelPath, writeFileAtomic } from '../models/weights-io.ts';
import { loadZooModel, MANIFEST, zooBase, zooManifest, type WeightStore } from '../models/zoo.ts';
import { presets } from '../train/presets.ts';
import { MODEL, runTraining } from '../train/run.ts';
import { videoCodec } from '../video/codec.ts';
import { EVAL_DATA_SEED } from './cell-eval.ts';
import { renderChart } from './chart.ts';
import { decodedBatches, FIGURE_DECODERS, frameMse, largestRows, PERCEPTION_IFRAME, randomRows, ratesTitle, reconGrid, rowJson, rowOf, wrongIFrameRows, type DecodedBatch, type ReconRow } from './fig-recon.ts';
import { evaluateFrames, fig3Cells, fig3Markdown, fig3Pair, fig3Spec, FIG3_CLAIM, FIG3_PAIRS_FROM, framesMatch, gopCell, pairName, type Fig3, type FigureCell, type FramesEval, type FramesEvalSettings } from './fig3.ts';
import { runGrid, type Grid, type Job } from './grid.ts';
import { pngBytes } from '../data/frames-io.ts';
import { table1Grid, zooNameOf } from './table1.ts';
import { fileSha, jsonBytes as json, readJson, RESULT, runsJobStore, trainingFinished, writeResults } from './runs.ts';

export interface FigureOptions {
  /** Train the figure's models into `runs` (resuming), or load them from the zoo. Ignored where `model` is given. */
  mode: 'train' | 'pretrained';
  tiny: boolean;
  runs: string;
  results: string;
  /** fig3: test sequences scored per pair; fig2: sequences scanned for wrong I-frames; fig4: KTH test clips scanned. */
  samples: number;
  /** fig3: dither seeds 1..K. */
  ditherSeeds: number;
  /** fig3: only these (R2, R3) pairs ('R2-R3'), a partial figure; default all. */
  pairs?: string[];
  /** fig2, fig4: rows of each picture (the chosen ones, and as many random ones). */
  rows: number;
  /** fig2, fig4: the random rows' seed. */
  seed: number;
  backend: BackendName;
  /** wasm backend threads (default 1); results are bit-identical for any count. */
  threads?: number;
  /** fig2, fig4: draw this GOP model file (no training, no zoo). */
  model?: string;
  /** fig4: the folder of the KTH AVIs. */
  kthDir?: string;
  /** The shipped models (default: models/ of the package). */
  zoo?: WeightStore;
  /** fig2: the digit reader (default: the shipped classifier). */
  classify?: FrameClassifier;
  say?: (line: string) => void;
}

/** The zoo entry Figure 4's model would ship as: a KTH GOP-3 model at 16 bits per frame. */
export const FIG4_ZOO_NAME = 'kth-pframe-16-16-16';
/** The one decoding a picture figure shows. */
const DITHER_SEED = 1;
const BATCH = 64;

const sayOf = (o: FigureOptions) => o.say ?? ((l: string) => process.stderr.write(l + '\n'));

/** The cells' zoo entries, checked before anything runs: one line naming the missing ones (exit 2). */
async function checkZoo(o: FigureOptions, names: string[]): Promise<Map<string, string>> {
  const store = o.zoo ?? folderStore();
  const entries = await zooManifest(store);
  const missing = names.filter((n) => !entries.some((e) => e.name === n));
  if (missing.length) throw new UserError(`--pretrained: ${store.where(MANIFEST)} has no entry for ${missing.join(', ')} (shipped: ${entries.map((e) => e.name).join(', ') || 'none'}); train them with --train`);
  return new Map(entries.map((e) => [e.name, e.sha256]));
}

const modelPath = (o: FigureOptions, cell: FigureCell) => join(o.runs, cell.preset, MODEL);

/** The model a cell draws: the perception model in the runs folder, or the shipped one. */
async function cellModel(o: FigureOptions, cell: FigureCell): Promise<{ lm: LoadedModel; from: string }> {
  if (o.mode === 'pretrained') return { lm: await loadZooModel(o.zoo ?? folderStore(), zooNameOf(cell)), from: `zoo:${zooNameOf(cell)}` };
  const path = modelPath(o, cell);
  return { lm: await readModelPath(path, `model of cell ${cell.name}`), from: path };
}

/** A GOP model file the user names (--model). */
async function fileModel(bytes: Uint8Array, path: string): Promise<{ lm: LoadedModel; from: string }> {
  const lm = await readModelFile(bytes, path, zooBase(folderStore()));
  if (lm.model.config.kind !== 'gop') {
    disposeModel(lm.model);
    throw new UserError(`${path}: an I-frame model; the figure draws a group of pictures (a GOP model, e.g. runs/pframe-12-12-12-perception/model.safetensors)`);
  }
  return { lm, from: path };
}

/** The cells a figure draws: Figure 2's one GOP at 12 bits per frame, Figure 3's pairs. */
export const figureCells = (figure: 'fig2' | 'fig3', tiny: boolean, pairs?: string[]): FigureCell[] => (figure === 'fig3' ? fig3Cells(tiny, pairs) : [gopCell(['12', '12', '12'], tiny)!]);

/** The Table 1 grid of a figure's cells (each cell's training chain, then its evaluation job); without evaluations, the training jobs only. */
export function figureGrid(figure: string, cells: FigureCell[], pretrained: boolean, evaluations: boolean): Grid {
  const full = table1Grid(cells, pretrained);
  return { name: figure, cells: full.cells, jobs: evaluations ? full.jobs : full.jobs.filter((j) => j.kind === 'train') };
}

/**
 * Train (and with `evaluate`, score) the cells through the grid runner: the Table 1 grid of these
 * cells (each cell's training chain, then its evaluation job), jobs finished in `runs` not redone.
 * Returns the exit code of the grid (0: every job done).
 */
async function runCells(o: FigureOptions, figure: string, cells: FigureCell[], evaluate?: { finished(job: Job, cell: FigureCell): boolean; run(job: Job, cell: FigureCell, say: (l: string) => void): Promise<void> }): Promise<number> {
  const say = sayOf(o);
  const grid = figureGrid(figure, cells, o.mode === 'pretrained', evaluate !== undefined);
  const cellOf = new Map(cells.map((c) => [c.name, c]));
  const dir = (job: Job) => join(o.runs, job.id);
  const store = runsJobStore(o.runs,
    (job) => (job.kind === 'eval' ? evaluate!.finished(job, cellOf.get(job.cell)!) : trainingFinished(dir(job), presets[job.id]!.steps)),
    (job) => join(dir(job), job.kind === 'train' ? MODEL : RESULT));
  mkdirSync(o.results, { recursive: true });
  const logPath = join(o.results, `${figure}.log.jsonl`);
  const log = (e: Record<string, unknown>) => appendFileSync(logPath, JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
  log({ event: 'begin', mode: o.mode, tiny: o.tiny, jobs: grid.jobs.map((j) => j.id), runs: o.runs, samples: o.samples });
  say(`[repro] ${figure}${o.tiny ? ' (tiny)' : ''}: ${grid.jobs.length} jobs (${cells.map((c) => c.name).join(', ')}); runs in ${o.runs}`);
  const report = await runGrid(grid, grid.jobs, {
    jobs: 1, store, pollMs: 1000, say, log,
    async execute(job) {
      const jobSay = (l: string) => say(`[${job.id}] ${l}`);
      if (job.kind === 'train') return (await runTraining({ preset: job.id, config: presets[job.id]!, out: dir(job), resume: true, say: jobSay })).exitCode;
      await evaluate!.run(job, cellOf.get(job.cell)!, jobSay);
      return 0;
    },
  });
  if (report.interrupted !== undefined) return report.interrupted;
  return report.failed.length || report.blocked.length ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Figure 3

/** `rdpv repro fig3`: returns the exit code. */
export async function runFig3(o: FigureOptions): Promise<number> {
  const cells = figureCells('fig3', o.tiny, o.pairs);
  const settings: FramesEvalSettings = { samples: o.samples, ditherSeeds: o.ditherSeeds, batch: BATCH };
  const zooSha = o.mode === 'pretrained' ? await checkZoo(o, cells.map(zooNameOf)) : undefined;
  const modelSha = (cell: FigureCell) => (zooSha ? zooSha.get(zooNameOf(cell)) : fileSha(modelPath(o, cell)));
  const resultOf = (cell: FigureCell) => join(o.runs, `eval-${cell.name}`, RESULT);
  const stored = (cell: FigureCell) => {
    const r = readJson<FramesEval>(resultOf(cell));
    const sha = modelSha(cell);
    return r?.frames && sha !== undefined && framesMatch(r, settings, sha) ? r : undefined;
  };
  await initEngine({ backend: o.backend, threads: o.threads ?? 1 });
  const code = await runCells(o, 'fig3', cells, {
    finished: (_, cell) => stored(cell) !== undefined,
    async run(job, cell, jobSay) {
      const { lm, from } = await cellModel(o, cell);
      try {
        const r = await evaluateFrames(lm, job.id, cell.name, from, settings, jobSay);
        mkdirSync(join(o.runs, job.id), { recursive: true });
        writeFileAtomic(resultOf(cell), json(r));
      } finally {
        disposeModel(lm.model);
      }
    },
  });
  const pairs = cells.flatMap((c) => {
    const e = stored(c);
    return e ? [fig3Pair(c, e)] : [];
  });
  const missing = cells.filter((c) => !pairs.some((p) => p.cell === c.name)).map((c) => c.name);
  const t: Fig3 = {
    figure: 'fig3',
    what: 'per-pixel MSE of every frame of a GOP of 3 on [0, 1] pixels (x1): mean and sample standard deviation over dither seeds, each the mean over the test sequences',
    claim: FIG3_CLAIM, pairs_from: FIG3_PAIRS_FROM,
    source: movingMnistSource({ seed: EVAL_DATA_SEED }).name, split: 'test', samples: o.samples,
    dither_seeds: Array.from({ length: o.ditherSeeds }, (_, i) => i + 1), mode: o.mode, tiny: o.tiny, pairs,
    holds_for_every_pair: pairs.length ? pairs.every((p) => p.fmd_falls_faster) : null, missing,
    not_drawn: fig3Cells(o.tiny).filter((c) => !cells.some((d) => d.name === c.name)).map((c) => c.name),
  };
  const chart = pairs.length ? await renderChart(fig3Spec(t)) : undefined;
  const files = writeResults(o.results, 'fig3', { json: json(t), md: fig3Markdown(t), ...(chart ? { svg: chart.svg, png: chart.png } : {}) });
  for (const p of pairs) console.log(`fig3 ${pairName(p)}: FMD falls faster than JD over frames 2-3: ${p.fmd_falls_faster ? 'yes' : 'no'} (D1 - D2, D1 - D3: FMD ${p.fall.fmd.map((v) => v.toFixed(5)).join(', ')}; JD ${p.fall.jd.map((v) => v.toFixed(5)).join(', ')})`);
  console.log(`fig3: ${pairs.length}/${cells.length} pairs${missing.length ? ` (missing: ${missing.join(', ')})` : ''}${t.not_drawn.length ? ` (not drawn: ${t.not_drawn.join(', ')})` : ''}; for every pair: ${t.holds_for_every_pair === null ? '-' : t.holds_for_every_pair ? 'yes' : 'no'}; ${files.join(', ')}`);
  if (code !== 0) return code;
  return missing.length ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Figures 2 and 4: pictures

/** The model a picture figure draws: --model, or the cell's (trained here or shipped). Returns undefined (with the exit code) when training did not finish. */
async function pictureModel(o: FigureOptions, figure: string, cell: FigureCell | undefined, zooName: string): Promise<{ lm: LoadedModel; from: string } | { code: number }> {
  // What a user can get wrong (a missing file, a missing zoo entry) is said before the engine starts.
  const bytes = o.model !== undefined ? readFileOrFail(o.model, 'model file') : undefined;
  if (!bytes && o.mode === 'pretrained') await checkZoo(o, [zooName]);
  await initEngine({ backend: o.backend, threads: o.threads ?? 1 });
  if (bytes) return fileModel(bytes, o.model!);
  if (o.mode === 'pretrained') return { lm: await loadZooModel(o.zoo ?? folderStore(), zooName), from: `zoo:${zooName}` };
  if (!cell) throw new Error(`${figure}: no preset for its model`);
  const code = await runCells(o, figure, [cell]);
  return code === 0 ? cellModel(o, cell) : { code };
}

interface Picture {
  rows: ReconRow[];
  random: ReconRow[];
  rates: RateName[];
  size: number;
}

/**
 * Scan `samples` sequences: `choose` gives each batch's candidate rows (kept up to `rows`, or
 * replaced by better ones when it ranks them), the seeded random rows are kept as they pass.
 */
function scan(lm: LoadedModel, source: FrameSource, o: FigureOptions, figure: string, classify: FrameClassifier | undefined, each: (b: DecodedBatch, kept: ReconRow[]) => ReconRow[]): Picture {
  const say = sayOf(o);
  const codec = videoCodec(lm.model);
  const wanted = new Set(randomRows(o.samples, o.rows, o.seed));
  let rows: ReconRow[] = [];
  const random: ReconRow[] = [];
  for (const b of decodedBatches(lm.model, source, { samples: o.samples, ditherSeed: DITHER_SEED, batch: BATCH, ...(classify ? { classify } : {}) })) {
    rows = each(b, rows);
    for (let k = 0; k < b.n; k++) if (wanted.has(b.start + k)) random.push(rowOf(b, k));
    say(`[${figure}] decoded ${b.start + b.n}/${o.samples} sequences; ${rows.length}/${o.rows} rows chosen`);
  }
  return { rows, random, rates: codec.rates, size: codec.size };
}

/** FIG.png (the chosen rows), FIG-random.png and FIG.json/.md (`outputs`), each written atomically; returns their paths. */
function writePicture(o: FigureOptions, figure: string, p: Picture, title: (what: string) => string, label: (r: ReconRow) => string, chosen: string, outputs: Record<string, string | Uint8Array>): string[] {
  const draw = (rows: ReconRow[], what: string) => pngBytes(reconGrid(rows, p.size, { title: title(what), rates: p.rates, rowLabel: label }));
  return [
    ...writeResults(o.results, figure, { ...(p.rows.length ? { png: draw(p.rows, chosen) } : {}), ...outputs }),
    ...(p.random.length ? writeResults(o.results, `${figure}-random`, { png: draw(p.random, 'random test sequences') }) : []),
  ];
}

const columnsTitle = 'ground truth | 0-PLF-JD | 0-PLF-FMD | MMSE';

/** `rdpv repro fig2`: returns the exit code. */
export async function runFig2(o: FigureOptions): Promise<number> {
  const say = sayOf(o);
  const [cell] = figureCells('fig2', o.tiny);
  const got = await pictureModel(o, 'fig2', cell, zooNameOf(cell!));
  if ('code' in got) return got.code;
  const { lm, from } = got;
  let classifier: { from: string; sha256?: string } = { from: 'given' };
  let classify = o.classify;
  if (!classify) {
    const shipped = await loadShippedClassifier(o.zoo ?? folderStore());
    classify = classifierFn(shipped.params);
    classifier = { from: `zoo:${DIGIT_CLASSIFIER_NAME}`, sha256: shipped.sha256 };
  }
  const source = movingMnistSource({ seed: EVAL_DATA_SEED });
  // Every read, for the permanence counts over the whole scan.
  const labels: number[] = [];
  const reads = Object.fromEntries(['truth', ...FIGURE_DECODERS].map((c) => [c, [] as number[][]])) as Record<'truth' | DecoderName, number[][]>;
  let pic: Picture;
  try {
    pic = scan(lm, source, o, 'fig2', classify, (b, kept) => {
      labels.push(...b.labels);
      for (const [c, rs] of Object.entries(b.reads!)) rs.forEach((r, t) => (reads[c as 'truth'][t] ??= []).push(...r));
      const picks = wrongIFrameRows(b.labels, b.reads!.truth[0]!, b.reads![PERCEPTION_IFRAME][0]!, o.rows - kept.length);
      return [...kept, ...picks.map((k) => rowOf(b, k))];
    });
  } finally {
    disposeModel(lm.model);
  }
  const counts = (c: 'truth' | DecoderName) => countErrors(Int32Array.from(labels), reads[c].map((r) => Int32Array.from(r)));
  const permanence: PermanenceResult = {
    source: source.name, split: 'test', first: 0, samples: o.samples, dither_seeds: [DITHER_SEED], rates: pic.rates,
    truth: counts('truth'), decoders: Object.fromEntries(FIGURE_DECODERS.map((d) => [d, counts(d)])),
  };
  const T = pic.rates.length;
  const stillWrong = (d: DecoderName) => pic.rows.filter((r) => r.reads![d][T - 1] !== r.label).length;
  const digit = (r: ReconRow) => `#${r.index}: ${r.label}${r.reads && r.reads[PERCEPTION_IFRAME][0] !== r.label ? ` (I-frame read ${r.reads[PERCEPTION_IFRAME][0]})` : ''}`;
  const result = {
    figure: 'fig2',
    what: `groups of ${T} pictures of the ${source.name} test split beside their 0-PLF-JD, 0-PLF-FMD and MMSE reconstructions (one decoding, dither seed ${DITHER_SEED}); mse: per-pixel MSE on [0, 1] pixels; reads: the digit classifier's reading of each frame`,
    model: { from, id: lm.id, sha256: lm.sha256 }, rates: pic.rates, source: source.name, split: 'test', samples: o.samples, dither_seed: DITHER_SEED,
    classifier,
    selection: `the first ${o.rows} sequences (by index) whose ground-truth frame 1 the classifier reads as its digit and whose ${DECODERS[PERCEPTION_IFRAME].title} frame 1 (the I-frame's perception reconstruction, shared with 0-PLF-FMD) it reads as another`,
    rows: pic.rows.map(rowJson),
    chosen_still_wrong_at_last_frame: Object.fromEntries(FIGURE_DECODERS.map((d) => [d, stillWrong(d)])),
    random: { seed: o.seed, rows: pic.random.map(rowJson) },
    permanence: { truth: permanence.truth, decoders: permanence.decoders },
  };
  const md = `# Figure 2: error permanence, ${ratesTitle(pic.rates)}\n\nThe classifier's errors over the ${o.samples} scanned test sequences (dither seed ${DITHER_SEED}); "f1 wrong: ft wrong" is the share of groups with a wrong frame 1 whose frame t is wrong too.\n\n` +
    permanenceMarkdown(permanence) + `\nRows of fig2.png: ${result.selection}. Of those ${pic.rows.length}, frame ${T} is still read wrong for ${FIGURE_DECODERS.map((d) => `${DECODERS[d].title} ${stillWrong(d)}`).join(', ')}.\n`;
  const files = writePicture(o, 'fig2', pic, (what) => `${columnsTitle}, ${ratesTitle(pic.rates)}: ${what}`, digit, 'I-frame digit read wrong', { json: json(result), md });
  if (pic.rows.length < o.rows) say(`[fig2] only ${pic.rows.length} of ${o.samples} sequences have a wrong I-frame digit (of ${o.rows} wanted): scan more with --samples`);
  console.log(`fig2: ${pic.rows.length} rows with a wrong I-frame digit (frame ${T} still wrong: ${FIGURE_DECODERS.map((d) => `${DECODERS[d].title} ${stillWrong(d)}/${pic.rows.length}`).join(', ')}) and ${pic.random.length} random rows of ${o.samples} scanned; ${files.join(', ')}`);
  return 0;
}

/** `rdpv repro fig4`: returns the exit code. */
export async function runFig4(o: FigureOptions): Promise<number> {
  const say = sayOf(o);
  if (o.kthDir === undefined) throw new UserError('fig4 needs --kth-dir DIR: the folder of the KTH AVIs (person01_walking_d1_uncomp.avi, ...; persons 21-25 are the test split)');
  if (o.model === undefined && o.mode === 'train') {
    throw new UserError(`fig4: no KTH model can be trained here yet (rdpv train reads MovingMNIST, and the rate table has no 16 bits): pass a GOP model trained on KTH with --model FILE, or --pretrained once the zoo ships ${FIG4_ZOO_NAME}`);
  }
  const got = await pictureModel(o, 'fig4', undefined, FIG4_ZOO_NAME);
  if ('code' in got) return got.code;
  const { lm, from } = got;
  const rates = videoCodec(lm.model).rates;
  say(`[fig4] ${from} codes ${rates.join(', ')} bits per frame (the paper's Figure 4: 16 bits per frame, a rate the codec's rate table does not have yet)`);
  const source = await kthSource(o.kthDir, { frames: rates.length, seed: EVAL_DATA_SEED });
  const sums = Object.fromEntries(FIGURE_DECODERS.map((d) => [d, rates.map(() => 0)])) as Record<DecoderName, number[]>;
  let pic: Picture;
  try {
    pic = scan(lm, source, o, 'fig4', undefined, (b, kept) => {
      for (const d of FIGURE_DECODERS) for (let t = 0; t < rates.length; t++) for (let k = 0; k < b.n; k++) sums[d][t]! += frameMse(b, d, t, k);
      // The rows whose I-frame reconstruction is farthest from its frame: where a wrong start shows.
      const fresh = Array.from({ length: b.n }, (_, k) => frameMse(b, PERCEPTION_IFRAME, 0, k));
      const candidates = [...kept, ...fresh.map((_, k) => k).filter((k) => kept.length < o.rows || fresh[k]! > kept.at(-1)!.mse[PERCEPTION_IFRAME][0]!).map((k) => rowOf(b, k))];
      return largestRows(candidates.map((r) => r.mse[PERCEPTION_IFRAME][0]!), o.rows).map((i) => candidates[i]!);
    });
  } finally {
    disposeModel(lm.model);
  }
  const action = (r: ReconRow) => `#${r.index} ${KTH_ACTIONS[r.label] ?? r.label}`;
  const result = {
    figure: 'fig4',
    what: `groups of ${rates.length} KTH test clips beside their 0-PLF-JD, 0-PLF-FMD and MMSE reconstructions (one decoding, dither seed ${DITHER_SEED}); mse: per-pixel MSE on [0, 1] pixels`,
    model: { from, id: lm.id, sha256: lm.sha256 }, rates, paper_rates: '16 bits per frame', source: source.name, split: 'test', samples: o.samples, dither_seed: DITHER_SEED,
    mean_mse: Object.fromEntries(FIGURE_DECODERS.map((d) => [d, sums[d].map((s) => s / o.samples)])),
    selection: `the ${o.rows} sequences whose ${DECODERS[PERCEPTION_IFRAME].title} frame 1 (the I-frame's perception reconstruction) has the largest MSE`,
    rows: pic.rows.map(rowJson),
    random: { seed: o.seed, rows: pic.random.map(rowJson) },
  };
  const files = writePicture(o, 'fig4', pic, (what) => `KTH: ${columnsTitle}, ${ratesTitle(rates)}: ${what}`, action, 'largest I-frame error', { json: json(result) });
  console.log(`fig4: ${pic.rows.length} rows with the largest I-frame error and ${pic.random.length} random rows of ${o.samples} KTH test clips; ${files.join(', ')}`);
  return 0;
}
