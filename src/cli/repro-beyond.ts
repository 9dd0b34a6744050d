import { UserError } from '../errors.ts';
import { permanenceModels, runPermanence, type ModelChoice } from '../repro/permanence-run.ts';
import { runTradeoff } from '../repro/tradeoff.ts';
import { presets } from '../train/presets.ts';
import { givenFlags, numberFlag, optionsHelp, parseFlags, threadsFlag, type Flag } from './args.ts';
import type { Command } from './command.ts';
import { DEFAULT_RUNS } from './repro-table1.ts';

/** The values of a flag given several times (`--model a --model b,c`): parseFlags keeps only the last. */
function repeated(args: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const a = args[i]!;
    const v = a === `--${name}` ? args[++i] : a.startsWith(`--${name}=`) ? a.slice(name.length + 3) : undefined;
    if (v !== undefined) out.push(...v.split(',').map((s) => s.trim()).filter(Boolean));
  }
  return out;
}

/** The target is args[0]; nothing else may stand alone. */
function onlyTarget(positionals: string[], target: string): void {
  if (positionals[0] !== target) throw new UserError(`unknown target '${positionals[0]}'`);
  if (positionals.length > 1) throw new UserError(`unexpected argument '${positionals[1]}'`);
}

const PERMANENCE_FLAGS = {
  model: { type: 'string', value: 'FILE|NAME', help: 'a model to read (a weight file or a shipped name); repeatable, or a comma list' },
  pretrained: { type: 'boolean', help: 'the shipped GOP-3 models pframe-12-R2-R3 (a missing one is named)' },
  runs: { type: 'string', value: 'DIR', help: `the finished pframe-12-R2-R3-perception runs in DIR (the default source; default ${DEFAULT_RUNS})` },
  tiny: { type: 'boolean', help: 'with --runs or --pretrained: the tiny-pframe-12-R2-R3 presets (tests)' },
  samples: { type: 'int', min: 1, max: 1 << 20, default: 1000, help: 'sequences read (test, or held-out with --held-out)' },
  'dither-seeds': { type: 'int', min: 1, max: 100, default: 3, value: 'K', help: 'dither seeds 1..K (each another encoding; the counts pool over them)' },
  'held-out': { type: 'int', min: 0, max: 2 ** 31 - 1, value: 'I', help: 'read training sequences from index I (far past what training reads, e.g. 4194304) instead of the test split, to choose settings by; writes permanence-heldout.*' },
  results: { type: 'string', value: 'DIR', default: 'results', help: 'where permanence.json, .md, .svg and .png go' },
  threads: threadsFlag,
} as const satisfies Record<string, Flag>;

/** `rdpv repro permanence`. */
export const permanence: Command = {
  summary: 'error permanence measured: a digit classifier reads every frame each decoder reconstructs from GOP-3 models',
  usage: `usage: rdpv repro permanence [--model FILE|NAME ... | --pretrained | --runs DIR] [--tiny] [--samples N] [--dither-seeds K] [--held-out I] [--results DIR] [--threads N]
permanence: the shipped digit classifier reads every frame of every decoder of GOP-3 models (R1 = 12 bits,
the Figure 3 rates) on MovingMNIST test sequences; per model, decoder and frame, how often the digit is wrong,
and how often a wrong frame 1 is still wrong (and the same wrong digit) in frames 2 and 3: the paper says
0-PLF-JD keeps the error and 0-PLF-FMD corrects it. Writes DIR/permanence.json, permanence.md and a bar
chart permanence.svg/.png (--results, default results/). See docs/results/beyond.md.
options:
${optionsHelp(PERMANENCE_FLAGS)}`,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, PERMANENCE_FLAGS, true);
    onlyTarget(positionals, 'permanence');
    const given = givenFlags(args, PERMANENCE_FLAGS);
    const specs = repeated(args, 'model');
    const sources = [specs.length > 0 && '--model', values.pretrained && '--pretrained', given.has('runs') && '--runs'].filter(Boolean);
    if (sources.length > 1) throw new UserError(`${sources.join(' and ')} exclude each other: the models come from one of them`);
    if (values.tiny && specs.length > 0) throw new UserError('--tiny picks the tiny presets of --runs or --pretrained; --model names its models');
    const choice: ModelChoice = specs.length ? { kind: 'files', specs } : values.pretrained ? { kind: 'pretrained' } : { kind: 'runs', runs: values.runs ?? DEFAULT_RUNS };
    const { models, missing } = await permanenceModels(choice, values.tiny);
    const { table, files } = await runPermanence({ models, missing, samples: values.samples, ditherSeeds: values['dither-seeds'], results: values.results, threads: values.threads, ...(values['held-out'] === undefined ? {} : { heldOut: values['held-out'] }) });
    console.log(`permanence: ${table.models.length} model(s)${missing.length ? ` (not trained: ${missing.join(', ')})` : ''}; ${files.join(', ')}`);
    return missing.length ? 1 : 0;
  },
};

const DEFAULT_LAMBDAS = '0,0.02,0.05,0.1,0.2';
/** --tiny: a smoke test on the tiny I-frame (seconds). */
const TINY = { preset: 'tiny-perception', samples: 16, ditherSeeds: 1, otBound: 16 };

const TRADEOFF_FLAGS = {
  preset: { type: 'string', value: 'NAME', help: 'a perception preset: its settings for every run (default iframe-cpu-perception; with --tiny tiny-perception)' },
  lambdas: { type: 'string', value: 'X,Y,...', default: DEFAULT_LAMBDAS, help: 'the perception weights, one stage-2 run each' },
  from: { type: 'string', value: 'zoo:NAME|PRESET', help: "the shared stage-1 model: a shipped one, or a preset's run in --runs, trained there when missing (default: the preset's from)" },
  runs: { type: 'string', value: 'DIR', default: DEFAULT_RUNS, help: 'one folder per job: <preset>-lambda-<x>, eval-<preset>-lambda-<x>, ot-bound-<stage 1>' },
  results: { type: 'string', value: 'DIR', default: 'results', help: 'where tradeoff-<preset>.json, .md, .svg, .png and .log.jsonl go' },
  steps: { type: 'int', min: 1, max: 10_000_000, help: "stage-2 steps of every run instead of the preset's (runs <preset>-lambda-<x>-steps-<n>, without their own closing judge)" },
  samples: { type: 'int', min: 1, max: 1 << 20, help: 'test sequences scored per run (default 1024; --tiny 16)' },
  'dither-seeds': { type: 'int', min: 1, max: 100, value: 'K', help: 'dither seeds 1..K (default 2; --tiny 1)' },
  'judge-steps': { type: 'int', min: 1, max: 1_000_000, help: "steps of the fresh judge critic per decoder and seed (default: the preset's judge steps)" },
  'ot-bound': { type: 'int', min: 0, max: 1 << 16, value: 'N', help: 'the 0-PLF point: Theorem 3.2 by exact assignment on N sequences (default 1000; --tiny 16; 0: none)' },
  'held-out': { type: 'int', min: 0, max: 2 ** 31 - 1, value: 'I', help: 'score training sequences from index I (far past what training reads, e.g. 4194304) instead of the test split, to choose lambda by; writes tradeoff-<preset>-heldout.*, no bound' },
  tiny: { type: 'boolean', help: 'a smoke test: tiny-perception and small defaults' },
  threads: threadsFlag,
} as const satisfies Record<string, Flag>;

/** `rdpv repro tradeoff`. */
export const tradeoff: Command = {
  summary: "the distortion-perception tradeoff of one representation: a sweep of stage-2 perception weights on one stage-1 model",
  usage: `usage: rdpv repro tradeoff [--preset NAME] [--lambdas X,Y,...] [--from zoo:NAME|PRESET] [--runs DIR] [--results DIR]
                         [--steps N] [--samples N] [--dither-seeds K] [--judge-steps N] [--ot-bound N] [--held-out I] [--tiny] [--threads N]
tradeoff: trains one stage-2 run per lambda (the preset's settings, encoder frozen) from one shared stage-1
model into --runs/<preset>-lambda-<x> (resumed from a checkpoint, skipped when finished), scores each on the
MovingMNIST test split (MSE and a fresh judge's W1) and writes tradeoff-<preset>.json/.md and a chart of MSE
against judge W1 (.svg/.png) with the MMSE point and the 0-PLF optimum of Theorem 3.2 marked. The lambdas
are fixed up front: nothing is chosen by a test score. With --held-out I the same runs are scored on held-out
training sequences instead: the table to choose a preset's lambda by (by the judge's W1, not the test MSE).
See docs/results/beyond.md.
options:
${optionsHelp(TRADEOFF_FLAGS)}`,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, TRADEOFF_FLAGS, true);
    onlyTarget(positionals, 'tradeoff');
    const lambdas = values.lambdas.split(',').map((s) => numberFlag('lambdas', s, NaN, 0));
    const dup = lambdas.find((x, i) => lambdas.indexOf(x) !== i);
    if (dup !== undefined) throw new UserError(`--lambdas: ${dup} is given twice`);
    const preset = values.preset ?? (values.tiny ? TINY.preset : 'iframe-cpu-perception');
    const otBound = values['ot-bound'] ?? (values.tiny ? TINY.otBound : 1000);
    if (otBound === 1) throw new UserError('--ot-bound: N must be 0 (no bound) or at least 2');
    const judgeSteps = values['judge-steps'] ?? presets[preset]?.judgeSteps;
    const { code } = await runTradeoff({
      preset, lambdas, from: values.from, runs: values.runs, results: values.results, threads: values.threads, steps: values.steps,
      samples: values.samples ?? (values.tiny ? TINY.samples : 1024), ditherSeeds: values['dither-seeds'] ?? (values.tiny ? TINY.ditherSeeds : 2),
      judgeSteps: judgeSteps || 500, otBound, ...(values['held-out'] === undefined ? {} : { heldOut: values['held-out'] }),
    });
    return code;
  },
};
