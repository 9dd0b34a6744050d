import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { loadKth } from '../data/kth.ts';
import { MOTION_MODES, movingMnistBatch } from '../data/moving-mnist.ts';
import { previewGif, previewPng } from '../data/preview.ts';
import type { VideoBatch } from '../data/types.ts';
import { UserError } from '../errors.ts';
import { parseFlags } from './args.ts';
import type { Command } from './command.ts';

const USAGE = `usage:
  rdpv data preview [--dataset moving-mnist|kth] [--kth-dir D] [--kth-cache D] [--actions a,b]
                    [--mode paper|bounce] [--digits N] [--split train|test] [--seed S]
                    [--count 8] [--frames 3] -o out.png|out.gif
  rdpv data bench [--mode paper|bounce] [--sequences 1000] [--frames 20]`;

async function preview(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    dataset: { type: 'choice', choices: ['moving-mnist', 'kth'], default: 'moving-mnist' },
    'kth-dir': { type: 'string' },
    'kth-cache': { type: 'string' },
    actions: { type: 'string' },
    mode: { type: 'choice', choices: MOTION_MODES, default: 'paper' },
    digits: { type: 'int', min: 1, max: 8, default: 1 },
    split: { type: 'choice', choices: ['train', 'test'], default: 'train' },
    seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 0 },
    count: { type: 'int', min: 1, max: 256, default: 8 },
    frames: { type: 'int', min: 1, max: 1000, default: 3 },
    output: { type: 'string', short: 'o' },
  });
  const { dataset, mode, digits, split, seed, count, frames, output: out } = values;
  if (!out) throw new UserError('missing -o/--output (a .png or .gif file)');
  const format = extname(out).toLowerCase();
  if (format !== '.png' && format !== '.gif') throw new UserError(`-o must end in .png or .gif, got '${out}'`);

  let batch: VideoBatch;
  if (dataset === 'kth') {
    const dir = values['kth-dir'];
    if (!dir) throw new UserError('--dataset kth needs --kth-dir (the folder of KTH .avi files)');
    const actions = values.actions?.split(',').map((a) => a.trim());
    const kth = await loadKth(dir, { split, frames, seed, actions, cacheDir: values['kth-cache'] });
    batch = kth.batch(0, count);
  } else {
    batch = movingMnistBatch({ split, seed, frames, mode, digits }, 0, count);
  }
  const bytes = format === '.png' ? previewPng(batch) : previewGif(batch);
  await writeFile(out, bytes).catch((e: Error) => {
    throw new UserError(`cannot write ${out}: ${e.message}`);
  });
  console.log(`wrote ${out} (${count} sequences x ${frames} frames, labels ${Array.from(batch.labels).join(' ')})`);
  return 0;
}

/** Measures MovingMNIST generation speed (the requirement is >= 10,000 frames/s). */
async function bench(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    mode: { type: 'choice', choices: MOTION_MODES, default: 'paper' },
    sequences: { type: 'int', min: 1, max: 100_000, default: 1000 },
    frames: { type: 'int', min: 1, max: 1000, default: 20 },
  });
  const { mode, sequences, frames } = values;
  const opts = { split: 'train' as const, seed: 0, frames, mode };
  movingMnistBatch(opts, 0, 1); // load and index MNIST outside the timed part
  const chunk = 64;
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
