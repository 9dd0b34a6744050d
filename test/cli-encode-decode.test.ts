import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readRdpv } from '../src/codec/container.ts';
import { cropResize, cutGroups, describeChanges, drawText, gifBytes, readFrames, textWidth, type GrayImage } from '../src/data/frames-io.ts';
import { initEngine } from '../src/engine/index.ts';
import { initPosition, type GopModel, type GopModelConfig } from '../src/models/gop.ts';
import { encodeModelFile } from '../src/models/model-file.ts';
import { runCli } from './run-cli.ts';
import { npy } from './support/npy.ts';
import { hasFfmpeg } from './support/tools.ts';

await initEngine();
const root = mkdtempSync(join(tmpdir(), 'rdpv-encdec-'));
const at = (name: string) => join(root, name);

/** T frames of size x size, uint8, a bright square moving right on black. */
function movingSquare(T: number, size = 64): Uint8Array {
  const out = new Uint8Array(T * size * size);
  for (let t = 0; t < T; t++) for (let y = 20; y < 40; y++) for (let x = 4 + 6 * t; x < 24 + 6 * t; x++) out[t * size * size + y * size + (x % size)] = 230;
  return out;
}

function writePng(path: string, width: number, height: number, rgba: (x: number, y: number) => [number, number, number, number]): void {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) png.data.set(rgba(x, y), 4 * (y * width + x));
  writeFileSync(path, PNG.sync.write(png));
}

const readPng = (path: string) => PNG.sync.read(readFileSync(path));
const payloadOf = (file: string) => readRdpv(readFileSync(file)).payload.length;

/** An untrained GOP model (raw first frame, a 2-bit P-frame, all three decoders) as a weight file. */
function gopModelFile(path: string): string {
  const config: GopModelConfig = { kind: 'gop', size: 64, rates: ['inf', '2'], pframeWidths: [4, 4, 8, 8] };
  const m: GopModel = { config, pframes: [initPosition(config, 2, 3, ['mmse', 'fmd', 'jd'])] };
  writeFileSync(path, encodeModelFile(m, 'untrained-gop-inf-2'));
  return path;
}
const gopModel = gopModelFile(at('gop-inf-2.safetensors'));
/** The shipped I-frame model: these tests count bits and frames of groups of one picture. */
const IFRAME = 'iframe-cpu-12';

async function ok(argv: string[]) {
  const r = await runCli(argv);
  assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err.join(' | ')}`);
  return r;
}

async function failsWithOneLine(argv: string[], message: RegExp) {
  const r = await runCli(argv);
  assert.equal(r.code, 2, `${argv.join(' ')}: ${[...r.out, ...r.err].join(' | ')}`);
  assert.equal(r.err.length, 1, `${argv.join(' ')}: ${r.err.join(' | ')}`);
  assert.match(r.err[0]!, message);
}

test('a uint8 .npy encodes to exactly ceil(bits/8) payload bytes and decodes with no --model, through the header, to a labelled PNG grid', async () => {
  const input = npy(at('square.npy'), [5, 64, 64], movingSquare(5));
  const file = at('square.rdpv');
  const enc = await ok(['encode', input, '-o', file, '--seed', '3', '--model', IFRAME]);
  assert.deepEqual(enc.err, [], 'frames already in the model format: no warning');
  assert.equal(payloadOf(file), Math.ceil((5 * 12) / 8), '5 I-frames at 12 bits: 60 bits in 8 bytes');
  assert.equal(readRdpv(readFileSync(file)).header.ditherSeed, 3);
  assert.match(enc.out.at(-1)!, /5 frames \(5 groups of 1 at rates 12\).*payload 8 bytes/);
  const dec = await ok(['decode', file, '--decoder', 'mmse', '-o', at('square.png')]);
  assert.match(dec.out.join('\n'), /MMSE\s+decoder: 5 frames/);
  const png = readPng(at('square.png'));
  // Scale 2; one row of 8 frames (one-frame GOPs), labelled above and on the left.
  assert.ok(png.width > 2 * 8 * 64 && png.height > 2 * 64 && png.height < 2 * 2 * 64, `${png.width}x${png.height}`);
});

test('a folder of colour PNGs is read in name order (numbers as numbers), centre-cropped, resized, and one warning line says so', async () => {
  const dir = at('pngs');
  mkdirSync(dir);
  const levels: Record<string, number> = { 'f1.png': 200, 'f2.png': 40, 'f10.png': 120 };
  for (const [name, v] of Object.entries(levels)) writePng(join(dir, name), 80, 60, () => [v, v, 0, 255]);
  writeFileSync(join(dir, 'notes.txt'), 'not a frame');
  const frames = await readFrames(dir, 64);
  assert.equal(frames.count, 3);
  const luma = (v: number) => (0.299 * v + 0.587 * v) / 255;
  [200, 40, 120].forEach((v, i) => assert.ok(Math.abs(frames.data[i * 64 * 64 + 100]! - luma(v)) < 1e-5, `frame ${i + 1}`));
  const file = at('pngs.rdpv');
  const enc = await ok(['encode', dir, '-o', file, '--model', IFRAME]);
  assert.equal(enc.err.length, 1, enc.err.join(' | '));
  assert.match(enc.err[0]!, /^rdpv encode: warning: folder of 3 PNGs 80x60: converted colour to grayscale \(BT\.601 luma\), centre-cropped 80x60 to 60x60, resized 60x60 to 64x64 \(bilinear\)$/);
  assert.equal(payloadOf(file), Math.ceil((3 * 12) / 8));
  const out = at('pngs-out/');
  const dec = await ok(['decode', file, '--decoder', 'all', '-o', out]);
  assert.match(dec.out.join('\n'), /the 0-PLF-JD decoder is the 0-PLF-FMD one/);
  assert.deepEqual(readdirSync(out).sort(), ['fmd-000001.png', 'fmd-000002.png', 'fmd-000003.png', 'mmse-000001.png', 'mmse-000002.png', 'mmse-000003.png']);
  const f = readPng(join(out, 'mmse-000002.png'));
  assert.deepEqual([f.width, f.height], [64, 64], 'a folder gets unlabelled frames at scale 1');
});

test('a GIF (as gifenc writes it, full 256-level palette) reads back pixel for pixel, and encodes and decodes to a labelled GIF', async () => {
  const size = 64;
  const images: GrayImage[] = Array.from({ length: 4 }, (_, t) => ({
    width: size, height: size, pixels: Uint8Array.from({ length: size * size }, (_, p) => (p * 37 + t * 101 + ((p * p) >> 5)) & 255),
  }));
  const gif = at('noise.gif');
  writeFileSync(gif, gifBytes(images, 100));
  const frames = await readFrames(gif, size);
  assert.equal(frames.count, 4);
  assert.deepEqual(frames.changes, []);
  for (let t = 0; t < 4; t++) {
    const got = Array.from(frames.data.subarray(t * size * size, (t + 1) * size * size), (v) => Math.round(v * 255));
    assert.deepEqual(got, Array.from(images[t]!.pixels), `frame ${t + 1}`);
  }
  const file = at('noise.rdpv');
  await ok(['encode', gif, '-o', file, '--model', IFRAME]);
  assert.equal(payloadOf(file), Math.ceil((4 * 12) / 8));
  await ok(['decode', file, '--decoder', 'fmd', '-o', at('noise-out.gif'), '--scale', '1']);
  const back = await readFrames(at('noise-out.gif'), 8);
  assert.equal(back.count, 4, 'one animation frame per decoded frame');
  assert.match(back.description, /^GIF \d+x\d+$/);
});

test('decode --decoder all --source writes the source and every decoder side by side and prints each decoder\'s MSE against the source', async () => {
  const input = npy(at('all.npy'), [3, 64, 64, 1], Float32Array.from(movingSquare(3), (v) => v / 255));
  const file = at('all.rdpv');
  await ok(['encode', input, '-o', file, '--model', IFRAME]);
  const r = await ok(['decode', file, '--decoder', 'all', '--source', input, '-o', at('all.gif'), '--scale', '1']);
  const text = r.out.join('\n');
  for (const title of ['MMSE', '0-PLF-FMD']) assert.match(text, new RegExp(`${title}\\s+decoder: 3 frames, per-pixel MSE 0\\.\\d{6} against the source`));
  const gif = await readFrames(at('all.gif'), 8);
  assert.equal(gif.count, 3);
  assert.ok(Number(/GIF (\d+)x/.exec(gif.description)![1]) >= 3 * 64, 'three columns: SOURCE, MMSE, 0-PLF-FMD');
});

test('a GOP model file passed with --model round-trips: raw first frames come back exactly, the leftover frame is dropped with a warning', async () => {
  const input = npy(at('gop.npy'), [5, 64, 64], movingSquare(5));
  const file = at('gop.rdpv');
  const enc = await ok(['encode', input, '-o', file, '--model', gopModel]);
  assert.deepEqual(enc.err, ['rdpv encode: warning: dropped the last 1 frame: 5 frames do not split into whole groups of 2']);
  assert.equal(payloadOf(file), Math.ceil((2 * 2) / 8) + 2 * 64 * 64, 'two 2-bit P-frames in 1 byte, two raw 64x64 frames');
  const { header } = readRdpv(readFileSync(file));
  assert.deepEqual([header.gop, header.frameCount, header.rates], [2, 4, ['inf', '2', 'inf', '2']]);
  const out = at('gop-out/');
  const r = await ok(['decode', file, '--model', gopModel, '--decoder', 'all', '--source', input, '-o', out]);
  for (const title of ['MMSE', '0-PLF-FMD', '0-PLF-JD']) assert.match(r.out.join('\n'), new RegExp(`${title}\\s+decoder: 4 frames, per-pixel MSE`));
  const square = movingSquare(5);
  for (const frame of [1, 3]) {
    for (const d of ['source', 'mmse', 'fmd', 'jd']) {
      const png = readPng(join(out, `${d}-${String(frame).padStart(6, '0')}.png`));
      const gray = Array.from({ length: 64 * 64 }, (_, p) => png.data[4 * p]!);
      assert.deepEqual(gray, Array.from(square.subarray((frame - 1) * 4096, frame * 4096)), `${d} frame ${frame} (an I-frame at rate inf)`);
    }
  }
  await ok(['decode', file, '--model', gopModel, '--decoder', 'jd', '-o', at('gop.png')]);
  const png = readPng(at('gop.png'));
  assert.ok(png.width > 2 * 2 * 64 && png.width < 2 * 3 * 64 && png.height > 2 * 2 * 64, `one GOP per row: ${png.width}x${png.height}`);
});

test('a file made by weights that are not shipped needs --model: without it, one line and exit 2', async () => {
  const file = at('unknown.rdpv');
  await ok(['encode', npy(at('unknown.npy'), [2, 64, 64], movingSquare(2)), '-o', file, '--model', gopModel]);
  await failsWithOneLine(['decode', file, '--decoder', 'mmse', '-o', at('unknown.png')], /model 'untrained-gop-inf-2'.*not a shipped model: pass its weight file with --model/);
  assert.ok(!existsSync(at('unknown.png')));
});

test('a [N, T, H, W, 1] float .npy is N clips: each is cut into whole GOPs on its own, and values outside [0, 1] are clipped with a note', async () => {
  const values = Float32Array.from({ length: 2 * 3 * 64 * 64 }, (_, i) => Math.floor(i / 4096) / 5); // frame k is flat at k/5: 0 .. 1
  values[0] = -0.5;
  values[1] = 1.25;
  const frames = await readFrames(npy(at('clips.npy'), [2, 3, 64, 64, 1], values), 64);
  assert.deepEqual(frames.clips, [3, 3]);
  assert.equal(describeChanges(frames), '.npy float32 64x64: clipped values in [-0.5, 1.25] to [0, 1]');
  const { data, groups, dropped } = cutGroups(frames, 2);
  assert.deepEqual([groups, dropped], [2, 2]);
  assert.deepEqual([0, 1, 2, 3].map((f) => data[f * 4096 + 100]), [0, 1 / 5, 3 / 5, 4 / 5].map(Math.fround), 'frames 1-2 of clip 1, then frames 1-2 of clip 2');
});

test('--gop codes a prefix of the model\'s group, and --rates picks the shipped model for the rates asked', async () => {
  const input = npy(at('prefix.npy'), [3, 64, 64], movingSquare(3));
  const file = at('prefix.rdpv');
  await ok(['encode', input, '-o', file, '--model', gopModel, '--gop', '1']);
  const { header, payload } = readRdpv(readFileSync(file));
  assert.deepEqual([header.gop, header.rates], [1, ['inf', 'inf', 'inf']], 'three groups of the first frame alone');
  assert.equal(payload.length, 3 * 64 * 64, 'three raw frames, no latent bits');
  await ok(['decode', file, '--model', gopModel, '--decoder', 'jd', '-o', at('prefix.png')]);
  const byRates = at('by-rates.rdpv');
  await ok(['encode', input, '-o', byRates, '--rates', '12']);
  assert.deepEqual(readRdpv(readFileSync(byRates)).header.rates, ['12', '12', '12'], 'a shipped model whose group starts at 12 bits');
  await failsWithOneLine(['encode', input, '-o', at('x.rdpv'), '--model', gopModel, '--gop', '3'], /GOP 3: this model codes groups of 1 to 2 frames \(rates inf,2\)/);
  await failsWithOneLine(['encode', input, '-o', at('x.rdpv'), '--rates', '4,4,4,4,4,4'], /no shipped model codes groups at rates 4,4,4,4,4,4; shipped: .*\(12/);
  await failsWithOneLine(['encode', input, '-o', at('x.rdpv'), '--rates', '12', '--gop', '2'], /--gop 2 disagrees with --rates 12 \(1 frame\)/);
  await failsWithOneLine(['encode', input, '-o', at('x.rdpv'), '--model', gopModel, '--rates', '12'], /--rates 12: model .* codes groups at rates inf,2/);
  await failsWithOneLine(['encode', input, '-o', at('x.rdpv'), '--rates', '12,7'], /unknown rate '7'/);
  assert.ok(!existsSync(at('x.rdpv')));
});

test('fewer frames than one GOP is an error', async () => {
  await failsWithOneLine(['encode', npy(at('one.npy'), [1, 64, 64], movingSquare(1)), '-o', at('one.rdpv'), '--model', gopModel], /has 1 frame, fewer than one group of 2/);
  assert.ok(!existsSync(at('one.rdpv')));
});

test('bad inputs and outputs each give exit 2 and one line, and write nothing', async () => {
  const good = at('good.rdpv');
  await ok(['encode', npy(at('good.npy'), [2, 64, 64], movingSquare(2)), '-o', good, '--model', IFRAME]);
  const bytes = readFileSync(good);
  const corrupt = at('corrupt.rdpv');
  writeFileSync(corrupt, bytes.map((b, i) => (i === bytes.length - 6 ? b ^ 0xff : b)));
  const truncated = at('truncated.rdpv');
  writeFileSync(truncated, bytes.subarray(0, bytes.length - 3));
  writeFileSync(at('notes.txt'), 'hello');
  writeFileSync(at('a-file'), 'in the way');
  const rank2 = npy(at('rank2.npy'), [64, 64], new Uint8Array(64 * 64));
  const f64 = at('f64.npy');
  writeFileSync(f64, readFileSync(rank2).toString('latin1').replace("'|u1'", "'<f8'"), 'latin1');
  const cases: Array<[string[], RegExp]> = [
    [['encode', at('missing.gif'), '-o', at('x.rdpv')], /^rdpv encode: cannot read input '.*missing\.gif' \(ENOENT\)$/],
    [['encode', at('notes.txt'), '-o', at('x.rdpv')], /^rdpv encode: cannot read 'notes\.txt': expected a GIF, an MP4\/AVI\/WebM, a folder of PNGs or a \.npy array$/],
    [['encode', rank2, '-o', at('x.rdpv')], /^rdpv encode: .*rank2\.npy: \.npy shape \(64, 64\) is not \[T, H, W\] or \[N, T, H, W\]/],
    [['encode', f64, '-o', at('x.rdpv')], /^rdpv encode: .*\.npy dtype '<f8' is not supported: save float32/],
    [['encode', at('good.npy')], /^rdpv encode: no output given: add -o FILE\.rdpv$/],
    [['encode', at('good.npy'), '-o', join(at('a-file'), 'x.rdpv')], /^rdpv encode: cannot write '.*x\.rdpv': '.*a-file' exists and is not a folder$/],
    [['decode', corrupt, '--decoder', 'mmse', '-o', at('x.png')], /^rdpv decode: .*corrupt\.rdpv: CRC mismatch/],
    [['decode', truncated, '--decoder', 'mmse', '-o', at('x.png')], /^rdpv decode: .*truncated\.rdpv: truncated file/],
    [['decode', at('notes.txt'), '--decoder', 'mmse', '-o', at('x.png')], /^rdpv decode: .*notes\.txt: not an \.rdpv file \(bad magic\)$/],
    [['decode', at('missing.rdpv'), '--decoder', 'mmse', '-o', at('x.png')], /^rdpv decode: cannot read \.rdpv file '.*missing\.rdpv' \(ENOENT\)$/],
    [['decode', good, '--decoder', 'mmse', '-o', join(at('a-file'), 'frames') + '/'], /^rdpv decode: cannot write output folder '.*a-file\/frames': '.*a-file' is not a folder$/],
    [['decode', good, '--decoder', 'mmse', '-o', at('x.jpg')], /^rdpv decode: cannot tell what to write from '.*x\.jpg': end -o with \.png, \.gif, \.mp4, or \/ for a folder$/],
    [['decode', good, '--decoder', 'best', '-o', at('x.png')], /^rdpv decode: --decoder must be one of mmse, fmd, jd, all, got 'best'$/],
    [['decode', good, '-o', at('x.png')], /^rdpv decode: no decoder given/],
    [['decode', good, '--decoder', 'mmse', '-o', at('x.png'), '--source', npy(at('three.npy'), [3, 64, 64], movingSquare(3))], /^rdpv decode: --source .* gives 3 frames in groups of 1, the file holds 2: not the encoded input$/],
    [['decode', good, '--decoder', 'mmse', '-o', at('x.png'), '--model', gopModel], /^rdpv decode: the file was encoded by model 'iframe-cpu-12'.*not by these weights/],
  ];
  for (const [argv, message] of cases) await failsWithOneLine(argv, message);
  assert.deepEqual(readdirSync(root).filter((n) => /^x\.|\.tmp-|\.probe-/.test(n)), [], 'no output and no temporary file left behind');
});

test('without ffmpeg on PATH, a video input is one line naming the Debian package', async () => {
  const video = at('clip.mp4');
  writeFileSync(video, 'not really a video');
  const path = process.env.PATH;
  process.env.PATH = at('empty-bin');
  try {
    await failsWithOneLine(['encode', video, '-o', at('clip.rdpv')], /apt-get install -y ffmpeg/);
  } finally {
    process.env.PATH = path;
  }
});

test('an MP4 made by ffmpeg (lavfi testsrc, 96x72 colour) encodes and decodes to an MP4', { skip: hasFfmpeg ? false : 'ffmpeg/ffprobe not on PATH: the video paths are not tested here' }, async () => {
  const mp4 = at('testsrc.mp4');
  const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=96x72:rate=10:duration=0.6', '-pix_fmt', 'yuv420p', mp4]);
  assert.equal(made.status, 0, made.stderr.toString());
  const file = at('testsrc.rdpv');
  const enc = await ok(['encode', mp4, '-o', file, '--model', IFRAME]);
  assert.equal(enc.err.length, 1);
  assert.match(enc.err[0]!, /converted yuv420p video to grayscale \(luma\), centre-cropped 96x72 to 72x72, resized 72x72 to 64x64 \(area averaging\)$/);
  assert.equal(readRdpv(readFileSync(file)).header.frameCount, 6);
  await ok(['decode', file, '--decoder', 'all', '--source', mp4, '-o', at('testsrc-out.mp4')]);
  const back = await readFrames(at('testsrc-out.mp4'), 64);
  assert.equal(back.count, 6);
});

test('a GIF written by ffmpeg (colour palette, changed-pixel sub-images with transparency) reads as ffmpeg itself decodes it', { skip: hasFfmpeg ? false : 'ffmpeg not on PATH' }, async () => {
  const gif = at('mandelbrot.gif');
  const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'mandelbrot=size=80x80:rate=10,trim=duration=0.8', '-vf', 'split[a][b];[a]palettegen[p];[b][p]paletteuse', gif]);
  assert.equal(made.status, 0, made.stderr.toString());
  const mine = await readFrames(gif, 80);
  const rgb = spawnSync('ffmpeg', ['-v', 'error', '-i', gif, '-vf', 'format=rgb24', '-f', 'rawvideo', 'pipe:1'], { maxBuffer: 1 << 26 }).stdout;
  assert.equal(mine.count, rgb.length / (80 * 80 * 3));
  for (let i = 0; i < mine.data.length; i++) {
    const luma = (0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!) / 255;
    if (Math.abs(luma - mine.data[i]!) > 1e-5) assert.fail(`pixel ${i % 6400} of frame ${Math.floor(i / 6400) + 1}: ${mine.data[i]} vs ffmpeg's ${luma}`);
  }
});

test('an interlaced GIF is de-interlaced', async () => {
  const [w, h] = [5, 11];
  const want = Uint8Array.from({ length: w * h }, (_, p) => 20 * Math.floor(p / w));
  const order = [0, 8, 4, 2, 6, 10, 1, 3, 5, 7, 9]; // passes: every 8th from 0, every 8th from 4, every 4th from 2, every 2nd from 1
  const stored = new Uint8Array(w * h);
  order.forEach((row, r) => stored.set(want.subarray(row * w, (row + 1) * w), r * w));
  const bytes = gifBytes([{ width: w, height: h, pixels: stored }], 100);
  const at0 = bytes.findIndex((b, i) => b === 0x2c && [0, 0, 0, 0, w, 0, h, 0].every((v, k) => bytes[i + 1 + k] === v));
  bytes[at0 + 9]! |= 0x40;
  writeFileSync(at('interlaced.gif'), bytes);
  const frames = await readFrames(at('interlaced.gif'), 5);
  const top = Array.from({ length: 5 * 5 }, (_, p) => Math.round(frames.data[p]! * 255));
  assert.deepEqual(top, Array.from(want.subarray(3 * w, 8 * w)), 'the centred 5x5 crop: rows 3-7');
});

test('long inputs report progress, a line per 64 groups when stderr is not a terminal', { skip: process.stderr.isTTY ? 'stderr is a terminal' : false }, async () => {
  const T = 130;
  const r = await ok(['encode', npy(at('long.npy'), [T, 8, 8], new Uint8Array(T * 64).fill(9)), '-o', at('long.rdpv'), '--model', IFRAME]);
  assert.deepEqual(r.err.filter((l) => /^reading /.test(l)), [`reading ${at('long.npy')}: 64 frames (64 groups of 1)`, `reading ${at('long.npy')}: 128 frames (128 groups of 1)`]);
  assert.ok(r.err.some((l) => /^rdpv encode: warning: .*resized 8x8 to 64x64 \(bilinear\)$/.test(l)));
  assert.deepEqual(r.err.filter((l) => /^encoding /.test(l)), [`encoding ${at('long.npy')}: 64/130 groups of 1 frames`, `encoding ${at('long.npy')}: 128/130 groups of 1 frames`, `encoding ${at('long.npy')}: 130/130 groups of 1 frames`]);
  assert.equal(payloadOf(at('long.rdpv')), Math.ceil((130 * 12) / 8));
});

test('crop and resize: area averaging when shrinking keeps a flat image flat and averages a checkerboard', () => {
  const flat = cropResize(new Float32Array(300 * 200).fill(0.25), 300, 200, 64);
  assert.ok(flat.every((v) => Math.abs(v - 0.25) < 1e-6));
  const board = Float32Array.from({ length: 192 * 192 }, (_, p) => ((p % 192) + Math.floor(p / 192)) % 2);
  const out = cropResize(board, 192, 192, 64);
  assert.ok(out.every((v) => Math.abs(v - 4 / 9) < 1e-6 || Math.abs(v - 5 / 9) < 1e-6));
});

test('the built-in 3x5 font draws every digit, letter and \'-\' as a distinct glyph', () => {
  const chars = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-'];
  const glyphs = chars.map((ch) => {
    const img: GrayImage = { width: 3, height: 5, pixels: new Uint8Array(15).fill(255) };
    drawText(img, 0, 0, ch, 0);
    return Array.from(img.pixels).join(',');
  });
  assert.ok(glyphs.every((g) => g.includes('0')), 'none is blank');
  assert.equal(new Set(glyphs).size, chars.length);
  assert.equal(textWidth('0-PLF-FMD'), 35, 'fits over a 64-pixel frame');
});
