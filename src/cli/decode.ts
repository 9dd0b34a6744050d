import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, sep } from 'node:path';
import { readRdpv, type RdpvHeader } from '../codec/container.ts';
import {
  animationImages, cutGroups, describeChanges, frameImage, gifBytes, gridImage, mp4Bytes, pngBytes, readFrames, upscale, type GrayImage, type Panel,
} from '../data/frames-io.ts';
import { initEngine } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import { disposeModel } from '../models/model-file.ts';
import { loadModelForFile, readFileOrFail } from '../models/weights-io.ts';
import { decompress, videoCodec } from '../video/codec.ts';
import { backendFlag, parseFlags } from './args.ts';
import type { Command } from './command.ts';
import { prepareOutputFile, progress, writeOutput } from './output.ts';

const USAGE = `usage: rdpv decode FILE.rdpv --decoder mmse|fmd|jd|all -o OUT [--source INPUT] [--model NAME|FILE] [--backend wasm|cpu|webgpu]
Decodes an .rdpv file with one decoder, or with all of the model's decoders side by side.
The model comes from the file's header (its weights' sha256 names a shipped model); a file made
by other weights needs --model with their weight file.
  --decoder D        mmse, fmd (0-PLF-FMD), jd (0-PLF-JD) or all
  -o, --out OUT      out.png: a grid (a row per GOP, 8 frames per row for one-frame GOPs; frames
                     across, one labelled block per decoder); out.gif: an animation; out.mp4: a
                     video through ffmpeg; folder/ (or an existing folder): one PNG per frame per
                     decoder, <decoder>-000001.png, unlabelled. Written to a temporary name, then renamed.
  --source INPUT     the encoded input (any encode INPUT): shown as the SOURCE block, and each
                     decoder's per-pixel MSE against it is printed
  --model NAME|FILE  a shipped model or a weight file, instead of the header's
  --scale N          draw each pixel as NxN (default 2 for .png/.gif/.mp4, 1 for a folder)
  --fps N            frames per second of a .gif or .mp4 (default 10)
  --backend B        wasm (default), cpu or webgpu (a GPU through WebGPU; in Node through dawn)`;

type OutKind = 'png' | 'gif' | 'mp4' | 'folder';

/** PNG grids show at most this many rows (a longer file: use a folder, .gif or .mp4). */
const MAX_ROWS = 256;

/** Whether `path` is an existing folder (a path that cannot be looked at is not: writing it reports why). */
function isFolder(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}

function outKind(out: string): OutKind {
  if (out.endsWith('/') || out.endsWith(sep) || isFolder(out)) return 'folder';
  const ext = extname(out).toLowerCase();
  if (ext === '.png' || ext === '.gif' || ext === '.mp4') return ext.slice(1) as OutKind;
  throw new UserError(`cannot tell what to write from '${out}': end -o with .png, .gif, .mp4, or / for a folder`);
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** The folder's parent exists (created if need be) and can take a new entry; an existing folder must be writable. */
function prepareFolder(folder: string): void {
  const parent = dirname(folder);
  if (statSync(parent, { throwIfNoEntry: false })?.isDirectory() === false) throw new UserError(`cannot write output folder '${folder}': '${parent}' is not a folder`);
  try {
    mkdirSync(dirname(folder), { recursive: true });
    const probe = `${folder}.probe-${process.pid}`;
    mkdirSync(probe);
    rmSync(probe, { recursive: true });
    if (statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {
      const inside = join(folder, `.probe-${process.pid}`);
      writeFileSync(inside, '');
      rmSync(inside);
    }
  } catch (e) {
    throw new UserError(`cannot write output folder '${folder}' (${errCode(e)})`);
  }
}

/** Files into a new folder next to the target, then the folder renamed into place (or, when the target exists, each file renamed into it). */
function writeFolder(folder: string, files: Map<string, Uint8Array>): void {
  const tmp = `${folder}.tmp-${process.pid}`;
  try {
    mkdirSync(tmp);
    for (const [name, bytes] of files) writeFileSync(join(tmp, name), bytes);
    if (!statSync(folder, { throwIfNoEntry: false })) renameSync(tmp, folder);
    else {
      for (const name of readdirSync(tmp)) renameSync(join(tmp, name), join(folder, name));
      rmSync(tmp, { recursive: true });
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw new UserError(`cannot write output folder '${folder}' (${errCode(e)})`);
  }
}

const writeFile = writeOutput;

const mse = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
};

export default {
  summary: 'decode an .rdpv file with one or all decoders to a labelled PNG grid, GIF, MP4 or a folder of PNGs',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, {
      decoder: { type: 'choice', choices: ['mmse', 'fmd', 'jd', 'all'] }, out: { type: 'string', short: 'o' }, source: { type: 'string' },
      model: { type: 'string' }, scale: { type: 'int', min: 1, max: 16 }, fps: { type: 'int', min: 1, max: 120, default: 10 }, backend: backendFlag,
    }, true);
    if (positionals.length !== 1) throw new UserError(positionals.length === 0 ? `no FILE.rdpv given (${USAGE.split('\n')[0]})` : `one FILE.rdpv expected, got ${positionals.length}: ${positionals.join(' ')}`);
    if (values.decoder === undefined) throw new UserError('no decoder given: add --decoder mmse, fmd, jd or all');
    if (values.out === undefined) throw new UserError('no output given: add -o out.png, out.gif, out.mp4 or folder/');
    const path = positionals[0]!;
    const out = values.out;
    const kind = outKind(out);
    const folder = out.replace(/[/\\]+$/, '') || out;
    if (kind === 'folder') prepareFolder(folder);
    else prepareOutputFile(out);
    const scale = values.scale ?? (kind === 'folder' ? 1 : 2);

    const bytes = readFileOrFail(path, '.rdpv file');
    let header: RdpvHeader;
    try {
      header = readRdpv(bytes).header;
    } catch (e) {
      throw new UserError(`${path}: ${(e as Error).message}`);
    }
    await initEngine({ backend: values.backend });
    const lm = await loadModelForFile(header, values.model);
    try {
      const codec = videoCodec(lm.model);
      const size = header.width;
      const T = header.gop;
      const count = header.frameCount;
      const names: DecoderName[] = values.decoder === 'all' ? codec.decoders : [values.decoder];
      const panels: (Panel & { key: string })[] = [];
      let source: Float32Array | undefined;
      if (values.source !== undefined) {
        const input = await readFrames(values.source, size);
        const changes = describeChanges(input);
        if (changes) console.error(`rdpv decode: warning: --source ${changes}`);
        const cut = cutGroups(input, T);
        if (cut.groups * T !== count) throw new UserError(`--source ${values.source} gives ${cut.groups * T} frames in groups of ${T}, the file holds ${count}: not the encoded input`);
        source = cut.data;
        panels.push({ key: 'source', title: 'SOURCE', frames: source });
      }
      const bar = progress();
      for (const name of names) {
        const { frames } = await decompress(lm, bytes, name, (done, total) => total > 64 && bar.say(`decoding with ${DECODERS[name].title}: ${done}/${total} groups`));
        bar.done();
        panels.push({ key: name, title: DECODERS[name].title, frames });
        console.log(`${DECODERS[name].title.padEnd(9)} decoder: ${count} frames${source ? `, per-pixel MSE ${mse(frames, source).toFixed(6)} against the source` : ''}`);
      }
      if (values.decoder === 'all' && T === 1 && !names.includes('jd')) console.log('(for one-frame groups the 0-PLF-JD decoder is the 0-PLF-FMD one: the joint law of one frame is its marginal)');

      let what: string;
      if (kind === 'folder') {
        const files = new Map<string, Uint8Array>();
        for (const p of panels) for (let t = 0; t < count; t++) files.set(`${p.key}-${String(t + 1).padStart(6, '0')}.png`, pngBytes(upscale(frameImage(p.frames, t, size), scale)));
        writeFolder(folder, files);
        what = `${files.size} PNGs (${panels.map((p) => `${p.key}-*.png`).join(', ')})`;
      } else if (kind === 'png') {
        const perRow = T === 1 ? 8 : T;
        const rows = Math.min(MAX_ROWS, Math.ceil(count / perRow));
        if (rows * perRow < count) console.error(`rdpv decode: warning: the PNG shows the first ${rows * perRow} of ${count} frames; write a folder, .gif or .mp4 for all`);
        writeFile(out, pngBytes(upscale(gridImage(panels, size, Math.min(count, rows * perRow), perRow, rows), scale)));
        what = `a grid of ${rows} row${rows === 1 ? '' : 's'} of ${perRow} frame${perRow === 1 ? '' : 's'} (row label: first frame, column label: frame within the row)`;
      } else {
        const images: GrayImage[] = animationImages(panels, size, count).map((img) => upscale(img, scale));
        writeFile(out, kind === 'gif' ? gifBytes(images, Math.round(1000 / values.fps)) : await mp4Bytes(images, values.fps));
        what = `${count} frames at ${values.fps} frames/s`;
      }
      console.log(`wrote ${out}: ${what}; blocks: ${panels.map((p) => p.title).join(', ')}`);
      return 0;
    } finally {
      disposeModel(lm.model);
    }
  },
} satisfies Command;
