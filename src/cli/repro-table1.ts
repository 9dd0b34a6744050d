import { homedir } from 'node:os';
import { join } from 'node:path';
import type { BackendName } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { K8S_COUNT_VAR, parseShard, shardJobs, shardName } from '../repro/grid.ts';
import { selectCells, table1Grid } from '../repro/table1.ts';
import { mergeTable1, runTable1 } from '../repro/table1-run.ts';
import { parseFlags, threadsFlag } from './args.ts';
import type { Command } from './command.ts';

export const DEFAULT_RUNS = join(homedir(), '.cache', 'rdp-video', 'runs');

const USAGE = `usage: rdpv repro table1 [--train | --pretrained] [--jobs N] [--shard i/n|slurm|k8s] [--runs DIR] [--results DIR]
                         [--samples N] [--dither-seeds K] [--judge-steps N] [--ot-bound N] [--tiny] [--backend wasm|cpu] [--threads N] [--replicas S] [--poll S] [--cells R1-R2,...] [--only JOB] [--list]
       rdpv repro merge DIR|FILE... [--results DIR]
table1: trains (--train, the default) or loads from the zoo (--pretrained) the models behind the paper's
Table 1 (a: R1 = inf, R2 in 1, 2, 3.17; b: R1 = 12, R2 in 4, 8, 12, inf), scores each cell's P-frame on
the MovingMNIST test split (--samples sequences, default 1024; dither seeds 1..K, default 5; with
--judge-steps N also a fresh judge critic per decoder; with --ot-bound N, Theorem 3.2's optimum
D_MMSE + W2^2 by exact assignment on N sequences beside the learned 0-PLF-FMD decoder, and the
assignment decoder) and writes DIR/table1.json, table1.md and a
JSON-lines log table1.log.jsonl (--results, default results/). Jobs: one per preset to train (id: the
preset) and one evaluation per cell (id: eval-pframe-R1-R2); finished jobs are not redone, an
interrupted training resumes from its checkpoint. Models go to --runs (default ~/.cache/rdp-video/runs).
--jobs N runs N independent jobs side by side as child processes; --replicas S trains each on S
data-parallel replicas (rdpv train --replicas: its results are bit-identical for a given S); --threads N
(default every core, at most 8) gives each of the --jobs processes N/J wasm threads and each replica a share of those. --shard i/n runs the i-th of n
slices of the cells (whole cells with the training they first need); 'slurm' reads
SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, 'k8s' JOB_COMPLETION_INDEX/${K8S_COUNT_VAR}. A job whose
dependency belongs to another shard waits for its model file in the shared --runs folder (polling every
--poll seconds, default 10). A shard writes table1.shard-i-of-n.json/.md; 'merge' joins them. --tiny:
the tiny presets (cells inf-2, 12-12, 12-inf), for tests. --cells 12-12,inf-2 trains and evaluates those
cells only (a partial table; with --pretrained only their models must be shipped). --only JOB runs one job here. --list prints
the jobs and exits. See docs/repro.md.`;

/** `rdpv repro table1` and `rdpv repro merge` (the target name is args[0]). */
export const table1: Command = {
  summary: "the paper's Table 1 (train or load, evaluate, tabulate) as a grid of jobs that shards over a cluster; merge joins shards",
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, {
      train: { type: 'boolean' }, pretrained: { type: 'boolean' }, jobs: { type: 'int', min: 1, max: 64, default: 1 }, shard: { type: 'string' },
      runs: { type: 'string', default: DEFAULT_RUNS }, results: { type: 'string', default: 'results' },
      samples: { type: 'int', min: 1, max: 1 << 20, default: 1024 }, 'dither-seeds': { type: 'int', min: 1, max: 100, default: 5 },
      'judge-steps': { type: 'int', min: 0, default: 0 }, 'ot-bound': { type: 'int', min: 0, max: 1 << 16, default: 0 }, tiny: { type: 'boolean' }, backend: { type: 'choice', choices: ['wasm', 'cpu'], default: 'wasm' },
      replicas: { type: 'int', min: 1, max: 64, default: 1 }, threads: threadsFlag,
      poll: { type: 'number', min: 0.01, max: 3600, default: 10 }, only: { type: 'string' }, list: { type: 'boolean' }, cells: { type: 'string' },
    }, true);
    const [what, ...rest] = positionals;
    if (what === 'merge') {
      if (rest.length === 0) throw new UserError('merge needs the shards\' results folders or table1.shard-I-of-N.json files');
      const { table, files } = mergeTable1(rest, values.results);
      console.log(`table1: merged ${table.cells.length} cells${table.missing.length ? ` (${table.missing.length} missing: ${table.missing.join(', ')})` : ''}; ${files.join(', ')}`);
      return table.missing.length ? 1 : 0;
    }
    if (what !== 'table1') throw new UserError(`unknown target '${what}'`);
    if (rest.length) throw new UserError(`unexpected argument '${rest[0]}'`);
    if (values['ot-bound'] === 1) throw new UserError('--ot-bound: N must be 0 (none) or at least 2');
    if (values.train && values.pretrained) throw new UserError('--train and --pretrained exclude each other');
    if (values.pretrained && values.replicas > 1) throw new UserError('--replicas applies to --train (--pretrained trains nothing)');
    const shard = values.shard === undefined ? undefined : parseShard(values.shard);
    const mode = values.pretrained ? 'pretrained' : 'train';
    const cells = values.cells?.split(',');
    if (values.list) {
      const grid = table1Grid(selectCells(values.tiny, cells), mode === 'pretrained');
      const mine = new Set(shardJobs(grid, shard).map((j) => j.id));
      for (const j of grid.jobs) if (mine.has(j.id)) console.log(`${j.id.padEnd(34)} ${j.kind.padEnd(5)} cell ${j.cell.padEnd(22)} after ${j.deps.join(', ') || '-'}`);
      if (shard && mine.size === 0) console.log(`(shard ${shardName(shard)} has no jobs: the grid has ${grid.cells.length} cells)`);
      return 0;
    }
    return runTable1({
      mode, tiny: values.tiny, jobs: values.jobs, shard, runs: values.runs, results: values.results, backend: values.backend as BackendName,
      replicas: values.replicas, threads: values.threads, pollMs: values.poll * 1000, only: values.only, ...(cells ? { cells } : {}),
      settings: { samples: values.samples, ditherSeeds: values['dither-seeds'], judgeSteps: values['judge-steps'], batch: 64, otBound: values['ot-bound'] },
    });
  },
};
