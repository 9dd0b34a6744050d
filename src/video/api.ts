/**
 * The one-call library API (Node): frames in, .rdpv bytes out, and back. The engine starts on
 * first use; the model is a shipped one by name (default: the zoo's default), a weight file, or
 * one already loaded; a file names its model, so decoding needs none.
 */
import { initEngine, tf } from '../engine/index.ts';
import { readRdpv, type RdpvHeader } from '../codec/container.ts';
import type { DecoderName } from '../models/decoders.ts';
import type { LoadedModel } from '../models/model-file.ts';
import { loadModelArg, loadModelForFile } from '../models/weights-io.ts';
import { compress, decompress, type Progress } from './codec.ts';

/** A model: a shipped name, a weight file's path, or a model loaded by `loadZooModel`/`readModelFile`. */
export type ModelSpec = string | LoadedModel;

export interface EncodeOptions {
  /** Default: the zoo's default model. */
  model?: ModelSpec;
  /** Dither seed (shared randomness: the decoder regenerates the dither from it). Default 0. */
  seed?: number;
  /** Frames per group: the model's GOP length (default) or fewer, coding the first frames of its group. */
  gop?: number;
  onProgress?: Progress;
}

export interface DecodeOptions {
  /** Default 'mmse'. */
  decoder?: DecoderName;
  /** Default: the shipped model the file's header names by its weights' sha256. */
  model?: ModelSpec;
  onProgress?: Progress;
}

async function ready(): Promise<void> {
  // An engine the caller started (any backend or thread count) is kept as it is.
  if (tf.engine().backendName === undefined) await initEngine();
}

/**
 * Sequences [N, T, 64, 64] in [0, 1] (row-major; T the group of pictures, o.gop or the model's) to the bytes
 * of an .rdpv file, at exactly the model's rate budget.
 */
export async function encode(frames: Float32Array, o: EncodeOptions = {}): Promise<Uint8Array> {
  await ready();
  const lm = typeof o.model === 'object' ? o.model : await loadModelArg(o.model);
  return compress(lm, frames, o.seed ?? 0, o.onProgress, o.gop);
}

/** An .rdpv file's frames, [frameCount, size, size] in [0, 1], decoded with one of its model's decoders. */
export async function decode(bytes: Uint8Array, o: DecodeOptions = {}): Promise<{ header: RdpvHeader; frames: Float32Array }> {
  await ready();
  const lm = typeof o.model === 'object' ? o.model : await loadModelForFile(readRdpv(bytes).header, o.model);
  return decompress(lm, bytes, o.decoder ?? 'mmse', o.onProgress);
}
