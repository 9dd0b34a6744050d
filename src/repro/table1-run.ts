/**
 * `rdpv repro table1` on Node: the runs folder as the jobs' store (finished checks, failure
 * markers), each job run in this process or as a child `rdpv` process, the JSON-lines log, and
 * the table written from the cells' evaluations.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine, type BackendName } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { disposeModel, type LoadedModel } from '../models/model-file.ts';
import { folderStore, readModelPath, writeFileAtomic } from '../models/weights-io.ts';
import { loadZooModel, MANIFEST, zooManifest, type WeightStore, type ZooEntry } from '../models/zoo.ts';
import { presets } from '../train/presets.ts';
import { withReplicas } from '../train/parallel.ts';
import { MODEL, runTraining } from '../train/run.ts';
import { EVAL_DATA_SEED, evaluateCell, matches, type CellEval, type CellEvalSettings } from './cell-eval.ts';
import { runRdpvChild, signalChildren } from './children.ts';
import { fileSha, jsonBytes, readJson, RESULT, runsJobStore, trainingFinished, writeResults } from './runs.ts';
import { runGrid, shardJobs, shardName, shardOfJob, type Grid, type Job, type JobStore, type Shard } from './grid.ts';
import { presetChain, selectCells, table1Cells, table1Grid, table1Markdown, table1Row, zooNameOf, type Table1, type Table1Cell } from './table1.ts';


export interface Table1Options {
  mode: 'train' | 'pretrained';
  tiny: boolean;
  /** Jobs side by side; more than one runs each job as a child process. */
  jobs: number;
  shard?: Shard;
  runs: string;
  results: string;
  settings: CellEvalSettings;
  backend: BackendName;
  /** Data-parallel replicas of every training job (rdpv train --replicas; default 1). */
  replicas?: number;
  /** wasm threads of this run (default 1): split over --jobs children, then over a training's replicas, as rdpv train splits them. */
  threads?: number;
  pollMs: number;
  /** Run only this job (its dependencies must be finished): what a child process does. No log, no table. */
  only?: string;
  /** The cells (`R1-R2`) to train and evaluate (default: all): a partial table. */
  cells?: string[];
  /** The shipped models (default: models/ of the package). */
  zoo?: WeightStore;
  say?: (line: string) => void;
}

interface Plan {
  cells: Table1Cell[];
  grid: Grid;
  cellOf: Map<string, Table1Cell>;
  zoo: Map<string, ZooEntry>;
  store: JobStore;
}

function plan(o: Table1Options, zooEntries: ZooEntry[]): Plan {
  const cells = selectCells(o.tiny, o.cells);
  const grid = table1Grid(cells, o.mode === 'pretrained');
  const cellOf = new Map(cells.map((c) => [c.name, c]));
  const zoo = new Map(zooEntries.map((e) => [e.name, e]));
  const dir = (job: Job) => join(o.runs, job.id);
  const modelPath = (cell: Table1Cell) => join(o.runs, cell.preset, MODEL);
  const modelSha = (cell: Table1Cell) => (o.mode === 'pretrained' ? zoo.get(zooNameOf(cell))?.sha256 : fileSha(modelPath(cell)));
  const store = runsJobStore(o.runs, (job) => {
    if (job.kind === 'train') return trainingFinished(dir(job), presets[job.id]!.steps);
    const r = readJson<CellEval>(join(dir(job), RESULT));
    const sha = modelSha(cellOf.get(job.cell)!);
    return r !== undefined && sha !== undefined && matches(r, o.settings, sha);
  }, (job) => join(dir(job), job.kind === 'train' ? MODEL : RESULT));
  return { cells, grid, cellOf, zoo, store };
}

/** The model a cell evaluates: the perception model in the runs folder, or the shipped one. */
async function cellModel(o: Table1Options, cell: Table1Cell): Promise<{ lm: LoadedModel; from: string }> {
  if (o.mode === 'pretrained') return { lm: await loadZooModel(o.zoo ?? folderStore(), zooNameOf(cell)), from: `zoo:${zooNameOf(cell)}` };
  const path = join(o.runs, cell.preset, MODEL);
  return { lm: await readModelPath(path, `model of cell ${cell.name}`), from: path };
}

/** Run one job in this process (`say` takes its lines). */
async function runHere(o: Table1Options, p: Plan, job: Job, say: (l: string) => void): Promise<number> {
  if (job.kind === 'train') {
    const result = await runTraining({ preset: job.id, config: withReplicas(presets[job.id]!, o.replicas), out: join(o.runs, job.id), resume: true, say, replicaThreads: share(o.threads, o.replicas) });
    return result.exitCode;
  }
  const cell = p.cellOf.get(job.cell)!;
  const { lm, from } = await cellModel(o, cell);
  try {
    const r = await evaluateCell(lm, job.id, cell.name, from, o.settings, say);
    mkdirSync(join(o.runs, job.id), { recursive: true });
    writeFileAtomic(join(o.runs, job.id, RESULT), jsonBytes(r));
    return 0;
  } finally {
    disposeModel(lm.model);
  }
}

/** Each of `n` parts' share of `threads` wasm threads (at least 1). */
const share = (threads = 1, n = 1) => Math.max(1, Math.floor(threads / n));

/** The engine flags of every child: its backend, replicas and share of the threads. */
const engineArgs = (o: Table1Options) => ['--backend', o.backend, '--replicas', String(o.replicas ?? 1), '--threads', String(share(o.threads, o.jobs))];

/** The flags a child `rdpv repro table1 --only ID` needs to rebuild the same plan. */
function childArgs(o: Table1Options, id: string): string[] {
  return ['repro', 'table1', '--only', id, `--${o.mode}`, ...(o.tiny ? ['--tiny'] : []), '--runs', o.runs, '--results', o.results,
    '--samples', String(o.settings.samples), '--dither-seeds', String(o.settings.ditherSeeds), '--judge-steps', String(o.settings.judgeSteps),
    '--ot-bound', String(o.settings.otBound ?? 0), ...(o.cells ? ['--cells', o.cells.join(',')] : []),
    ...engineArgs(o)];
}

function runChild(o: Table1Options, job: Job): Promise<number> {
  return job.kind === 'train'
    ? runRdpvChild(job.id, ['train', '--preset', job.id, '--out', join(o.runs, job.id), '--resume', ...engineArgs(o)])
    : runRdpvChild(job.id, childArgs(o, job.id));
}

const shardSuffix = (s: Shard | undefined) => (s ? `.shard-${s.index}-of-${s.count}` : '');

/** The table of the cells of `cells` from their stored evaluations. */
export function buildTable1(o: Table1Options, p: Plan, cells: Table1Cell[]): Table1 {
  const rows = [];
  const missing = [];
  let first: CellEval | undefined;
  for (const cell of cells) {
    const job = p.grid.jobs.find((j) => j.kind === 'eval' && j.cell === cell.name)!;
    const e = p.store.finished(job) ? readJson<CellEval>(join(o.runs, job.id, RESULT)) : undefined;
    if (!e) {
      missing.push(cell.name);
      continue;
    }
    first ??= e;
    const chain = presetChain(cell.preset);
    const stageSha: Record<string, string> = {};
    if (o.mode === 'train') {
      for (const preset of chain) {
        const sha = readJson<{ sha256?: string }>(join(o.runs, preset, RESULT))?.sha256;
        if (sha) stageSha[preset] = sha;
      }
    }
    rows.push(table1Row(cell, e, chain, stageSha));
  }
  return {
    table: 'table1',
    what: 'per-pixel MSE of the P-frame (frame 2) on [0, 1] pixels (x1, not x1e-2): mean and sample standard deviation over dither seeds, each the mean over the test sequences',
    source: first?.source ?? `moving-mnist paper 1 digit seed ${EVAL_DATA_SEED}`, split: 'test', frame: 2,
    samples: o.settings.samples, dither_seeds: Array.from({ length: o.settings.ditherSeeds }, (_, i) => i + 1), judge_steps: o.settings.judgeSteps,
    ot_bound: o.settings.otBound ?? 0, mode: o.mode, tiny: o.tiny, shard: o.shard ? shardName(o.shard) : null, cells: rows, missing,
    paper_note: 'paper: the paper\'s Table 1 (x1e-2), measured by its authors on their training split; ours on the test split',
  };
}

/** Write table1.json and table1.md (with a shard suffix for one shard's part) atomically; returns their paths. */
export function writeTable1(results: string, t: Table1, cells: Table1Cell[], shard: Shard | undefined): string[] {
  return writeResults(results, `table1${shardSuffix(shard)}`, { json: jsonBytes(t), md: table1Markdown(t, cells) });
}

/** The zoo's Table 1 entries, checked before anything runs: a one-line error naming the missing ones. */
async function checkZoo(o: Table1Options): Promise<ZooEntry[]> {
  const store = o.zoo ?? folderStore();
  const entries = await zooManifest(store);
  const missing = selectCells(o.tiny, o.cells).map(zooNameOf).filter((n) => !entries.some((e) => e.name === n));
  if (missing.length) {
    throw new UserError(`--pretrained: ${store.where(MANIFEST)} has no entry for ${missing.join(', ')} (shipped: ${entries.map((e) => e.name).join(', ') || 'none'}); train them with --train`);
  }
  return entries;
}

/** `rdpv repro table1`: returns the exit code. */
export async function runTable1(o: Table1Options): Promise<number> {
  const say = o.say ?? ((l: string) => process.stderr.write(l + '\n'));
  const p = plan(o, o.mode === 'pretrained' ? await checkZoo(o) : []);
  const children = o.jobs > 1;
  if (o.only !== undefined) {
    const job = p.grid.jobs.find((j) => j.id === o.only);
    if (!job) throw new UserError(`--only: no job '${o.only}' in the table1 grid (jobs: ${p.grid.jobs.map((j) => j.id).join(', ')})`);
    const notDone = job.deps.filter((d) => !p.store.finished(p.grid.jobs.find((j) => j.id === d)!));
    if (notDone.length) throw new UserError(`--only ${job.id}: its dependencies are not finished: ${notDone.join(', ')}`);
    await initEngine({ backend: o.backend, threads: o.threads ?? 1 });
    return runHere(o, p, job, say);
  }

  const mine = shardJobs(p.grid, o.shard);
  const myCells = p.cells.filter((c) => mine.some((j) => j.cell === c.name));
  mkdirSync(o.results, { recursive: true });
  const logPath = join(o.results, `table1${shardSuffix(o.shard)}.log.jsonl`);
  const shard = o.shard ? shardName(o.shard) : null;
  const log = (e: Record<string, unknown>) => appendFileSync(logPath, JSON.stringify({ time: new Date().toISOString(), shard, ...e }) + '\n');
  log({ event: 'begin', mode: o.mode, tiny: o.tiny, jobs: mine.map((j) => j.id), runs: o.runs, samples: o.settings.samples, dither_seeds: o.settings.ditherSeeds, judge_steps: o.settings.judgeSteps, ot_bound: o.settings.otBound ?? 0 });
  say(`[repro] table1${o.tiny ? ' (tiny)' : ''}${shard ? ` shard ${shard}` : ''}: ${mine.length} of ${p.grid.jobs.length} jobs (${myCells.map((c) => c.name).join(', ') || 'no cells'}), ${o.jobs} at a time; runs in ${o.runs}`);
  if (!children) await initEngine({ backend: o.backend, threads: o.threads ?? 1 });

  const onSignal = (s: NodeJS.Signals) => {
    say(`[repro] ${s}: passing it to ${signalChildren(s)} running job(s); they save their checkpoints`);
  };
  if (children) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let report;
  try {
    report = await runGrid(p.grid, mine, {
      jobs: o.jobs, store: p.store, pollMs: o.pollMs, say, log,
      execute: (job) => (children ? runChild(o, job) : runHere(o, p, job, (l) => say(`[${job.id}] ${l}`))),
      elsewhere: (id) => {
        const s = o.shard && shardOfJob(p.grid, id, o.shard.count);
        return s ? `job of shard ${shardName(s)}` : 'job of another run';
      },
    });
  } finally {
    if (children) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  const table = buildTable1(o, p, myCells);
  const files = writeTable1(o.results, table, myCells, o.shard);
  log({ event: 'table', files, cells: table.cells.length, missing: table.missing });
  console.log(`table1${shard ? ` shard ${shard}` : ''}: ${table.cells.length}/${myCells.length} cells; ${report.ran.length} job(s) run, ${report.skipped.length} already finished` +
    `${report.failed.length ? `, ${report.failed.length} failed (${report.failed.map((f) => f.id).join(', ')})` : ''}${report.blocked.length ? `, ${report.blocked.length} not run (${report.blocked.join(', ')})` : ''}; ${files.join(', ')}`);
  if (report.interrupted !== undefined) return report.interrupted;
  return report.failed.length || report.blocked.length || table.missing.length ? 1 : 0;
}

/** The settings every shard of one table must share. */
const tableKey = (t: Table1) => JSON.stringify({ samples: t.samples, seeds: t.dither_seeds, judge: t.judge_steps, ot: t.ot_bound ?? 0, mode: t.mode, tiny: t.tiny, source: t.source });

/**
 * `rdpv repro merge`: the shards' table1.shard-i-of-n.json (files, or folders holding them) joined
 * into the table one run gives (cells in table order), written as table1.json and table1.md.
 */
export function mergeTable1(inputs: string[], results: string): { table: Table1; files: string[] } {
  const paths = inputs.flatMap((p) => {
    if (!existsSync(p)) throw new UserError(`merge: '${p}' does not exist`);
    if (!statSync(p).isDirectory()) return [p];
    const found = readdirSync(p).filter((f) => /^table1\.shard-\d+-of-\d+\.json$/.test(f)).sort().map((f) => join(p, f));
    if (!found.length) throw new UserError(`merge: '${p}' holds no table1.shard-I-of-N.json`);
    return found;
  });
  const parts = paths.map((p) => {
    const t = readJson<Table1>(p);
    if (t?.table !== 'table1' || !Array.isArray(t.cells)) throw new UserError(`merge: '${p}' is not a table1 JSON file`);
    return { p, t };
  });
  const counts = new Set(parts.map(({ t }) => t.shard?.split('/')[1] ?? 'none'));
  if (counts.size !== 1 || counts.has('none')) throw new UserError(`merge: expected the shards of one run (table1.shard-I-of-N.json, one N), got ${paths.join(', ')}`);
  const n = Number([...counts][0]);
  const seen = new Map<number, string>();
  for (const { p, t } of parts) {
    const i = Number(t.shard!.split('/')[0]);
    if (seen.has(i)) throw new UserError(`merge: shard ${i}/${n} given twice (${seen.get(i)}, ${p})`);
    seen.set(i, p);
    if (tableKey(t) !== tableKey(parts[0]!.t)) throw new UserError(`merge: ${p} was made with other settings than ${parts[0]!.p}`);
  }
  const absent = Array.from({ length: n }, (_, i) => i).filter((i) => !seen.has(i));
  if (absent.length) throw new UserError(`merge: shard(s) ${absent.map((i) => `${i}/${n}`).join(', ')} missing`);
  const first = parts[0]!.t;
  const cells = table1Cells(first.tiny);
  const order = (name: string) => cells.findIndex((c) => c.name === name);
  const table: Table1 = {
    ...first, shard: null,
    cells: parts.flatMap(({ t }) => t.cells).sort((a, b) => order(a.cell) - order(b.cell)),
    missing: parts.flatMap(({ t }) => t.missing).sort((a, b) => order(a) - order(b)),
  };
  return { table, files: writeTable1(results, table, cells, undefined) };
}
