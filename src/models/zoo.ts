/**
 * The weights that ship with the package (models/), indexed by models/manifest.json with their
 * sha256, the commands that made them and their measured metrics. Read through a WeightStore,
 * so Node (files) and a browser (fetch) share this code.
 */
import type { RateName } from '../codec/rates.ts';
import { UserError } from '../errors.ts';
import { disposeModel, modelRates, readModelFile, sha256Hex, withInherited, type BaseResolver, type LoadedModel } from './model-file.ts';
import { decodeTensorFile, encodeTensorFile, type NamedArrays, type StoredDtype } from './tensor-file.ts';

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
  /** The shipped model whose tensors this file inherits: it holds only the others (scripts/ship-model.ts --base). */
  base?: string;
}

export async function zooManifest(store: WeightStore): Promise<ZooEntry[]> {
  return (JSON.parse(new TextDecoder().decode(await store.read(MANIFEST))) as { models: ZooEntry[] }).models;
}

/** The entries that are codec models (the others, such as the digit classifier, are tools). */
export const codecEntries = <E extends Pick<ZooEntry, 'kind'>>(entries: E[]): E[] => entries.filter((e) => e.kind === undefined);

async function entryBytes(store: WeightStore, entry: ZooEntry): Promise<Uint8Array> {
  const bytes = await store.read(entry.file);
  if ((await sha256Hex(bytes)) !== entry.sha256) throw new UserError(`${store.where(entry.file)}: sha256 does not match ${MANIFEST} (corrupt or replaced file)`);
  return bytes;
}

/** The base a stored difference names, from this store: its entry must have that sha256; its own base is followed in turn. */
export function zooBase(store: WeightStore): BaseResolver {
  return async (name, sha256) => {
    const entry = (await zooManifest(store)).find((e) => e.name === name);
    if (entry?.sha256 !== sha256) throw new UserError(`a model is stored as its difference from the shipped model '${name}' (sha256 ${sha256.slice(0, 12)}...), which ${store.where(MANIFEST)} does not hold`);
    return zooArrays(store, entry);
  };
}

/** Every tensor of a shipped model, inherited ones included, without building it. */
export async function zooArrays(store: WeightStore, entry: ZooEntry): Promise<NamedArrays> {
  const { arrays, metadata } = decodeTensorFile(await entryBytes(store, entry), store.where(entry.file));
  return withInherited(arrays, metadata, store.where(entry.file), zooBase(store));
}

async function loadEntry(store: WeightStore, entry: ZooEntry): Promise<LoadedModel> {
  if (entry.kind !== undefined) throw new UserError(`'${entry.name}' is a shipped ${entry.kind}, not a codec model`);
  return { ...(await readModelFile(await entryBytes(store, entry), store.where(entry.file), zooBase(store))), id: entry.name };
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

type StoredTensor = NamedArrays extends Map<string, infer T> ? T : never;
const sameTensor = (a: StoredTensor, b: StoredTensor | undefined) => b !== undefined && a.shape.join() === b.shape.join() && a.data.every((v, i) => Object.is(v, b.data[i]));

/**
 * A model file (`whole`) as its difference from the shipped model `base`: the tensors equal bit for
 * bit to the base's are left out and listed under `inherits`, the base pinned by its sha256, the
 * others stored as `dtype` (what scripts/ship-model.ts --base writes). Checked by putting it back
 * together.
 */
export async function storedDifference(store: WeightStore, whole: Uint8Array, dtype: StoredDtype, base: string): Promise<{ bytes: Uint8Array; inherited: number }> {
  const entry = (await zooManifest(store)).find((e) => e.name === base);
  if (!entry) throw new UserError(`no shipped model '${base}' to store a difference from`);
  const from = await zooArrays(store, entry);
  const { arrays, metadata } = decodeTensorFile(whole, 'the model');
  const inherits = [...arrays].filter(([n, t]) => sameTensor(t, from.get(n))).map(([n]) => n);
  if (inherits.length === 0) throw new UserError(`the model shares no tensor with '${base}'`);
  const own: NamedArrays = new Map([...arrays].filter(([n]) => !inherits.includes(n)));
  const meta = { ...metadata, base, base_sha256: entry.sha256, inherits: JSON.stringify(inherits) };
  const bytes = encodeTensorFile(own, meta, { checksum: true, dtype });
  const back = await withInherited(decodeTensorFile(bytes, 'the difference').arrays, meta, 'the difference', zooBase(store));
  if (back.size !== arrays.size || inherits.some((n) => !sameTensor(arrays.get(n)!, back.get(n)))) throw new Error(`the difference from '${base}' does not put the model back together`);
  return { bytes, inherited: inherits.length };
}
