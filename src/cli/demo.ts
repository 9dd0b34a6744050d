import { join } from 'node:path';
import { movingMnistBatch } from '../data/moving-mnist.ts';
import { PreviewSheet, TILES_PER_ROW } from '../data/preview.ts';
import { initEngine } from '../engine/index.ts';
import { criticW1 } from '../eval/critic-score.ts';
import { DECODERS } from '../models/decoders.ts';
import { disposeModel, marginalCritic } from '../models/model-file.ts';
import { loadModelArg } from '../models/weights-io.ts';
import { compress, decompress, videoCodec } from '../video/codec.ts';
import { optionsHelp, parseFlags, type Flag } from './args.ts';
import type { Command } from './command.ts';
import { ensureFolder, prepareOutputFile, writeOutput } from './output.ts';

const FLAGS = {
  count: { type: 'int', min: 1, max: 1000, default: 8, help: 'MovingMNIST test sequences (their first frames) to compress' },
  seed: { type: 'int', min: 0, max: 0xffffffff, default: 1, help: 'data and dither seed' },
  out: { type: 'string', default: join('out', 'demo'), value: 'DIR', help: 'output folder (created if need be)' },
  model: { type: 'string', value: 'NAME|FILE', help: 'a shipped model (default: the default one) or a weight file' },
} as const satisfies Record<string, Flag>;

const HELP = `usage: rdpv demo [--count N] [--seed S] [--out DIR] [--model NAME|FILE]
Compresses the first frame of N MovingMNIST test sequences with the shipped I-frame model into
DIR/demo.rdpv, reads the file back, decodes it with the MMSE and the 0-PLF-FMD decoders (for one
frame the 0-PLF-JD decoder is the 0-PLF-FMD one), prints the size, the distortions and the model
critic's W1 estimates (mean critic score of the source frames minus that of the decoded ones), and
writes DIR/demo.png (rows: source, MMSE, 0-PLF-FMD; ${TILES_PER_ROW} frames to a row, then the next
${TILES_PER_ROW} below). Files are written to a temporary name, then renamed.
${optionsHelp(FLAGS)}`;

const mse = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
};

/** Frames per critic pass (the W1 estimate is a difference of means, so batches add up exactly). */
const CRITIC_BATCH = 64;

export default {
  summary: 'compress MovingMNIST frames with the shipped model, decode with every decoder, write a PNG',
  usage: HELP,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, FLAGS);
    const { count, seed, out } = values;
    const file = join(out, 'demo.rdpv');
    const png = join(out, 'demo.png');
    ensureFolder(out);
    prepareOutputFile(file);
    prepareOutputFile(png);
    await initEngine();
    const lm = await loadModelArg(values.model);
    const { model } = lm;
    try {
      const source = movingMnistBatch({ split: 'test', seed, frames: 1 }, 0, count).data;
      const bytes = compress(lm, source, seed);
      writeOutput(file, bytes);
      const codec = videoCodec(model);
      console.log(`model ${lm.id} (sha256 ${lm.sha256.slice(0, 12)}...): ${count} frames of 64x64 at ${codec.rates.join(',')} bits each -> ${file}, ${bytes.length} bytes`);
      const rows = [source];
      const critic = marginalCritic(model, 0);
      const frame = 64 * 64;
      for (const name of codec.decoders) {
        const { frames } = decompress(lm, bytes, name);
        rows.push(frames);
        let w1 = 0;
        if (critic) {
          for (let i = 0; i < count; i += CRITIC_BATCH) {
            const n = Math.min(CRITIC_BATCH, count - i);
            w1 += (n / count) * criticW1(critic, 64, source.subarray(i * frame, (i + n) * frame), frames.subarray(i * frame, (i + n) * frame));
          }
        }
        console.log(`${DECODERS[name].title.padEnd(10)} decoder: per-pixel MSE ${mse(frames, source).toFixed(5)}${critic ? `, W1 estimate ${w1.toFixed(3)}` : ''}`);
      }
      const sheet = new PreviewSheet(rows.length, count, 64, 64, { order: 'band' });
      rows.forEach((r, i) => sheet.draw({ data: r, shape: [1, count, 64, 64, 1], labels: new Int32Array(1) }, i));
      writeOutput(png, sheet.png());
      console.log(`wrote ${png} (rows: source, ${codec.decoders.map((n) => DECODERS[n].title).join(', ')})`);
      return 0;
    } finally {
      disposeModel(model);
    }
  },
} satisfies Command;
