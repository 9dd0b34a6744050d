import { payloadLayout, readRdpv } from '../codec/container.ts';
import { cutGroups, describeChanges, readFrames } from '../data/frames-io.ts';
import { parseRate } from '../codec/rates.ts';
import { initEngine } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { disposeModel } from '../models/model-file.ts';
import { folderStore, loadModelArg } from '../models/weights-io.ts';
import { loadZooModelByRates } from '../models/zoo.ts';
import { compress, gopRates, videoCodec } from '../video/codec.ts';
import { backendFlag, parseFlags } from './args.ts';
import type { Command } from './command.ts';
import { prepareOutputFile, progress, writeOutput } from './output.ts';

const USAGE = `usage: rdpv encode INPUT -o FILE.rdpv [--model NAME|FILE] [--rates R1,R2,..] [--gop N] [--seed S] [--backend wasm|cpu|webgpu]
Compresses a video into an .rdpv file at exactly the model's rate budget.
INPUT: a GIF; an MP4, AVI or WebM (read through the system ffmpeg: apt-get install -y ffmpeg);
a folder of PNG frames (sorted by name, numbers compared as numbers); or a .npy array, float32
in [0, 1] or uint8 (scaled by 1/255), shaped [T, H, W] or [N, T, H, W] (N clips), optionally
with a trailing channel of 1.
Frames are brought to the model's format (64x64 grayscale in [0, 1]): colour to BT.601 luma,
transparency onto black, a centred square crop, then area averaging to the model's size
(bilinear when enlarging); one warning line says what was changed. Frames are cut into groups
of the GOP length; a shorter leftover (per clip) is dropped with a warning.
  -o, --out FILE     the .rdpv file to write (written to a temporary name, then renamed;
                     its folder is created if need be)
  --model NAME|FILE  a shipped model (default: the default one) or a weight file
  --rates R1,R2,..   the rate of each frame of a group (bits, or inf): picks the shipped model
                     for them (one whose group starts with them codes the prefix)
  --gop N            frames per group: the model's GOP length (default) or fewer, which codes
                     the first N frames of its group (a GOP-3 model's first two are a GOP-2 codec)
  --seed S           the shared dither's seed (default 1)
  --backend B        wasm (default), cpu or webgpu (a GPU through WebGPU; in Node through dawn)`;

/** Before any work: the output's folder exists (created if need be) and takes a new file. */
export const checkWritableFile = prepareOutputFile;

export default {
  summary: 'compress a GIF, MP4/AVI/WebM, folder of PNGs or .npy array into an .rdpv file',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, {
      out: { type: 'string', short: 'o' }, model: { type: 'string' }, rates: { type: 'string' }, gop: { type: 'int', min: 1, max: 64 }, seed: { type: 'int', min: 0, max: 0xffffffff, default: 1 }, backend: backendFlag,
    }, true);
    if (positionals.length !== 1) throw new UserError(positionals.length === 0 ? `no INPUT given (${USAGE.split('\n')[0]})` : `one INPUT expected, got ${positionals.length}: ${positionals.join(' ')}`);
    if (values.out === undefined) throw new UserError('no output given: add -o FILE.rdpv');
    const input = positionals[0]!;
    const out = values.out;
    prepareOutputFile(out);
    const rates = values.rates === undefined ? undefined : values.rates.split(',').map(parseRate);
    if (rates && values.gop !== undefined && values.gop !== rates.length) throw new UserError(`--gop ${values.gop} disagrees with --rates ${values.rates} (${rates.length} frame${rates.length === 1 ? '' : 's'})`);
    await initEngine({ backend: values.backend });
    const lm = rates && values.model === undefined ? await loadZooModelByRates(folderStore(), rates) : await loadModelArg(values.model);
    try {
      const codec = videoCodec(lm.model);
      if (rates && rates.some((r, t) => r !== codec.rates[t])) throw new UserError(`--rates ${values.rates}: model ${lm.id} codes groups at rates ${codec.rates.join(',')}`);
      const groupRates = gopRates(codec, rates?.length ?? values.gop);
      const T = groupRates.length;
      const bar = progress();
      const every = 64 * T;
      const frames = await readFrames(input, codec.size, { onFrame: (n) => n % every === 0 && bar.say(`reading ${input}: ${n} frames (${n / T} groups of ${T})`) });
      bar.done();
      const changes = describeChanges(frames);
      if (changes) console.error(`rdpv encode: warning: ${changes}`);
      const { data, groups, dropped } = cutGroups(frames, T);
      if (groups === 0) {
        throw new UserError(`${input} has ${frames.count} frame${frames.count === 1 ? '' : 's'}${frames.clips.length > 1 ? ` in clips of ${frames.clips[0]}` : ''}, fewer than one group of ${T} (the model's GOP)`);
      }
      if (dropped > 0) console.error(`rdpv encode: warning: dropped the last ${dropped} frame${dropped === 1 ? '' : 's'}${frames.clips.length > 1 ? ' (over all clips)' : ''}: ${frames.count} frames do not split into whole groups of ${T}`);
      const bytes = await compress(lm, data, values.seed, (done, total) => total > 64 && bar.say(`encoding ${input}: ${done}/${total} groups of ${T} frames`), T);
      bar.done();
      writeOutput(out, bytes);
      const layout = payloadLayout(readRdpv(bytes).header);
      const raw = layout.rawFrames > 0 ? ` + ${layout.rawFrames} raw frame${layout.rawFrames === 1 ? '' : 's'} in ${layout.rawBytes} bytes` : '';
      console.log(
        `${out}: ${groups * T} frames (${groups} group${groups === 1 ? '' : 's'} of ${T} at rates ${groupRates.join(',')}) of ${codec.size}x${codec.size}, ` +
          `model ${lm.id} (sha256 ${lm.sha256.slice(0, 12)}...), payload ${layout.totalBytes} bytes (${+layout.symbolBits.toFixed(3)} bits in ${layout.symbolBytes} bytes${raw}), file ${bytes.length} bytes`,
      );
      return 0;
    } finally {
      disposeModel(lm.model);
    }
  },
} satisfies Command;
