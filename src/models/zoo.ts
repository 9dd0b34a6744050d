/**
 * The weights that ship in the repository (models/), indexed by models/manifest.json with
 * their sha256, the command that made them and their measured metrics.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { loadIFrameModel, type IFrameModel } from './compress.ts';
import { readFileOrFail, sha256Hex } from './weights-io.ts';

export const ZOO_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

export interface ZooEntry {
  name: string;
  file: string;
  sha256: string;
  default?: boolean;
  /** The commands that produced the file, in order. */
  commands: string[];
  /** The preset of the last command. */
  preset: string;
  /** Each training run behind the file (MSE stage, then perception stage), in order. */
  stages: { preset: string; steps: number; train_seconds: number }[];
  /** Total over the stages. */
  train_seconds: number;
  metrics: Record<string, number>;
}

export function zooManifest(): ZooEntry[] {
  return (JSON.parse(readFileSync(`${ZOO_DIR}manifest.json`, 'utf8')) as { models: ZooEntry[] }).models;
}

/** A shipped model by name (default: the one marked default), its bytes checked against the manifest. */
export function loadZooModel(name?: string): IFrameModel {
  const entries = zooManifest();
  const entry = name === undefined ? entries.find((e) => e.default) : entries.find((e) => e.name === name);
  if (!entry) throw new UserError(`no shipped model '${name ?? '(default)'}'; shipped: ${entries.map((e) => e.name).join(', ')}`);
  const path = `${ZOO_DIR}${entry.file}`;
  const bytes = readFileOrFail(path, 'shipped model');
  if (sha256Hex(bytes) !== entry.sha256) throw new UserError(`${path}: sha256 does not match models/manifest.json (corrupt or replaced file)`);
  return loadIFrameModel(bytes, path);
}
