/**
 * What the viewer page does with a file, apart from the page: find the model its header names
 * (through a WeightStore), decode it with every decoder through the same `decompress` as Node,
 * and score each frame. No DOM here, so Node runs it too.
 */
import { readRdpv, type RdpvHeader } from '../codec/container.ts';
import { UserError } from '../errors.ts';
import { DECODERS, DECODER_NAMES, type DecoderName } from '../models/decoders.ts';
import type { LoadedModel } from '../models/model-file.ts';
import { codecEntries, loadZooModel, loadZooModelBySha, zooManifest, type WeightStore, type ZooEntry } from '../models/zoo.ts';
import { compress, decompress, videoCodec } from '../video/codec.ts';

export type ColumnKey = 'source' | DecoderName;

/** One block of the side-by-side view: the source or a decoder, its frames, or why it has none. */
export interface Column {
  key: ColumnKey;
  title: string;
  /** frameCount frames of size x size in [0, 1], file order; absent when the model lacks the decoder. */
  frames?: Float32Array;
  /** A remark shown under the title (e.g. that for one frame 0-PLF-JD is 0-PLF-FMD). */
  note?: string;
}

/** Per-frame MSE of each decoder, against the source when known, else against the MMSE output. */
export interface Distortion {
  against: 'source' | 'mmse';
  series: { key: DecoderName; title: string; mse: number[] }[];
}

export interface DecodedClip {
  header: RdpvHeader;
  /** The file's size in bytes and its payload bits per frame (the exact budget). */
  bytes: number;
  payloadBytes: number;
  model: { id: string; sha256: string; kind: string; rates: string[] };
  columns: Column[];
  distortion: Distortion;
}

/** The shipped models (and any the server adds with --model), loaded once each. */
export class ModelShelf {
  #loaded = new Map<string, Promise<LoadedModel>>();
  #entries: Promise<ZooEntry[]> | undefined;
  constructor(readonly store: WeightStore) {}

  entries(): Promise<ZooEntry[]> {
    return (this.#entries ??= zooManifest(this.store).then(codecEntries));
  }

  /** The model an .rdpv header names by its weights' sha256. */
  bySha(sha256: string, modelId: string): Promise<LoadedModel> {
    return this.#cached(`sha:${sha256}`, () => loadZooModelBySha(this.store, sha256, modelId));
  }

  /** A model by its manifest name (default: the default one). */
  async byName(name?: string): Promise<LoadedModel> {
    const entries = await this.entries();
    const entry = name === undefined ? entries.find((e) => e.default) ?? entries[0] : entries.find((e) => e.name === name);
    if (entry === undefined) return loadZooModel(this.store, name);
    return this.#cached(`sha:${entry.sha256}`, () => loadZooModel(this.store, entry.name));
  }

  #cached(key: string, load: () => Promise<LoadedModel>): Promise<LoadedModel> {
    let p = this.#loaded.get(key);
    if (p === undefined) {
      p = load();
      this.#loaded.set(key, p);
      p.catch(() => this.#loaded.delete(key));
    }
    return p;
  }
}

export function frameMse(a: Float32Array, b: Float32Array, frameSize: number): number[] {
  const n = Math.min(a.length, b.length) / frameSize;
  return Array.from({ length: n }, (_, t) => {
    let s = 0;
    for (let i = t * frameSize; i < (t + 1) * frameSize; i++) s += (a[i]! - b[i]!) ** 2;
    return s / frameSize;
  });
}

export interface DecodeOptions {
  /** The frames that were encoded (file order), when known. */
  source?: Float32Array;
  /** Awaited before each decoder runs, with what is about to happen (the page repaints there). */
  onStep?: (what: string) => Promise<void> | void;
}

/** Decode a file with every decoder of the model its header names. Every problem is a one-line UserError. */
export async function decodeClip(shelf: ModelShelf, bytes: Uint8Array, name: string, options: DecodeOptions = {}): Promise<DecodedClip> {
  const parsed = (() => {
    try {
      return readRdpv(bytes);
    } catch (e) {
      throw new UserError(`${name} is not a readable .rdpv file: ${(e as Error).message}`);
    }
  })();
  const { header } = parsed;
  await options.onStep?.(`loading model ${header.modelId}`);
  let lm: LoadedModel;
  try {
    lm = await shelf.bySha(header.weightsSha256, header.modelId);
  } catch (e) {
    const msg = (e as Error).message.replace(/: pass its weight file with --model$/, ': start rdpv view with --model FILE (its weight file)');
    throw new UserError(`${name}: ${msg}`);
  }
  const codec = videoCodec(lm.model);
  const size = header.width;
  const T = codec.rates.length;
  const source = options.source;
  if (source !== undefined && source.length !== header.frameCount * size * size) {
    throw new UserError(`the source has ${source.length / (size * size)} frames, the file ${header.frameCount}`);
  }
  const columns: Column[] = source ? [{ key: 'source', title: 'SOURCE', frames: source }] : [];
  for (const key of DECODER_NAMES) {
    const title = DECODERS[key].title;
    // For one-frame groups the joint law is the marginal: the jd decoder is the fmd one (models/iframe.ts).
    const oneFrameJd = key === 'jd' && T === 1 && codec.decoders.includes('fmd');
    if (!codec.decoders.includes(key) && !oneFrameJd) {
      columns.push({ key, title, note: `this model has no ${title} decoder` });
      continue;
    }
    await options.onStep?.(`decoding ${header.frameCount} frames with ${title}`);
    try {
      const { frames } = await decompress(lm, bytes, key);
      columns.push({ key, title, frames, ...(oneFrameJd ? { note: `one-frame groups: the ${DECODERS.fmd.title} decoder` } : {}) });
    } catch (e) {
      throw new UserError(`${name}: ${(e as Error).message}`);
    }
  }
  const per = size * size;
  const mmse = columns.find((c) => c.key === 'mmse')?.frames;
  const against = source ?? mmse;
  const series = columns
    .filter((c): c is Column & { key: DecoderName; frames: Float32Array } => c.key !== 'source' && c.frames !== undefined && (source !== undefined || c.key !== 'mmse'))
    .map((c) => ({ key: c.key, title: c.title, mse: against ? frameMse(c.frames, against, per) : [] }));
  const config = lm.model.config;
  return {
    header,
    bytes: bytes.length,
    payloadBytes: parsed.payload.length,
    model: { id: lm.id, sha256: lm.sha256, kind: config.kind, rates: codec.rates },
    columns,
    distortion: { against: source ? 'source' : 'mmse', series },
  };
}

/**
 * Frames [count, size, size] (file order) to an .rdpv file with a model: whole groups of the
 * model's GOP (the rest dropped). Returns the file and the frames it holds.
 */
export async function encodeFrames(lm: LoadedModel, frames: Float32Array, seed: number): Promise<{ file: Uint8Array; frames: Float32Array }> {
  const codec = videoCodec(lm.model);
  const per = codec.size * codec.size;
  const T = codec.rates.length;
  const groups = Math.floor(frames.length / per / T);
  if (groups < 1) throw new UserError(`this model codes groups of ${T} frames; got ${frames.length / per}`);
  const kept = frames.subarray(0, groups * T * per);
  return { file: await compress(lm, kept, seed), frames: kept };
}
