/**
 * The weights that ship with the package (models/), indexed by models/manifest.json with their
 * sha256, the commands that made them and their measured metrics. Read through a WeightStore,
 * so Node (files) and a browser (fetch) share this code.
 */
import type { RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import { disposeModel, modelRates, readModelFile, sha256Hex, type LoadedModel } from './model-file.ts';

/** Bytes by name: the manifest and the weight files it lists. */
export interface WeightStore {
  read(name: string): Promise<Uint8Array>;
  /** Where `name` lives, for messages (a path or a URL). */
  where(name: string): string;
}

export const MANIFEST = 'manifest.json';

export interface ZooEntry {
  name: string;
  /** What the weights are: absent for a codec model (what `loadZooModel` reads); 'classifier' for the digit classifier of src/eval. */
  kind?: 'classifier';
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
  /** 'F16': the weights are stored as float16 (scripts/ship-model.ts --f16), after this check against the run's float32 file. */
  stored?: 'F16';
  f16_check?: { sequences: number; max_abs_diff: number; symbols_changed: number };
  /** false: the training critics were left out of the file (scripts/ship-model.ts --no-critics). */
  critics?: false;
}

export async function zooManifest(store: WeightStore): Promise<ZooEntry[]> {
  return (JSON.parse(new TextDecoder().decode(await store.read(MANIFEST))) as { models: ZooEntry[] }).models;
}

/** The entries that are codec models (the others, such as the digit classifier, are tools). */
export const codecEntries = <E extends Pick<ZooEntry, 'kind'>>(entries: E[]): E[] => entries.filter((e) => e.kind === undefined);

async function loadEntry(store: WeightStore, entry: ZooEntry): Promise<LoadedModel> {
  if (entry.kind !== undefined) throw new UserError(`'${entry.name}' is a shipped ${entry.kind}, not a codec model`);
  const bytes = await store.read(entry.file);
  if ((await sha256Hex(bytes)) !== entry.sha256) throw new UserError(`${store.where(entry.file)}: sha256 does not match ${MANIFEST} (corrupt or replaced file)`);
  return { ...(await readModelFile(bytes, store.where(entry.file))), id: entry.name };
}

/** A shipped model by name (default: the one marked default), its bytes checked against the manifest; its id is the zoo name. */
export async function loadZooModel(store: WeightStore, name?: string): Promise<LoadedModel> {
  const entries = await zooManifest(store);
  const entry = name === undefined ? entries.find((e) => e.default) : entries.find((e) => e.name === name);
  if (!entry) throw new UserError(`no shipped model '${name ?? '(default)'}'; shipped: ${entries.map((e) => e.name).join(', ')}`);
  return loadEntry(store, entry);
}

/**
 * The shipped model for groups at these per-frame rates: one whose GOP is exactly these rates,
 * else the shortest whose GOP starts with them (it codes the prefix).
 */
export async function loadZooModelByRates(store: WeightStore, rates: RateName[]): Promise<LoadedModel> {
  const fits: LoadedModel[] = [];
  const shipped: string[] = [];
  for (const entry of codecEntries(await zooManifest(store))) {
    const lm = await loadEntry(store, entry);
    const own = modelRates(lm.model.config);
    shipped.push(`${entry.name} (${own.join(',')})`);
    if (own.length >= rates.length && rates.every((r, t) => r === own[t])) fits.push(lm);
    else disposeModel(lm.model);
  }
  const best = fits.sort((a, b) => modelRates(a.model.config).length - modelRates(b.model.config).length)[0];
  for (const lm of fits) if (lm !== best) disposeModel(lm.model);
  if (!best) throw new UserError(`no shipped model codes groups at rates ${rates.join(',')}; shipped: ${shipped.join(', ')}`);
  return best;
}

/** The shipped model whose weights have this sha256 (what an .rdpv header names); unknown weights are a UserError. */
export async function loadZooModelBySha(store: WeightStore, sha256: string, modelId: string): Promise<LoadedModel> {
  const entry = (await zooManifest(store)).find((e) => e.sha256 === sha256);
  if (!entry) throw new UserError(`the file was made by model '${modelId}' (weights ${sha256.slice(0, 12)}...), which is not a shipped model: pass its weight file with --model`);
  return loadEntry(store, entry);
}
