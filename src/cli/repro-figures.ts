import type { BackendName } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { FIG3_PAIRS } from '../repro/fig3.ts';
import { FIG4_ZOO_NAME, figureCells, figureGrid, runFig2, runFig3, runFig4, type FigureOptions } from '../repro/figures-run.ts';
import { givenFlags, parseFlags, threadsFlag, type Flag } from './args.ts';
import type { Command } from './command.ts';
import { DEFAULT_RUNS } from './repro-table1.ts';

const pairs = FIG3_PAIRS.map(([a, b]) => `(${a}, ${b})`).join(', ');

const USAGE = `usage: rdpv repro fig2 [--train | --pretrained | --model FILE] [--tiny] [--runs DIR] [--results DIR] [--samples N] [--rows N] [--seed S] [--backend wasm|cpu] [--threads N] [--list]
       rdpv repro fig3 [--train | --pretrained] [--pairs R2-R3,...] [--tiny] [--runs DIR] [--results DIR] [--samples N] [--dither-seeds K] [--backend wasm|cpu] [--threads N] [--list]
       rdpv repro fig4 --kth-dir DIR (--model FILE | --pretrained) [--results DIR] [--samples N] [--rows N] [--seed S] [--backend wasm|cpu] [--threads N]
fig2: the paper's Figure 2, GOP 3 at R1 = R2 = R3 = 12 bits: ground truth beside the 0-PLF-JD, 0-PLF-FMD and
MMSE reconstructions. Scans --samples MovingMNIST test sequences (default 1024), reads every frame with the
shipped digit classifier and draws the first --rows (default 6) whose I-frame digit it reads wrong (fig2.png),
and as many seeded random ones (--seed, default 1; fig2-random.png); fig2.json/fig2.md hold the rows' reads and
distortions and the error-permanence counts of the whole scan.
fig3: the paper's Figure 3, distortion per frame of 0-PLF-FMD and 0-PLF-JD at R1 = 12 for (R2, R3) in ${pairs}
(--samples test sequences, default 1024; dither seeds 1..K, default 5): fig3.svg and fig3.png (Vega-Lite),
fig3.json and fig3.md, and per pair whether FMD's distortion falls faster than JD's over frames 2-3 (measured);
--pairs 12-12,inf-inf draws those pairs only (a partial figure; with --pretrained only their models must be shipped).
fig4: the paper's Figure 4 on KTH (--kth-dir: the folder of the original AVIs; the test split, persons 21-25):
rows with the largest I-frame error and random rows (fig4.png, fig4-random.png, fig4.json). No KTH model is
trained or shipped yet: give one with --model FILE (--pretrained looks for zoo entry ${FIG4_ZOO_NAME}).
--train (default) trains the figure's GOP-3 presets (pframe-12-R2-R3-mse/-perception) into --runs (default
~/.cache/rdp-video/runs; finished jobs are not redone, an interrupted one resumes) and logs FIG.log.jsonl;
--pretrained loads them from the zoo (pframe-12-R2-R3), one line naming any missing entry; --model FILE draws
that GOP model file (fig2, fig4). Outputs go to --results (default results/). --tiny: the tiny presets (tests).
--threads N: wasm threads (default every core, at most 8; results are bit-identical for any count). --list prints
the jobs (fig2, fig3) and exits.
See docs/repro.md.`;

const SPEC = {
  train: { type: 'boolean' }, pretrained: { type: 'boolean' }, model: { type: 'string' }, tiny: { type: 'boolean' },
  runs: { type: 'string', default: DEFAULT_RUNS }, results: { type: 'string', default: 'results' },
  samples: { type: 'int', min: 1, max: 1 << 20, default: 1024 }, 'dither-seeds': { type: 'int', min: 1, max: 100, default: 5 },
  rows: { type: 'int', min: 1, max: 64, default: 6 }, seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1 },
  'kth-dir': { type: 'string' }, backend: { type: 'choice', choices: ['wasm', 'cpu'], default: 'wasm' }, threads: threadsFlag,
  list: { type: 'boolean' }, pairs: { type: 'string' },
} as const satisfies Record<string, Flag>;

/** The flags that mean nothing to a figure, and why (a given one is refused in one line). */
const NOT_FOR: Record<string, Partial<Record<keyof typeof SPEC, string>>> = {
  fig2: { 'dither-seeds': 'a picture shows one decoding (dither seed 1)', 'kth-dir': 'fig2 is MovingMNIST; fig4 is KTH', pairs: 'fig2 draws GOP 3 at 12 bits per frame' },
  fig3: { model: 'fig3 plots one model per (R2, R3) pair', rows: 'fig3 is a chart', seed: 'fig3 scores test sequences 0..N-1', 'kth-dir': 'fig3 is MovingMNIST' },
  fig4: { tiny: 'there are no KTH presets', runs: 'fig4 trains nothing', 'dither-seeds': 'a picture shows one decoding (dither seed 1)', list: 'fig4 has no jobs', pairs: 'fig4 draws one model' },
};

const RUN = { fig2: runFig2, fig3: runFig3, fig4: runFig4 } as const;

/** `rdpv repro fig2|fig3|fig4` (the target name is args[0]). */
export const figures: Command = {
  summary: "the paper's Figures 2-4: reconstructions where the I-frame is wrong, distortion per frame, the KTH version",
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, SPEC, true);
    const [what, ...rest] = positionals;
    if (what !== 'fig2' && what !== 'fig3' && what !== 'fig4') throw new UserError(`unknown target '${what}'`);
    if (rest.length) throw new UserError(`unexpected argument '${rest[0]}'`);
    const given = givenFlags(args, SPEC);
    for (const [flag, why] of Object.entries(NOT_FOR[what]!)) if (given.has(flag)) throw new UserError(`--${flag} does not apply to ${what}: ${why}`);
    const modes = (['train', 'pretrained', 'model'] as const).filter((m) => given.has(m));
    if (modes.length > 1) throw new UserError(`${modes.map((m) => `--${m}`).join(' and ')} exclude each other`);
    const pairs = values.pairs?.split(',');
    if (values.list) {
      const grid = figureGrid(what, figureCells(what as 'fig2' | 'fig3', values.tiny, pairs), values.pretrained, what === 'fig3');
      for (const j of grid.jobs) console.log(`${j.id.padEnd(34)} ${j.kind.padEnd(5)} cell ${j.cell.padEnd(24)} after ${j.deps.join(', ') || '-'}`);
      return 0;
    }
    const o: FigureOptions = {
      mode: values.pretrained ? 'pretrained' : 'train', tiny: values.tiny, runs: values.runs, results: values.results,
      samples: values.samples, ditherSeeds: values['dither-seeds'], ...(pairs ? { pairs } : {}), rows: values.rows, seed: values.seed, backend: values.backend as BackendName, threads: values.threads,
      ...(values.model !== undefined ? { model: values.model } : {}), ...(values['kth-dir'] !== undefined ? { kthDir: values['kth-dir'] } : {}),
    };
    return RUN[what](o);
  },
};
