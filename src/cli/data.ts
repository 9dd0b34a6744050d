import { extname } from 'node:path';
import { loadKth } from '../data/kth.ts';
import { MOTION_MODES, movingMnistBatch } from '../data/moving-mnist.ts';
import { MAX_PREVIEW_TILES, PreviewAnimation, PreviewSheet, TILES_PER_ROW } from '../data/preview.ts';
import type { VideoBatch } from '../data/types.ts';
import { UserError } from '../errors.ts';
import { givenFlags, optionsHelp, parseFlags, type Flag } from './args.ts';
import type { Command } from './command.ts';
import { prepareOutputFile, writeOutput } from './output.ts';

const PREVIEW_FLAGS = {
  dataset: { type: 'choice', choices: ['moving-mnist', 'kth'], default: 'moving-mnist', help: 'the data set' },
  'kth-dir': { type: 'string', value: 'DIR', help: 'KTH: the folder of the KTH .avi files (needs the system ffmpeg)' },
  'kth-cache': { type: 'string', value: 'DIR', help: 'KTH: where decoded frames are cached (default: .rdpv-cache in the --kth-dir folder)' },
  actions: { type: 'string', value: 'a,b', help: 'KTH: the actions to read (default all six)' },
  mode: { type: 'choice', choices: MOTION_MODES, default: 'paper', help: 'MovingMNIST motion' },
  digits: { type: 'int', min: 1, max: 8, default: 1, help: 'MovingMNIST: digits per sequence' },
  split: { type: 'choice', choices: ['train', 'test'], default: 'train', help: 'which split' },
  seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 0, help: 'the data seed' },
  count: { type: 'int', min: 1, max: 256, default: 8, help: 'sequences' },
  frames: { type: 'int', min: 1, max: 1000, default: 3, help: 'frames per sequence' },
  output: { type: 'string', short: 'o', value: 'FILE', help: 'out.png (a grid) or out.gif (an animation); its folder is created if need be' },
} as const satisfies Record<string, Flag>;

const BENCH_FLAGS = {
  mode: { type: 'choice', choices: MOTION_MODES, default: 'paper', help: 'MovingMNIST motion' },
  sequences: { type: 'int', min: 1, max: 100_000, default: 1000, help: 'sequences to generate' },
  frames: { type: 'int', min: 1, max: 1000, default: 20, help: 'frames per sequence' },
} as const satisfies Record<string, Flag>;

const USAGE = `usage:
  rdpv data preview [options] -o out.png|out.gif
  rdpv data bench [options]

rdpv data preview: draws sequences of a data set. A PNG has a row per sequence and a column per
frame, wrapping every ${TILES_PER_ROW} frames; a GIF shows the sequences side by side (${TILES_PER_ROW} to a row), one
animation frame per video frame. At most ${MAX_PREVIEW_TILES} frames in all (--count x --frames).
${optionsHelp(PREVIEW_FLAGS)}

rdpv data bench: measures MovingMNIST generation speed (frames per second).
${optionsHelp(BENCH_FLAGS)}`;

/** Sequences generated per batch while drawing a preview (memory stays flat in --count). */
const CHUNK = 16;

async function preview(args: string[]): Promise<number> {
  const { values } = parseFlags(args, PREVIEW_FLAGS);
  const { dataset, mode, digits, split, seed, count, frames, output: out } = values;
  if (!out) throw new UserError('missing -o/--output (a .png or .gif file)');
  const format = extname(out).toLowerCase();
  if (format !== '.png' && format !== '.gif') throw new UserError(`-o must end in .png or .gif, got '${out}'`);
  if (dataset !== 'kth') {
    for (const k of ['kth-dir', 'kth-cache', 'actions'] as const) if (values[k] !== undefined) throw new UserError(`--${k} applies to --dataset kth only`);
  } else {
    for (const k of givenFlags(args, PREVIEW_FLAGS)) if (k === 'mode' || k === 'digits') throw new UserError(`--${k} applies to --dataset moving-mnist only`);
  }
  // Before any work: the sizes fit a preview, and the output can be written.
  const canvas = format === '.png' ? new PreviewSheet(count, frames, 64, 64) : new PreviewAnimation(count, frames, 64, 64);
  prepareOutputFile(out);

  let batchAt: (start: number, n: number) => VideoBatch;
  if (dataset === 'kth') {
    const dir = values['kth-dir'];
    if (!dir) throw new UserError('--dataset kth needs --kth-dir (the folder of KTH .avi files)');
    const actions = values.actions?.split(',').map((a) => a.trim());
    const kth = await loadKth(dir, { split, frames, seed, actions, cacheDir: values['kth-cache'] });
    batchAt = (start, n) => kth.batch(start, n);
  } else {
    batchAt = (start, n) => movingMnistBatch({ split, seed, frames, mode, digits }, start, n);
  }
  const labels: number[] = [];
  for (let start = 0; start < count; start += CHUNK) {
    const batch = batchAt(start, Math.min(CHUNK, count - start));
    canvas.draw(batch, start);
    labels.push(...batch.labels);
  }
  writeOutput(out, canvas instanceof PreviewSheet ? canvas.png() : canvas.gif());
  console.log(`wrote ${out} (${count} sequences x ${frames} frames, labels ${labels.join(' ')})`);
  return 0;
}

/** Measures MovingMNIST generation speed (the requirement is >= 10,000 frames/s). */
async function bench(args: string[]): Promise<number> {
  const { values } = parseFlags(args, BENCH_FLAGS);
  const { mode, sequences, frames } = values;
  const opts = { split: 'train' as const, seed: 0, frames, mode };
  movingMnistBatch(opts, 0, 1); // load and index MNIST outside the timed part
  const chunk = Math.max(1, Math.min(64, Math.floor(4096 / frames))); // at most 4096 frames (64 MB) at once
  const t0 = performance.now();
  for (let s = 0; s < sequences; s += chunk) movingMnistBatch(opts, s, Math.min(chunk, sequences - s));
  const seconds = (performance.now() - t0) / 1000;
  const total = sequences * frames;
  console.log(`moving-mnist ${mode}: ${total} frames in ${seconds.toFixed(3)} s = ${Math.round(total / seconds)} frames/s`);
  return 0;
}

export default {
  summary: 'preview data sets (MovingMNIST, KTH) as PNG/GIF; measure generation speed',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === 'preview') return preview(rest);
    if (sub === 'bench') return bench(rest);
    throw new UserError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}: expected preview or bench (see rdpv data --help)`);
  },
} satisfies Command;
