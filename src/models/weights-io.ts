/** Node-side file I/O for weight files and runs: atomic writes, readable errors, the shipped zoo on disk. */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { readModelFile, type LoadedModel } from './model-file.ts';
import { loadZooModel, loadZooModelBySha, zooBase, type WeightStore } from './zoo.ts';

export const ZOO_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

/**
 * Write to a temp file, fsync it, rename over the target, fsync the folder: readers see the old
 * or the new file, never half of one; a failed write (a full disk) leaves no temp file behind.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    try {
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function readFileOrFail(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${what} '${path}'${code ? ` (${code})` : ''}`);
  }
}

/** A WeightStore over a folder (the shipped zoo by default). */
export function folderStore(dir = ZOO_DIR): WeightStore {
  const where = (name: string) => `${dir.endsWith('/') ? dir : dir + '/'}${name}`;
  return { where, read: async (name) => readFileOrFail(where(name), 'model file') };
}

/** A model file on disk (`what` names it in the error when it cannot be read); a shipped difference takes its base from the package's zoo. */
export async function readModelPath(path: string, what: string): Promise<LoadedModel> {
  return readModelFile(readFileOrFail(path, what), path, zooBase(folderStore()));
}

/** Whether `--model SPEC` names a file on disk (else a shipped model). */
export const isModelPath = (spec: string) => existsSync(spec) && statSync(spec).isFile();

/**
 * `--model NAME|FILE`: an existing file path is read as a model file (its id: its name metadata,
 * else the file name; a shipped difference takes its base from the zoo); anything else names a
 * shipped model.
 */
export async function loadModelArg(spec?: string): Promise<LoadedModel> {
  if (spec !== undefined && isModelPath(spec)) {
    const m = await readModelPath(spec, 'model file');
    return m.id === 'unnamed' ? { ...m, id: basename(spec).replace(/\.safetensors$/, '') } : m;
  }
  return loadZooModel(folderStore(), spec);
}

/** The model that decodes a file: `--model NAME|FILE` when given, else the shipped model its header's weight hash names. */
export async function loadModelForFile(header: { weightsSha256: string; modelId: string }, spec: string | undefined): Promise<LoadedModel> {
  return spec !== undefined ? loadModelArg(spec) : loadZooModelBySha(folderStore(), header.weightsSha256, header.modelId);
}
