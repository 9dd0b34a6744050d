/**
 * Frames from and to a user's files, for `rdpv encode` and `rdpv decode`.
 *
 * Readers bring any input to square grayscale frames of one size in [0, 1]: a GIF (decoded here),
 * a folder of PNGs (sorted by name, numbers in names compared as numbers), a .npy array (float32
 * or uint8, [T, H, W] or [N, T, H, W], optionally with a trailing channel of 1) and MP4/AVI/WebM
 * (and MKV/MOV) through the system ffmpeg. Colour becomes BT.601 luma, transparency is composited
 * on black, each frame is centre-cropped to a square and resized: area averaging when shrinking,
 * bilinear (half-pixel centres) when enlarging. What was changed is reported as one sentence.
 *
 * Writers: PNG, animated GIF (gifenc, an identity gray palette) and MP4 (ffmpeg), and labelled
 * sheets of frames drawn with a built-in 3x5 pixel font (digits, A-Z, '-', and a few marks).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import gifenc from 'gifenc';
import { PNG } from 'pngjs';
import { UserError } from '../errors.ts';

/** Extensions read and written through ffmpeg. */
export const VIDEO_EXTENSIONS = ['.mp4', '.avi', '.webm', '.mkv', '.mov'];
export const FFMPEG_MISSING = 'ffmpeg is not installed (needed for MP4/AVI/WebM): on Debian/Ubuntu, apt-get install -y ffmpeg';

// ---------------------------------------------------------------------------------------------
// Crop and resize

/** Per output index: the first input index and the weights of the inputs from there. */
interface Taps {
  start: number;
  w: Float64Array;
}

/** 1-D resampling of n samples to m: area (box) averaging when m <= n, bilinear when m > n. */
function axisTaps(n: number, m: number): Taps[] {
  const taps: Taps[] = [];
  const s = n / m;
  for (let i = 0; i < m; i++) {
    if (m <= n) {
      const lo = i * s;
      const hi = Math.min(n, (i + 1) * s);
      const start = Math.floor(lo);
      const end = Math.min(n, Math.ceil(hi - 1e-9));
      const w = new Float64Array(end - start);
      for (let j = start; j < end; j++) w[j - start] = Math.max(0, Math.min(hi, j + 1) - Math.max(lo, j)) / (hi - lo);
      taps.push({ start, w });
    } else {
      const x = Math.min(n - 1, Math.max(0, (i + 0.5) * s - 0.5));
      const start = Math.min(Math.floor(x), n - 2 < 0 ? 0 : n - 2);
      const f = x - start;
      taps.push(n === 1 ? { start: 0, w: Float64Array.of(1) } : { start, w: Float64Array.of(1 - f, f) });
    }
  }
  return taps;
}

/** The centred square of side min(w, h) of a gray frame, resized to size x size. */
export function cropResize(gray: Float32Array, width: number, height: number, size: number): Float32Array {
  const side = Math.min(width, height);
  const x0 = Math.floor((width - side) / 2);
  const y0 = Math.floor((height - side) / 2);
  const out = new Float32Array(size * size);
  if (side === size) {
    for (let y = 0; y < size; y++) out.set(gray.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + size), y * size);
    return out;
  }
  const taps = axisTaps(side, size);
  const rows = new Float64Array(side * size); // horizontal pass over the crop's rows
  for (let y = 0; y < side; y++) {
    const row = (y0 + y) * width + x0;
    for (let i = 0; i < size; i++) {
      const { start, w } = taps[i]!;
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += w[k]! * gray[row + start + k]!;
      rows[y * size + i] = acc;
    }
  }
  for (let j = 0; j < size; j++) {
    const { start, w } = taps[j]!;
    for (let i = 0; i < size; i++) {
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += w[k]! * rows[(start + k) * size + i]!;
      out[j * size + i] = acc;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Frames read from an input, brought to the model's format. */
export interface InputFrames {
  /** Frame side (the size asked for). */
  size: number;
  /** count frames of size x size, row-major, in [0, 1]. */
  data: Float32Array;
  count: number;
  /** Frames per clip, in order (a [N, T, H, W] array has N clips; anything else one). */
  clips: number[];
  /** What the input was, e.g. `GIF 320x240`. */
  description: string;
  /** What was converted, cropped or resized, as one clause each (empty: nothing). */
  changes: string[];
}

/** Collects frames at their native size and brings each to size x size. */
class Conformer {
  frames: Float32Array[] = [];
  clips: number[] = [];
  conversions = new Set<string>();
  private dims: [number, number] | undefined;

  constructor(readonly size: number, readonly path: string, readonly onFrame?: (count: number) => void) {}

  add(gray: Float32Array, width: number, height: number): void {
    if (!this.dims) this.dims = [width, height];
    else if (this.dims[0] !== width || this.dims[1] !== height) {
      throw new UserError(`${this.path}: frame ${this.frames.length + 1} is ${width}x${height}, frame 1 is ${this.dims[0]}x${this.dims[1]} (all frames must have one size)`);
    }
    this.frames.push(cropResize(gray, width, height, this.size));
    this.onFrame?.(this.frames.length);
  }

  finish(kind: string): InputFrames {
    const count = this.frames.length;
    if (count === 0 || !this.dims) throw new UserError(`${this.path}: no frames`);
    const [w, h] = this.dims;
    const side = Math.min(w, h);
    const changes = [...this.conversions];
    if (w !== h) changes.push(`centre-cropped ${w}x${h} to ${side}x${side}`);
    if (side !== this.size) changes.push(`resized ${side}x${side} to ${this.size}x${this.size} (${side > this.size ? 'area averaging' : 'bilinear'})`);
    const data = new Float32Array(count * this.size * this.size);
    this.frames.forEach((f, i) => data.set(f, i * f.length));
    const clips = this.clips.length > 0 ? this.clips : [count];
    return { size: this.size, data, count, clips, description: `${kind} ${w}x${h}`, changes };
  }
}

/** BT.601 luma of 8-bit RGBA pixels in [0, 1], composited on black; notes colour and transparency. */
function rgbaToGray(rgba: Uint8Array, pixels: number, c: Conformer): Float32Array {
  const out = new Float32Array(pixels);
  let colour = false;
  let alpha = false;
  for (let p = 0; p < pixels; p++) {
    const r = rgba[4 * p]!, g = rgba[4 * p + 1]!, b = rgba[4 * p + 2]!, a = rgba[4 * p + 3]!;
    if (r !== g || g !== b) colour = true;
    if (a !== 255) alpha = true;
    out[p] = ((0.299 * r + 0.587 * g + 0.114 * b) / 255) * (a / 255);
  }
  if (colour) c.conversions.add('converted colour to grayscale (BT.601 luma)');
  if (alpha) c.conversions.add('composited transparency on black');
  return out;
}

// --- GIF

/** The frames of a GIF as composited on its canvas (disposal and transparency honoured). */
function readGif(bytes: Uint8Array, c: Conformer): void {
  const fail = (why: string): never => {
    throw new UserError(`${c.path}: not a readable GIF (${why})`);
  };
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) fail('truncated');
  };
  const u8 = () => {
    need(1);
    return bytes[p++]!;
  };
  const u16 = () => {
    need(2);
    const v = bytes[p]! | (bytes[p + 1]! << 8);
    p += 2;
    return v;
  };
  const sig = String.fromCharCode(...bytes.subarray(0, 6));
  if (sig !== 'GIF87a' && sig !== 'GIF89a') fail('bad signature');
  p = 6;
  const width = u16();
  const height = u16();
  const flags = u8();
  p += 2; // background index, aspect
  if (width === 0 || height === 0) fail('empty canvas');
  const table = (n: number) => {
    need(3 * n);
    const gray = new Float32Array(n);
    const colour = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const [r, g, b] = [bytes[p + 3 * i]!, bytes[p + 3 * i + 1]!, bytes[p + 3 * i + 2]!];
      gray[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
      colour[i] = r !== g || g !== b ? 1 : 0;
    }
    p += 3 * n;
    return { gray, colour };
  };
  const global = flags & 0x80 ? table(2 << (flags & 7)) : undefined;
  const subBlocks = (): Uint8Array => {
    const parts: Uint8Array[] = [];
    for (let n = u8(); n > 0; n = u8()) {
      need(n);
      parts.push(bytes.subarray(p, p + n));
      p += n;
    }
    const out = new Uint8Array(parts.reduce((s, q) => s + q.length, 0));
    let o = 0;
    for (const q of parts) {
      out.set(q, o);
      o += q.length;
    }
    return out;
  };
  const canvas = new Float32Array(width * height);
  let disposal = 0;
  let transparent = -1;
  for (;;) {
    const block = u8();
    if (block === 0x3b) break;
    if (block === 0x21) {
      const label = u8();
      const data = subBlocks();
      if (label === 0xf9 && data.length >= 4) {
        disposal = (data[0]! >> 2) & 7;
        transparent = data[0]! & 1 ? data[3]! : -1;
      }
      continue;
    }
    if (block !== 0x2c) fail(`unknown block 0x${block.toString(16)}`);
    const [left, top, w, h] = [u16(), u16(), u16(), u16()];
    const f = u8();
    const palette = f & 0x80 ? table(2 << (f & 7)) : global ?? fail('an image without a colour table');
    const minCode = u8();
    if (minCode < 1 || minCode > 11) fail(`LZW code size ${minCode}`);
    const indices = lzwDecode(subBlocks(), minCode, w * h);
    const saved = disposal === 3 ? canvas.slice() : undefined;
    const rowOf = f & 0x40 ? interlacedRows(h) : undefined;
    let colour = false;
    for (let r = 0; r < h; r++) {
      const y = top + (rowOf ? rowOf[r]! : r);
      if (y >= height) continue;
      for (let x = 0; x < w && left + x < width; x++) {
        const i = indices[r * w + x]!;
        if (i === transparent || i >= palette.gray.length) continue;
        canvas[y * width + left + x] = palette.gray[i]!;
        if (palette.colour[i]) colour = true;
      }
    }
    if (colour) c.conversions.add('converted colour to grayscale (BT.601 luma)');
    c.add(canvas.slice(), width, height);
    if (disposal === 2) {
      for (let y = top; y < Math.min(height, top + h); y++) canvas.fill(0, y * width + left, y * width + Math.min(width, left + w));
    } else if (saved) canvas.set(saved);
    disposal = 0;
    transparent = -1;
  }
}

/** Row r of the stored image is canvas row rows[r] (passes: every 8th from 0, every 8th from 4, every 4th from 2, every 2nd from 1). */
function interlacedRows(h: number): number[] {
  const rows: number[] = [];
  for (const [start, step] of [[0, 8], [4, 8], [2, 4], [1, 2]] as const) for (let y = start; y < h; y += step) rows.push(y);
  return rows;
}

/** GIF's variable-width LZW: `count` colour indices (a short stream leaves the rest 0). */
export function lzwDecode(data: Uint8Array, minCode: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const clear = 1 << minCode;
  const eoi = clear + 1;
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const length = new Int32Array(4096);
  for (let i = 0; i < clear; i++) {
    prefix[i] = -1;
    suffix[i] = first[i] = i;
    length[i] = 1;
  }
  let size = minCode + 1;
  let next = eoi + 1;
  let prev = -1;
  let bit = 0;
  let o = 0;
  const totalBits = data.length * 8;
  const emit = (code: number) => {
    const n = length[code]!;
    for (let k = n - 1, c = code; k >= 0; k--, c = prefix[c]!) if (o + k < count) out[o + k] = suffix[c]!;
    o += n;
  };
  while (o < count && bit + size <= totalBits) {
    let code = 0;
    for (let k = 0; k < size; k++, bit++) code |= ((data[bit >> 3]! >> (bit & 7)) & 1) << k;
    if (code === clear) {
      size = minCode + 1;
      next = eoi + 1;
      prev = -1;
      continue;
    }
    if (code === eoi) break;
    if (prev < 0) {
      if (code >= clear) throw new UserError('not a readable GIF (corrupt LZW data)');
      emit(code);
      prev = code;
      continue;
    }
    let head: number;
    if (code < next) head = first[code]!;
    else if (code === next) head = first[prev]!;
    else throw new UserError('not a readable GIF (corrupt LZW data)');
    if (next < 4096) {
      prefix[next] = prev;
      suffix[next] = head;
      first[next] = first[prev]!;
      length[next] = length[prev]! + 1;
      next++;
      if (next === 1 << size && size < 12) size++;
    }
    emit(code);
    prev = code;
  }
  return out;
}

// --- PNG

async function readPngFile(path: string, c: Conformer): Promise<void> {
  let png: PNG;
  try {
    png = PNG.sync.read(await readFile(path));
  } catch (e) {
    throw new UserError(`${path}: not a readable PNG (${(e as Error).message.split('\n')[0]})`);
  }
  c.add(rgbaToGray(png.data, png.width * png.height, c), png.width, png.height);
}

const byName = new Intl.Collator('en', { numeric: true }).compare;

async function readPngFolder(dir: string, c: Conformer): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.png')).sort(byName);
  if (names.length === 0) throw new UserError(`${dir}: a folder input must hold PNG frames; found none`);
  for (const n of names) await readPngFile(join(dir, n), c);
}

// --- .npy

/** A .npy array: float32 (either byte order) or uint8 (scaled by 1/255), C order. */
export function parseNpy(bytes: Uint8Array, path: string): { shape: number[]; values: Float32Array; dtype: string } {
  const fail = (why: string): never => {
    throw new UserError(`${path}: ${why}`);
  };
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) fail('not a .npy file (bad magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [headerLength, start] = major === 1 ? [view.getUint16(8, true), 10] : bytes.length >= 12 ? [view.getUint32(8, true), 12] : [0, 0];
  if (major < 1 || major > 3) fail(`unsupported .npy version ${major}`);
  if (start + headerLength > bytes.length) fail('truncated .npy header');
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1] ?? fail('.npy header has no descr');
  if (/'fortran_order'\s*:\s*True/.test(header)) fail('.npy array is in Fortran order; save it in C order');
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1] ?? fail('.npy header has no shape');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad .npy shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLength;
  const values = new Float32Array(count);
  if (descr === '<f4' || descr === '>f4') {
    if (bytes.length - offset < 4 * count) fail(`truncated .npy data: ${count} float32 values need ${4 * count} bytes, found ${bytes.length - offset}`);
    const little = descr === '<f4';
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(offset + 4 * i, little);
  } else if (descr === '|u1' || descr === '<u1' || descr === 'u1') {
    if (bytes.length - offset < count) fail(`truncated .npy data: ${count} uint8 values need ${count} bytes, found ${bytes.length - offset}`);
    for (let i = 0; i < count; i++) values[i] = bytes[offset + i]! / 255;
  } else fail(`.npy dtype '${descr}' is not supported: save float32 (values in [0, 1]) or uint8`);
  return { shape, values, dtype: descr.endsWith('f4') ? 'float32' : 'uint8' };
}

function readNpy(bytes: Uint8Array, c: Conformer): string {
  const { shape, values, dtype } = parseNpy(bytes, c.path);
  const dims = shape.length >= 4 && shape.at(-1) === 1 ? shape.slice(0, -1) : shape;
  if (dims.length !== 3 && dims.length !== 4) {
    throw new UserError(`${c.path}: .npy shape (${shape.join(', ')}) is not [T, H, W] or [N, T, H, W] (optionally with a trailing channel of 1)`);
  }
  if (dims.includes(0)) throw new UserError(`${c.path}: .npy shape (${shape.join(', ')}) holds no frames`);
  const [N, T, H, W] = dims.length === 4 ? (dims as [number, number, number, number]) : [1, ...(dims as [number, number, number])];
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new UserError(`${c.path}: the array holds NaN or infinite values`);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo < 0 || hi > 1) {
    c.conversions.add(`clipped values in [${+lo.toPrecision(4)}, ${+hi.toPrecision(4)}] to [0, 1]`);
    for (let i = 0; i < values.length; i++) values[i] = Math.min(1, Math.max(0, values[i]!));
  }
  for (let i = 0; i < N * T; i++) c.add(values.subarray(i * H * W, (i + 1) * H * W), W, H);
  c.clips = Array.from({ length: N }, () => T);
  return `.npy ${dtype}`;
}

// --- video through ffmpeg

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run ffmpeg or ffprobe; `onData` takes stdout as it comes (else it is collected). A missing binary is one line naming the package. */
function runTool(tool: 'ffmpeg' | 'ffprobe', args: string[], onData?: (chunk: Buffer) => void, input?: Iterable<Uint8Array>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let failed: unknown;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (failed !== undefined) return;
      try {
        if (onData) onData(chunk);
        else out.push(chunk);
      } catch (e) {
        failed = e;
        child.kill();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new UserError(FFMPEG_MISSING) : e));
    child.on('close', (code) => (failed !== undefined ? reject(failed) : resolve({ code, stdout: Buffer.concat(out), stderr: err })));
    if (input) {
      const stdin = child.stdin!;
      stdin.on('error', () => {}); // ffmpeg exiting early: its exit code and stderr tell why
      (async () => {
        for (const chunk of input) if (!stdin.write(chunk)) await new Promise((r) => stdin.once('drain', r));
        stdin.end();
      })().catch(() => {});
    }
  });
}

const lastLine = (text: string, path: string) => text.trim().split('\n').at(-1)?.replace(`${path}: `, '') ?? '';

async function readVideo(path: string, c: Conformer): Promise<string> {
  const probe = await runTool('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,pix_fmt,codec_name', '-of', 'json', path]);
  if (probe.code !== 0) throw new UserError(`cannot read video ${path}: ${lastLine(probe.stderr, path) || `ffprobe exit code ${probe.code}`}`);
  let stream: { width?: number; height?: number; pix_fmt?: string; codec_name?: string } | undefined;
  try {
    stream = (JSON.parse(probe.stdout.toString()) as { streams?: (typeof stream)[] }).streams?.[0];
  } catch {
    stream = undefined;
  }
  if (!stream?.width || !stream.height) throw new UserError(`cannot read video ${path}: it has no video stream`);
  const pix = stream.pix_fmt ?? 'unknown';
  if (!/^(gray|ya|y400|mono)/.test(pix)) c.conversions.add(`converted ${pix} video to grayscale (luma)`);
  // Gray frames at their native size as a stream of binary PGMs (each carries its own size).
  let buf: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      const m = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(buf.subarray(0, 64).toString('latin1'));
      if (!m) {
        if (buf.length >= 64) throw new UserError(`cannot read video ${path}: unexpected ffmpeg output`);
        return;
      }
      const [w, h] = [Number(m[1]), Number(m[2])];
      const end = m[0].length + w * h;
      if (buf.length < end) return;
      const gray = new Float32Array(w * h);
      for (let i = 0; i < w * h; i++) gray[i] = buf[m[0].length + i]! / 255;
      c.add(gray, w, h);
      buf = buf.subarray(end);
    }
  };
  const run = await runTool('ffmpeg', ['-v', 'error', '-nostdin', '-i', path, '-map', '0:v:0', '-vf', 'format=gray', '-c:v', 'pgm', '-f', 'image2pipe', 'pipe:1'], onData);
  if (run.code !== 0) throw new UserError(`cannot decode video ${path}: ${lastLine(run.stderr, path) || `ffmpeg exit code ${run.code}`}`);
  return `${stream.codec_name ?? 'video'} ${extname(path).slice(1).toUpperCase()}`;
}

export interface ReadOptions {
  /** Called after each frame read, with the number read so far. */
  onFrame?: (count: number) => void;
}

/**
 * Read an input (GIF, folder of PNGs, single PNG, .npy, MP4/AVI/WebM/MKV/MOV) as size x size
 * gray frames. Every problem (missing, unknown type, unreadable, wrong shape, no frames) is a
 * one-line UserError.
 */
export async function readFrames(path: string, size: number, options: ReadOptions = {}): Promise<InputFrames> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new UserError(`cannot read input '${path}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const c = new Conformer(size, path, options.onFrame);
  if (info.isDirectory()) {
    await readPngFolder(path, c);
    return c.finish(`folder of ${c.frames.length} PNGs`);
  }
  const ext = extname(path).toLowerCase();
  const bytes = async () => {
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      throw new UserError(`cannot read input '${path}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  if (ext === '.gif') {
    readGif(await bytes(), c);
    return c.finish('GIF');
  }
  if (ext === '.png') {
    await readPngFile(path, c);
    return c.finish('PNG');
  }
  if (ext === '.npy') {
    return c.finish(readNpy(await bytes(), c));
  }
  if (VIDEO_EXTENSIONS.includes(ext)) {
    const kind = await readVideo(path, c);
    return c.finish(kind);
  }
  throw new UserError(`cannot read '${basename(path)}': expected a GIF, an MP4/AVI/WebM, a folder of PNGs or a .npy array`);
}

/** The one sentence saying what reading changed, or undefined when the frames were already in the model's format. */
export function describeChanges(input: InputFrames): string | undefined {
  return input.changes.length === 0 ? undefined : `${input.description}: ${input.changes.join(', ')}`;
}

/**
 * Cut each clip into groups of `gop` frames (a shorter leftover of a clip is dropped):
 * [groups, gop, size, size] in clip order.
 */
export function cutGroups(input: InputFrames, gop: number): { data: Float32Array; groups: number; dropped: number } {
  const per = input.size * input.size;
  const groups = input.clips.reduce((s, n) => s + Math.floor(n / gop), 0);
  const data = new Float32Array(groups * gop * per);
  let from = 0;
  let to = 0;
  for (const n of input.clips) {
    const keep = Math.floor(n / gop) * gop;
    data.set(input.data.subarray(from * per, (from + keep) * per), to * per);
    from += n;
    to += keep;
  }
  return { data, groups, dropped: input.count - to };
}

// ---------------------------------------------------------------------------------------------
// Images out

export interface GrayImage {
  width: number;
  height: number;
  /** width * height 8-bit gray values, row-major. */
  pixels: Uint8Array;
}

export function pngBytes(img: GrayImage): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height });
  for (let p = 0; p < img.pixels.length; p++) {
    png.data.fill(img.pixels[p]!, 4 * p, 4 * p + 3);
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 0 });
}

/** An animated GIF (looping) of equally sized frames. */
export function gifBytes(frames: GrayImage[], delayMs: number): Uint8Array {
  const gif = gifenc.GIFEncoder();
  const palette = Array.from({ length: 256 }, (_, v) => [v, v, v]);
  // The global palette (first frame) is the identity on gray levels, so pixel values are its indices.
  frames.forEach((f, t) => gif.writeFrame(f.pixels, f.width, f.height, { palette: t === 0 ? palette : undefined, delay: delayMs, ...(t === 0 ? { repeat: 0 } : {}) }));
  gif.finish();
  return gif.bytes();
}

/** An MP4 (H.264 where ffmpeg has it, yuv420p) of equally sized frames, through ffmpeg; odd sizes are padded by one pixel. */
export async function mp4Bytes(frames: GrayImage[], fps: number): Promise<Uint8Array> {
  const { width, height } = frames[0]!;
  const [W, H] = [width + (width % 2), height + (height % 2)];
  const dir = await mkdtemp(join(tmpdir(), 'rdpv-mp4-'));
  try {
    const file = join(dir, 'out.mp4');
    const padded = function* () {
      for (const f of frames) {
        if (W === width && H === height) {
          yield f.pixels;
          continue;
        }
        const p = new Uint8Array(W * H).fill(255);
        for (let y = 0; y < height; y++) p.set(f.pixels.subarray(y * width, (y + 1) * width), y * W);
        yield p;
      }
    };
    const args = ['-v', 'error', '-nostdin', '-y', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${W}x${H}`, '-r', String(fps), '-i', 'pipe:0', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', file];
    const run = await runTool('ffmpeg', args, undefined, padded());
    if (run.code !== 0) throw new UserError(`ffmpeg could not write the MP4: ${lastLine(run.stderr, file) || `exit code ${run.code}`}`);
    return new Uint8Array(await readFile(file));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Labels: a 3x5 pixel font

/** Glyphs as 5 rows of 3 columns ('#' set). Lower case is drawn as upper case; unknown characters as blanks. */
const FONT: Record<string, string> = {
  '0': '###|#.#|#.#|#.#|###', '1': '.#.|##.|.#.|.#.|###', '2': '###|..#|###|#..|###', '3': '###|..#|.##|..#|###',
  '4': '#.#|#.#|###|..#|..#', '5': '###|#..|###|..#|###', '6': '###|#..|###|#.#|###', '7': '###|..#|..#|.#.|.#.',
  '8': '###|#.#|###|#.#|###', '9': '###|#.#|###|..#|###',
  A: '.#.|#.#|###|#.#|#.#', B: '##.|#.#|##.|#.#|##.', C: '.##|#..|#..|#..|.##', D: '##.|#.#|#.#|#.#|##.',
  E: '###|#..|##.|#..|###', F: '###|#..|##.|#..|#..', G: '.##|#..|#.#|#.#|.##', H: '#.#|#.#|###|#.#|#.#',
  I: '###|.#.|.#.|.#.|###', J: '..#|..#|..#|#.#|.#.', K: '#.#|#.#|##.|#.#|#.#', L: '#..|#..|#..|#..|###',
  M: '#.#|###|###|#.#|#.#', N: '##.|#.#|#.#|#.#|#.#', O: '.#.|#.#|#.#|#.#|.#.', P: '##.|#.#|##.|#..|#..',
  Q: '.#.|#.#|#.#|###|.##', R: '##.|#.#|##.|#.#|#.#', S: '.##|#..|.#.|..#|##.', T: '###|.#.|.#.|.#.|.#.',
  U: '#.#|#.#|#.#|#.#|###', V: '#.#|#.#|#.#|#.#|.#.', W: '#.#|#.#|###|###|#.#', X: '#.#|#.#|.#.|#.#|#.#',
  Y: '#.#|#.#|.#.|.#.|.#.', Z: '###|..#|.#.|#..|###',
  '-': '...|...|###|...|...', '.': '...|...|...|...|.#.', '/': '..#|..#|.#.|#..|#..', ':': '...|.#.|...|.#.|...',
  ' ': '...|...|...|...|...',
};
export const GLYPH_WIDTH = 3;
export const GLYPH_HEIGHT = 5;

/** Width in pixels of a label (one blank column between glyphs). */
export const textWidth = (text: string) => (text.length === 0 ? 0 : text.length * (GLYPH_WIDTH + 1) - 1);

/** Draw a label with its top-left corner at (x, y) in `value`; pixels outside the image are skipped. */
export function drawText(img: GrayImage, x: number, y: number, text: string, value: number): void {
  [...text.toUpperCase()].forEach((ch, i) => {
    const rows = (FONT[ch] ?? FONT[' ']!).split('|');
    rows.forEach((row, dy) => {
      for (let dx = 0; dx < GLYPH_WIDTH; dx++) {
        const px = x + i * (GLYPH_WIDTH + 1) + dx;
        const py = y + dy;
        if (row[dx] === '#' && px >= 0 && py >= 0 && px < img.width && py < img.height) img.pixels[py * img.width + px] = value;
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Labelled sheets

/** One labelled block of frames: its title and its frames ([count, size, size] in [0, 1]). */
export interface Panel {
  title: string;
  frames: Float32Array;
}

const PAPER = 255;
const INK = 0;
const GAP = 2;
const BLOCK_GAP = 6;
const MARGIN = 2;
const LINE = GLYPH_HEIGHT + 2;

const blank = (width: number, height: number): GrayImage => ({ width, height, pixels: new Uint8Array(width * height).fill(PAPER) });

function blit(img: GrayImage, frames: Float32Array, index: number, size: number, x: number, y: number): void {
  const src = index * size * size;
  for (let r = 0; r < size; r++) {
    for (let col = 0; col < size; col++) img.pixels[(y + r) * img.width + x + col] = Math.round(255 * Math.min(1, Math.max(0, frames[src + r * size + col]!)));
  }
}

const centred = (img: GrayImage, x: number, width: number, y: number, text: string) => drawText(img, x + Math.floor((width - textWidth(text)) / 2), y, text, INK);

/** Column (0-based offset in a row) and row (0-based) labels of a grid. */
export interface GridLabels {
  column?: (c: number) => string;
  row?: (r: number) => string;
}

/**
 * A still grid: one block per panel side by side, each `perRow` frames across and one row per
 * `perRow` frames (for a GOP model, one GOP per row). Each block is titled; columns are numbered
 * by their offset in the row and rows by their first frame (both 1-based), so frame = row + column - 1,
 * unless `labels` names them otherwise.
 */
export function gridImage(panels: Panel[], size: number, count: number, perRow: number, rows = Math.ceil(count / perRow), labels: GridLabels = {}): GrayImage {
  const { column = (c: number) => String(c + 1), row = (r: number) => String(r * perRow + 1) } = labels;
  const blockWidth = Math.max(perRow * (size + GAP) - GAP, ...panels.map((p) => textWidth(p.title)));
  const labelWidth = Math.max(...Array.from({ length: rows }, (_, r) => textWidth(row(r)))) + 2 * MARGIN;
  const top = MARGIN + 2 * LINE;
  const width = labelWidth + panels.length * (blockWidth + BLOCK_GAP) - BLOCK_GAP + MARGIN;
  const height = top + rows * (size + GAP) - GAP + MARGIN;
  const img = blank(width, height);
  panels.forEach((panel, b) => {
    const x0 = labelWidth + b * (blockWidth + BLOCK_GAP);
    centred(img, x0, blockWidth, MARGIN, panel.title);
    for (let c = 0; c < perRow; c++) centred(img, x0 + c * (size + GAP), size, MARGIN + LINE, column(c));
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < perRow && r * perRow + c < count; c++) blit(img, panel.frames, r * perRow + c, size, x0 + c * (size + GAP), top + r * (size + GAP));
    }
  });
  for (let r = 0; r < rows; r++) drawText(img, MARGIN, top + r * (size + GAP) + Math.floor((size - GLYPH_HEIGHT) / 2), row(r), INK);
  return img;
}

/** Animation frames: the panels side by side, each titled above and numbered with the frame (1-based) below. */
export function animationImages(panels: Panel[], size: number, count: number): GrayImage[] {
  const colWidth = Math.max(size, ...panels.map((p) => textWidth(p.title)));
  const width = MARGIN + panels.length * (colWidth + BLOCK_GAP) - BLOCK_GAP + MARGIN;
  const height = MARGIN + LINE + size + 2 + GLYPH_HEIGHT + MARGIN;
  const images: GrayImage[] = [];
  for (let t = 0; t < count; t++) {
    const img = blank(width, height);
    panels.forEach((panel, b) => {
      const x0 = MARGIN + b * (colWidth + BLOCK_GAP);
      centred(img, x0, colWidth, MARGIN, panel.title);
      blit(img, panel.frames, t, size, x0 + Math.floor((colWidth - size) / 2), MARGIN + LINE);
      centred(img, x0, colWidth, MARGIN + LINE + size + 2, String(t + 1));
    });
    images.push(img);
  }
  return images;
}

/** A single unlabelled frame as an image. */
export function frameImage(frames: Float32Array, index: number, size: number): GrayImage {
  const img = blank(size, size);
  blit(img, frames, index, size, 0, 0);
  return img;
}

/** Each pixel drawn as a k x k block. */
export function upscale(img: GrayImage, k: number): GrayImage {
  if (k === 1) return img;
  const out: GrayImage = { width: img.width * k, height: img.height * k, pixels: new Uint8Array(img.width * k * img.height * k) };
  for (let y = 0; y < out.height; y++) {
    const src = Math.floor(y / k) * img.width;
    for (let x = 0; x < out.width; x++) out.pixels[y * out.width + x] = img.pixels[src + Math.floor(x / k)]!;
  }
  return out;
}
