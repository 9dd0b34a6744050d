import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { movingMnistBatch } from '../data/moving-mnist.ts';
import { previewPng } from '../data/preview.ts';
import { initEngine } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { compressIFrames, criticW1, decompressIFrames, disposeIFrameModel, type IFrameDecoderName } from '../models/compress.ts';
import { loadZooModel } from '../models/zoo.ts';
import { numberFlag, parseFlags } from './args.ts';
import type { Command } from './commands.ts';

const HELP = `usage: rdpv demo [--count N] [--seed S] [--out DIR] [--model NAME]
Compresses the first frame of N MovingMNIST test sequences with the shipped I-frame model into
DIR/demo.rdpv, reads the file back, decodes it with the MMSE and the perception (0-PLF-FMD)
decoders, prints the size, the distortions and the model critic's W1 estimates (mean critic score
of the source frames minus that of the decoded ones), and writes DIR/demo.png (rows: source,
MMSE, perception).`;

const mse = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length;

export default {
  summary: 'compress MovingMNIST frames with the shipped model, decode with every decoder, write a PNG',
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, {
      count: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const count = numberFlag('count', values.count, 8, 1, 1000);
    const seed = numberFlag('seed', values.seed, 1, 0, 0xffffffff);
    if (!Number.isInteger(count) || !Number.isInteger(seed)) throw new UserError('--count and --seed must be integers');
    const out = values.out ?? join('out', 'demo');
    await initEngine();
    const model = loadZooModel(values.model);
    try {
      const source = movingMnistBatch({ split: 'test', seed, frames: 1 }, 0, count).data;
      const file = join(out, 'demo.rdpv');
      await mkdir(out, { recursive: true }).catch((e: Error) => {
        throw new UserError(`cannot create output folder '${out}': ${e.message}`);
      });
      await writeFile(file, compressIFrames(model, source, seed));
      const bytes = new Uint8Array(await readFile(file));
      console.log(`model ${model.id} (sha256 ${model.sha256.slice(0, 12)}...): ${count} frames of 64x64 at ${model.rate} bits each -> ${file}, ${bytes.length} bytes`);
      const rows = [source];
      for (const name of Object.keys(model.decoders) as IFrameDecoderName[]) {
        const { frames } = decompressIFrames(model, bytes, name);
        rows.push(frames);
        const w1 = model.critic ? `, W1 estimate ${criticW1(model, source, frames).toFixed(3)}` : '';
        console.log(`${name.padEnd(10)} decoder: per-pixel MSE ${mse(frames, source).toFixed(5)}${w1}`);
      }
      const grid = new Float32Array(rows.length * source.length);
      rows.forEach((r, i) => grid.set(r, i * source.length));
      await writeFile(join(out, 'demo.png'), previewPng({ data: grid, shape: [rows.length, count, 64, 64, 1], labels: new Int32Array(rows.length) }));
      console.log(`wrote ${join(out, 'demo.png')} (rows: source, ${Object.keys(model.decoders).join(', ')})`);
      return 0;
    } finally {
      disposeIFrameModel(model);
    }
  },
} satisfies Command;
