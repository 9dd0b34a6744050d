import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { loadKth } from '../data/kth.ts';
import { MOTION_MODES, movingMnistBatch, type MotionMode } from '../data/moving-mnist.ts';
import { previewGif, previewPng } from '../data/preview.ts';
import type { Split, VideoBatch } from '../data/types.ts';
import { UserError } from '../errors.ts';
import { numberFlag, parseFlags } from './args.ts';
import type { Command } from './commands.ts';

const USAGE = `usage:
  rdpv data preview [--dataset moving-mnist|kth] [--kth-dir D] [--kth-cache D] [--actions a,b]
                    [--mode paper|bounce] [--digits N] [--split train|test] [--seed S]
                    [--count 8] [--frames 3] -o out.png|out.gif
  rdpv data bench [--mode paper|bounce] [--sequences 1000] [--frames 20]`;

function choice<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw new UserError(`--${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

const intFlag = (name: string, value: string | undefined, fallback: number, min: number, max = 2 ** 31 - 1) => {
  const n = numberFlag(name, value, fallback, min, max);
  if (!Number.isInteger(n)) throw new UserError(`--${name} must be an integer, got '${value}'`);
  return n;
};

async function preview(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    dataset: { type: 'string' },
    'kth-dir': { type: 'string' },
    'kth-cache': { type: 'string' },
    actions: { type: 'string' },
    mode: { type: 'string' },
    digits: { type: 'string' },
    split: { type: 'string' },
    seed: { type: 'string' },
    count: { type: 'string' },
    frames: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  const out = values.output;
  if (!out) throw new UserError('missing -o/--output (a .png or .gif file)');
  const format = extname(out).toLowerCase();
  if (format !== '.png' && format !== '.gif') throw new UserError(`-o must end in .png or .gif, got '${out}'`);
  const dataset = choice('dataset', values.dataset, ['moving-mnist', 'kth'], 'moving-mnist');
  const split = choice<Split>('split', values.split, ['train', 'test'], 'train');
  const seed = intFlag('seed', values.seed, 0, 0, 2 ** 32 - 1);
  const count = intFlag('count', values.count, 8, 1, 256);
  const frames = intFlag('frames', values.frames, 3, 1, 1000);

  let batch: VideoBatch;
  if (dataset === 'kth') {
    const dir = values['kth-dir'];
    if (!dir) throw new UserError('--dataset kth needs --kth-dir (the folder of KTH .avi files)');
    const actions = values.actions?.split(',').map((a) => a.trim());
    const kth = await loadKth(dir, { split, frames, seed, actions, cacheDir: values['kth-cache'] });
    batch = kth.batch(0, count);
  } else {
    const mode = choice<MotionMode>('mode', values.mode, MOTION_MODES, 'paper');
    const digits = intFlag('digits', values.digits, 1, 1, 8);
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
  const { values } = parseFlags(args, { mode: { type: 'string' }, sequences: { type: 'string' }, frames: { type: 'string' } });
  const mode = choice<MotionMode>('mode', values.mode, MOTION_MODES, 'paper');
  const sequences = intFlag('sequences', values.sequences, 1000, 1, 100_000);
  const frames = intFlag('frames', values.frames, 20, 1, 1000);
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
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === 'preview') return preview(rest);
    if (sub === 'bench') return bench(rest);
    if (sub === '--help' || sub === '-h') {
      console.log(USAGE);
      return 0;
    }
    throw new UserError(`${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}: expected preview or bench (see rdpv data --help)`);
  },
} satisfies Command;
