import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { UserError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { SPLIT_KEY, type Split, type VideoBatch } from './types.ts';

/** The six KTH actions; a label is the index in this list. */
export const KTH_ACTIONS = ['boxing', 'handclapping', 'handwaving', 'jogging', 'running', 'walking'] as const;
export const KTH_SIZE = 64;
/** Persons 1-20 train, 21-25 test, as in the paper's code. */
export const KTH_LAST_TRAIN_PERSON = 20;

const FRAME_BYTES = KTH_SIZE * KTH_SIZE;
const KTH_NAME = /^person(\d{2})_([a-z]+)_d(\d)_uncomp\.avi$/;
const CLIP_TAG = 0x4b544843; // 'KTHC': clip start offsets
const ORDER_TAG = 0x4b54484f; // 'KTHO': per-epoch video order

export interface KthOptions {
  split: Split;
  /** Subset of KTH_ACTIONS (default: all six). */
  actions?: string[];
  frames: number;
  seed?: number;
  /** Where decoded 64x64 frames are kept (default: `<dir>/.rdpv-cache`). */
  cacheDir?: string;
}

interface Video {
  path: string;
  action: number;
  cacheFile: string;
  frames: number;
}

export function kthSplitOf(person: number): Split {
  return person <= KTH_LAST_TRAIN_PERSON ? 'train' : 'test';
}

/** Decode a video to 64x64 8-bit grayscale frames, concatenated. */
function decode(path: string): Promise<Buffer> {
  const args = ['-v', 'error', '-nostdin', '-i', path, '-vf', `scale=${KTH_SIZE}:${KTH_SIZE}:flags=area,format=gray`, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'];
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new UserError('ffmpeg not found on PATH: install it (Debian: apt-get install ffmpeg) to read KTH videos') : e),
    );
    child.on('close', (code) => {
      const frames = Buffer.concat(out);
      if (code !== 0) reject(new UserError(`cannot decode ${path}: ${err.trim().split('\n')[0]!.replace(`${path}: `, '') || `ffmpeg exit code ${code}`}`));
      else if (frames.length === 0 || frames.length % FRAME_BYTES !== 0) reject(new UserError(`cannot decode ${path}: ffmpeg produced no whole frames`));
      else resolve(frames);
    });
  });
}

/** Decode into the cache unless a cached copy of this exact file (name, size, mtime) exists; returns the frame count. */
async function ensureCached(video: Video): Promise<number> {
  const cached = await stat(video.cacheFile).catch(() => undefined);
  if (cached && cached.size > 0 && cached.size % FRAME_BYTES === 0) return cached.size / FRAME_BYTES;
  const frames = await decode(video.path);
  const tmp = `${video.cacheFile}.${process.pid}.tmp`;
  await writeFile(tmp, frames);
  await rename(tmp, video.cacheFile); // atomic: a killed run never leaves a half-written cache entry
  return frames.length / FRAME_BYTES;
}

/** Run fn over items with at most `limit` in flight. */
async function mapPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function findVideos(dir: string, opts: KthOptions, cacheDir: string): Promise<Video[]> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UserError(`KTH folder not found: ${dir}`);
  const wanted = new Set<number>();
  for (const a of opts.actions ?? KTH_ACTIONS) {
    const i = KTH_ACTIONS.indexOf(a as (typeof KTH_ACTIONS)[number]);
    if (i < 0) throw new UserError(`unknown KTH action '${a}' (expected one of ${KTH_ACTIONS.join(', ')})`);
    wanted.add(i);
  }
  const names = (await readdir(dir, { recursive: true })).filter((f) => KTH_NAME.test(basename(f))).sort();
  if (names.length === 0) throw new UserError(`no KTH AVI files (named like person01_walking_d1_uncomp.avi) in ${dir}`);
  const videos: Video[] = [];
  for (const name of names) {
    const [, person, action] = KTH_NAME.exec(basename(name))!;
    const a = KTH_ACTIONS.indexOf(action as (typeof KTH_ACTIONS)[number]);
    if (a < 0 || !wanted.has(a) || kthSplitOf(Number(person)) !== opts.split) continue;
    const path = join(dir, name);
    const s = await stat(path);
    videos.push({ path, action: a, cacheFile: join(cacheDir, `${basename(name)}.${s.size}-${Math.floor(s.mtimeMs)}.gray64`), frames: 0 });
  }
  if (videos.length === 0) {
    const persons = opts.split === 'train' ? `1-${KTH_LAST_TRAIN_PERSON}` : `${KTH_LAST_TRAIN_PERSON + 1}-25`;
    throw new UserError(`no KTH videos for split '${opts.split}' (persons ${persons}) and the chosen actions in ${dir}`);
  }
  return videos;
}

/**
 * The KTH videos of one split (by person) and some actions, decoded once to 64x64 grayscale
 * and cached on disk. Sequence i is a T-frame clip: its video is entry i mod count of a seeded
 * shuffle for "epoch" floor(i / count) (so every `count` consecutive indices cover each video
 * once), its start is drawn from (split, seed, i). Videos shorter than T frames are left out.
 */
export async function loadKth(dir: string, opts: KthOptions): Promise<{ count: number; batch(start: number, batch: number): VideoBatch }> {
  const T = opts.frames;
  if (!Number.isInteger(T) || T < 1) throw new UserError(`frames must be a positive integer, got ${T}`);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new UserError(`seed must be an integer, got ${seed}`);
  const cacheDir = opts.cacheDir ?? join(dir, '.rdpv-cache');
  const all = await findVideos(dir, opts, cacheDir);
  await mkdir(cacheDir, { recursive: true }).catch((e: Error) => {
    throw new UserError(`cannot create KTH cache folder ${cacheDir}: ${e.message}`);
  });
  const counts = await mapPool(all, availableParallelism(), ensureCached);
  const videos = all.map((v, i) => ({ ...v, frames: counts[i]! })).filter((v) => v.frames >= T);
  if (videos.length === 0) throw new UserError(`no KTH video for split '${opts.split}' in ${dir} has ${T} frames`);
  const count = videos.length;
  const splitKey = SPLIT_KEY[opts.split];

  let orderEpoch = -1;
  const order = new Int32Array(count);
  const videoAt = (i: number): Video => {
    const epoch = Math.floor(i / count);
    if (epoch !== orderEpoch) {
      const rng = new Rng(ORDER_TAG, splitKey, seed >>> 0, epoch >>> 0);
      for (let k = 0; k < count; k++) order[k] = k;
      for (let k = count - 1; k > 0; k--) {
        const j = rng.int(0, k);
        [order[k], order[j]] = [order[j]!, order[k]!];
      }
      orderEpoch = epoch;
    }
    return videos[order[i % count]!]!;
  };

  const bytes = Buffer.alloc(T * FRAME_BYTES);
  return {
    count,
    batch(start: number, batch: number): VideoBatch {
      if (!Number.isInteger(start) || start < 0) throw new UserError(`start must be a non-negative integer, got ${start}`);
      if (!Number.isInteger(batch) || batch < 1) throw new UserError(`batch must be a positive integer, got ${batch}`);
      const data = new Float32Array(batch * T * FRAME_BYTES);
      const labels = new Int32Array(batch);
      for (let b = 0; b < batch; b++) {
        const i = start + b;
        const video = videoAt(i);
        const first = new Rng(CLIP_TAG, splitKey, seed >>> 0, i >>> 0).int(0, video.frames - T);
        const fd = openSync(video.cacheFile, 'r');
        try {
          readSync(fd, bytes, 0, bytes.length, first * FRAME_BYTES);
        } finally {
          closeSync(fd);
        }
        const offset = b * T * FRAME_BYTES;
        for (let p = 0; p < bytes.length; p++) data[offset + p] = bytes[p]! / 255;
        labels[b] = video.action;
      }
      return { data, shape: [batch, T, KTH_SIZE, KTH_SIZE, 1], labels };
    },
  };
}
