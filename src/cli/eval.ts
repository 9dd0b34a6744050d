import { initEngine } from '../engine/index.ts';
import { readRdpv } from '../codec/container.ts';
import { cutGroups, readFrames } from '../data/frames-io.ts';
import { kthSource, movingMnistSource } from '../data/source.ts';
import { UserError } from '../errors.ts';
import { compressAiJson, evalProgress, evaluate, type Stat } from '../eval/evaluate.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import { disposeModel } from '../models/model-file.ts';
import { loadModelArg, loadModelForFile, readFileOrFail } from '../models/weights-io.ts';
import { decompress, videoCodec } from '../video/codec.ts';
import { backendFlag, optionsHelp, parseFlags, threadsFlag, type Flag } from './args.ts';
import type { Command } from './command.ts';
import { prepareOutputFile, progress, writeOutput } from './output.ts';

const FLAGS = {
  model: { type: 'string', value: 'NAME|FILE', help: 'a shipped model (default: the default one) or a weight file' },
  samples: { type: 'int', min: 1, max: 1 << 20, default: 1024, help: 'sequences scored' },
  'dither-seeds': { type: 'int', min: 1, max: 100, default: 3, value: 'K', help: 'dither seeds 1..K (each another file dither)' },
  'judge-steps': { type: 'int', min: 0, max: 1_000_000, default: 0, help: 'steps of a fresh judge critic per decoder, frame and seed (0: none)' },
  'joint-judge-widths': { type: 'string', value: 'W,W,...', help: "with --judge-steps: the joint judges' channel widths (default: the model critic's; e.g. 64,128,256,512, wide enough to see whether a digit keeps its identity)" },
  'judge-frame': { type: 'int', min: 1, max: 64, value: 'T', help: 'with --judge-steps: judge frame T only (e.g. 2, the P-frame of a Table 1 cell; default every frame)' },
  seed: { type: 'int', min: 0, max: 0xffffffff, default: 1, help: 'the data seed (and the judge seed, plus 1000)' },
  split: { type: 'choice', choices: ['test', 'train'], default: 'test', help: 'the split scored' },
  first: { type: 'int', min: 0, max: 2 ** 31 - 1, default: 0, help: 'index of the first sequence (with --split train: far past what training reads)' },
  batch: { type: 'int', min: 1, max: 1024, default: 64, help: 'sequences per batch (memory; results do not depend on it)' },
  dataset: { type: 'choice', choices: ['moving-mnist', 'kth'], default: 'moving-mnist', help: 'the frames scored' },
  'kth-dir': { type: 'string', value: 'DIR', help: 'with --dataset kth: a folder of the original KTH AVIs (test split: persons 21-25)' },
  input: { type: 'string', value: 'FILE.rdpv', help: 'score a compressed file instead: each decoder against --source, per frame of the GOP' },
  source: { type: 'string', value: 'INPUT', help: 'with --input: what was encoded (any rdpv encode INPUT)' },
  json: { type: 'boolean', help: 'print a CompressAI-style results file' },
  threads: threadsFlag,
  backend: backendFlag,
  out: { type: 'string', short: 'o', value: 'FILE', help: 'also write the CompressAI-style results to FILE (atomically; its folder is created if need be)' },
} as const satisfies Record<string, Flag>;

const USAGE = `usage: rdpv eval [--model NAME|FILE] [--dataset moving-mnist|kth --kth-dir D] [--samples N] [--dither-seeds K] [--judge-steps N [--judge-frame T] [--joint-judge-widths W,...]] [--seed S] [--split test|train --first I] [--json] [-o FILE.json] [--threads N] [--backend wasm|cpu|webgpu]
       rdpv eval --input FILE.rdpv --source INPUT [--model NAME|FILE] [--json]
Scores a model (a shipped one by name, default the default one, or a weight file) on the
MovingMNIST test split (or, to choose settings such as lambda without looking at the test split,
on training sequences from index I on, far past what training reads): each decoder's per-pixel MSE per frame, as mean, min and max over dither
seeds 1..K (each seed is another file dither), and the model critic's W1 estimate where the model
has a critic. --judge-steps N also trains a fresh judge critic per decoder, frame and seed for N
steps (src/eval/judge.ts): a marginal one on the frame and, from frame 2 on, a joint one on frames
1..t (the 0-PLF-JD decoder's criterion). --json prints a CompressAI-style results file.
options:
${optionsHelp(FLAGS)}`;

/** The judge's optimizer: WGAN-GP's recommended Adam settings scaled to short runs (as the training critics). */
const JUDGE_ADAM = { lr: 2e-4, beta1: 0.5, beta2: 0.9 };
const DEFAULT_JUDGE_WIDTHS = [16, 32, 64, 128];

/** `--input F --source S`: each decoder's per-pixel MSE against the source, per frame of the GOP, from the file's bytes. */
async function scoreFile(path: string, sourcePath: string, model: string | undefined, json: boolean, out: string | undefined): Promise<number> {
  const bytes = readFileOrFail(path, '.rdpv file');
  let header;
  try {
    header = readRdpv(bytes).header;
  } catch (e) {
    throw new UserError(`${path}: ${(e as Error).message}`);
  }
  const lm = await loadModelForFile(header, model);
  try {
    const codec = videoCodec(lm.model);
    const T = codec.rates.length;
    const size = header.width;
    const cut = cutGroups(await readFrames(sourcePath, size), T);
    if (cut.groups * T !== header.frameCount) throw new UserError(`--source ${sourcePath} gives ${cut.groups * T} frames in groups of ${T}, the file holds ${header.frameCount}: not the encoded input`);
    const per = size * size;
    const results: Record<string, (number | string)[]> = { frame: codec.rates.map((_, t) => t + 1), rate_bits: [...codec.rates] };
    for (const name of codec.decoders) {
      const { frames } = await decompress(lm, bytes, name);
      results[`${name}_mse`] = codec.rates.map((_, t) => {
        let sum = 0;
        for (let g = 0; g < cut.groups; g++) for (let p = (g * T + t) * per, e = p + per; p < e; p++) sum += (frames[p]! - cut.data[p]!) ** 2;
        return sum / (cut.groups * per);
      });
    }
    const text = JSON.stringify({ name: lm.id, description: `${path} (${cut.groups} groups of ${T}, dither seed ${header.ditherSeed}) against ${sourcePath}; per-pixel MSE on [0, 1] pixels`, results }, null, 2);
    if (out !== undefined) writeOutput(out, new TextEncoder().encode(text + '\n'));
    if (json) console.log(text);
    else for (const name of codec.decoders) console.log(`${DECODERS[name].title.padEnd(10)} MSE per frame ${(results[`${name}_mse`] as number[]).map((v) => v.toFixed(5)).join(', ')}`);
    return 0;
  } finally {
    disposeModel(lm.model);
  }
}

const show = (s: Stat, digits: number) => `${s.mean.toFixed(digits)} [${s.min.toFixed(digits)}, ${s.max.toFixed(digits)}]`;

export default {
  summary: 'score a model on the test split: MSE per decoder and frame over dither seeds, critic W1',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, FLAGS);
    if (values.out !== undefined) prepareOutputFile(values.out);
    if ((values.input === undefined) !== (values.source === undefined)) throw new UserError('--input and --source go together: the file and what was encoded into it');
    if ((values.dataset === 'kth') !== (values['kth-dir'] !== undefined)) throw new UserError('--dataset kth needs --kth-dir DIR, and --kth-dir applies to --dataset kth only');
    await initEngine({ backend: values.backend, threads: values.threads });
    if (values.input !== undefined) return scoreFile(values.input, values.source!, values.model, values.json, values.out);
    const lm = await loadModelArg(values.model);
    try {
      const T = videoCodec(lm.model).rates.length;
      const source = values.dataset === 'kth' ? await kthSource(values['kth-dir']!, { frames: T, seed: values.seed }) : movingMnistSource({ seed: values.seed });
      const seeds = Array.from({ length: values['dither-seeds'] }, (_, i) => i + 1);
      const judgeFrame = values['judge-frame'];
      if (judgeFrame !== undefined && (values['judge-steps'] === 0 || judgeFrame > T)) throw new UserError(`--judge-frame ${judgeFrame}: ${values['judge-steps'] === 0 ? 'needs --judge-steps N' : `the model's groups have ${T} frame${T === 1 ? '' : 's'}`}`);
      const critic = lm.model.config.critic ?? { widths: DEFAULT_JUDGE_WIDTHS, spectralNorm: true };
      const jointWidths = values['joint-judge-widths']?.split(',').map((w) => {
        if (!/^\s*[1-9]\d{0,3}\s*$/.test(w)) throw new UserError(`--joint-judge-widths: '${w}' is not a channel count (1-9999)`);
        return Number(w);
      });
      // On a terminal the line is rewritten in place; otherwise one every 30 s, and each seed's end.
      const bar = progress();
      const report = evalProgress(seeds.length, (line, last) => (last ? (bar.done(), console.error(line)) : bar.say(line)), process.stderr.isTTY ? 0 : 30_000);
      const result = await evaluate(lm.model, source, {
        samples: values.samples, split: values.split, first: values.first, ditherSeeds: seeds, batch: values.batch,
        ...(values['judge-steps'] > 0 ? { judge: { ...critic, ...(jointWidths ? { jointWidths } : {}), steps: values['judge-steps'], batch: 32, seed: 1000 + values.seed, optimizer: JUDGE_ADAM } } : {}),
        ...(judgeFrame !== undefined ? { judgeFrames: [judgeFrame] } : {}),
        ...report,
      });
      const json = JSON.stringify(compressAiJson(result, lm.id, lm.sha256), null, 2);
      if (values.out !== undefined) writeOutput(values.out, new TextEncoder().encode(json + '\n'));
      if (values.json) {
        console.log(json);
        return 0;
      }
      console.log(`${lm.id} (sha256 ${lm.sha256.slice(0, 12)}...) on ${result.source}, ${result.split} split, ${result.samples} sequences from ${result.first}, dither seeds ${seeds.join(',')}: mean [min, max]`);
      for (const f of result.frames) {
        for (const [name, s] of Object.entries(f.decoders)) {
          const extra = [s.critic_w1 && `critic W1 ${show(s.critic_w1, 3)}`, s.judge_w1 && `judge W1 ${show(s.judge_w1, 3)}`, s.judge_joint_w1 && `joint judge W1 (frames 1-${f.frame}) ${show(s.judge_joint_w1, 3)}`].filter(Boolean).join(', ');
          console.log(`frame ${f.frame} (${f.rate} bits) ${DECODERS[name as DecoderName].title.padEnd(10)} MSE ${show(s.mse, 5)}${extra ? `, ${extra}` : ''}`);
        }
      }
      return 0;
    } finally {
      disposeModel(lm.model);
    }
  },
} satisfies Command;
