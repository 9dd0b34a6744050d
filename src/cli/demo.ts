import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { movingMnistBatch } from '../data/moving-mnist.ts';
import { previewPng } from '../data/preview.ts';
import { initEngine } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { criticW1 } from '../eval/critic-score.ts';
import { DECODERS } from '../models/decoders.ts';
import { disposeModel, marginalCritic } from '../models/model-file.ts';
import { loadModelArg } from '../models/weights-io.ts';
import { compress, decompress, videoCodec } from '../video/codec.ts';
import { parseFlags } from './args.ts';
import type { Command } from './command.ts';

const HELP = `usage: rdpv demo [--count N] [--seed S] [--out DIR] [--model NAME|FILE]
Compresses the first frame of N MovingMNIST test sequences with the shipped I-frame model into
DIR/demo.rdpv, reads the file back, decodes it with the MMSE and the 0-PLF-FMD decoders (for one
frame the 0-PLF-JD decoder is the 0-PLF-FMD one), prints the size, the distortions and the model
critic's W1 estimates (mean critic score of the source frames minus that of the decoded ones), and
writes DIR/demo.png (rows: source, MMSE, 0-PLF-FMD).`;

const mse = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length;

export default {
  summary: 'compress MovingMNIST frames with the shipped model, decode with every decoder, write a PNG',
  usage: HELP,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, {
      count: { type: 'int', min: 1, max: 1000, default: 8 }, seed: { type: 'int', min: 0, max: 0xffffffff, default: 1 },
      out: { type: 'string', default: join('out', 'demo') }, model: { type: 'string' },
    });
    const { count, seed, out } = values;
    await initEngine();
    const lm = await loadModelArg(values.model);
    const { model } = lm;
    try {
      const source = movingMnistBatch({ split: 'test', seed, frames: 1 }, 0, count).data;
      const file = join(out, 'demo.rdpv');
      await mkdir(out, { recursive: true }).catch((e: Error) => {
        throw new UserError(`cannot create output folder '${out}': ${e.message}`);
      });
      await writeFile(file, compress(lm, source, seed));
      const bytes = new Uint8Array(await readFile(file));
      console.log(`model ${lm.id} (sha256 ${lm.sha256.slice(0, 12)}...): ${count} frames of 64x64 at ${videoCodec(model).rates.join(',')} bits each -> ${file}, ${bytes.length} bytes`);
      const rows = [source];
      const critic = marginalCritic(model, 0);
      const names = videoCodec(model).decoders;
      for (const name of names) {
        const { frames } = decompress(lm, bytes, name);
        rows.push(frames);
        const w1 = critic ? `, W1 estimate ${criticW1(critic, 64, source, frames).toFixed(3)}` : '';
        console.log(`${DECODERS[name].title.padEnd(10)} decoder: per-pixel MSE ${mse(frames, source).toFixed(5)}${w1}`);
      }
      const grid = new Float32Array(rows.length * source.length);
      rows.forEach((r, i) => grid.set(r, i * source.length));
      await writeFile(join(out, 'demo.png'), previewPng({ data: grid, shape: [rows.length, count, 64, 64, 1], labels: new Int32Array(rows.length) }));
      console.log(`wrote ${join(out, 'demo.png')} (rows: source, ${names.map((n) => DECODERS[n].title).join(', ')})`);
      return 0;
    } finally {
      disposeModel(model);
    }
  },
} satisfies Command;
