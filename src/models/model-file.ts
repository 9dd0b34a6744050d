/**
 * Model files: bytes in, model out, with no file system (browsers read the same files). The
 * metadata key `model` holds the ModelConfig, what rebuilds the network; the sha256 of the
 * bytes names the weights in .rdpv headers. A new model kind adds its entry to MODEL_KINDS.
 */
import { UserError } from '../errors.ts';
import { isRateName, type RateName } from '../codec/rates.ts';
import { LEGACY_PREFIXES } from './decoders.ts';
import { disposeIFrameModel, iframeFromArrays, iframeGroups, type IFrameModel, type IFrameModelConfig } from './iframe.ts';
import type { CriticParams } from './critic.ts';
import { disposeGopModel, gopFromArrays, gopGroups, type GopModel, type GopModelConfig } from './gop.ts';
import { encodeParams, flattenParams, type ParamTree } from './params.ts';
import { decodeTensorFile, type NamedArrays } from './tensor-file.ts';

export type ModelConfig = IFrameModelConfig | GopModelConfig;
export type Model = IFrameModel | GopModel;

interface ModelKind<M extends Model> {
  fromArrays(config: M['config'], arrays: NamedArrays, source: string): M;
  groups(m: M): Record<string, ParamTree>;
  /** The marginal critic that scores frame t (0-based), where the model has one. */
  critic(m: M, t: number): CriticParams | undefined;
  dispose(m: M): void;
}

const MODEL_KINDS: { [K in ModelConfig['kind']]: ModelKind<Extract<Model, { config: { kind: K } }>> } = {
  iframe: { fromArrays: iframeFromArrays, groups: iframeGroups, critic: (m) => m.critics.marginal, dispose: disposeIFrameModel },
  gop: {
    fromArrays: gopFromArrays,
    groups: gopGroups,
    critic: (m, t) => (t === 0 ? m.iframe?.critics.marginal : m.pframes[t - 1]?.critics.marginal),
    dispose: disposeGopModel,
  },
};

/** One line about a model's network: kind, widths, rates. */
export function describeModel(c: ModelConfig): string {
  return c.kind === 'iframe' ? `iframe widths ${c.widths.join('-')} rate ${c.rate}` : `gop rates ${c.rates.join(',')} pframe widths ${c.pframeWidths.join('-')}${c.centredLatents ? ' centred latents' : ''}${c.warpedPast ? ' jd past warped' : ''}`;
}

/** The rate of each frame of the model's group of pictures. */
export const modelRates = (c: ModelConfig): RateName[] => (c.kind === 'iframe' ? [c.rate] : c.rates);

const kindOf = (m: Model) => MODEL_KINDS[m.config.kind] as ModelKind<Model>;
export const modelGroups = (m: Model) => kindOf(m).groups(m);
export const disposeModel = (m: Model) => kindOf(m).dispose(m);
export const marginalCritic = (m: Model, t: number) => kindOf(m).critic(m, t);

/** A model with what names it: `id` (the zoo or preset name) and the sha256 of its file's bytes. */
export interface LoadedModel {
  id: string;
  sha256: string;
  model: Model;
}

/** sha256 through Web Crypto, which Node 20 and browsers share. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A model's file: its groups' tensors, its config under `model`, its name under `name`, and any other metadata. */
export function encodeModelFile(m: Model, name: string, metadata: Record<string, string> = {}): Uint8Array {
  return encodeParams(modelGroups(m), { ...metadata, name, model: JSON.stringify(m.config) });
}

/**
 * Files written before the model config had its own key hold the training config under
 * `config`, the decoders under `dec`/`pdec` and the critic under `critic`: read them as today's.
 */
function legacy(arrays: NamedArrays, metadata: Record<string, string>, source: string): ModelConfig {
  let t: { widths?: unknown; rate?: unknown; criticWidths?: unknown; spectralNorm?: unknown };
  try {
    t = JSON.parse(metadata.config ?? '');
  } catch {
    throw new UserError(`${source}: no model config in the file's metadata (not a model written by rdpv train?)`);
  }
  const rate = String(t.rate);
  if (!Array.isArray(t.widths) || !isRateName(rate)) throw new UserError(`${source}: the metadata's config has no I-frame widths and rate`);
  for (const name of [...arrays.keys()]) {
    const dot = name.indexOf('.');
    const prefix = LEGACY_PREFIXES[name.slice(0, dot)];
    if (prefix === undefined) continue;
    arrays.set(prefix + name.slice(dot), arrays.get(name)!);
    arrays.delete(name);
  }
  const hasCritic = [...arrays.keys()].some((k) => k.startsWith(`${LEGACY_PREFIXES.critic}.`));
  if (hasCritic && !Array.isArray(t.criticWidths)) throw new UserError(`${source}: the file has a critic but its config has no criticWidths`);
  return {
    kind: 'iframe', size: 64, widths: t.widths as number[], rate,
    ...(hasCritic ? { critic: { widths: t.criticWidths as number[], spectralNorm: t.spectralNorm === true } } : {}),
  };
}

function parseConfig(json: string, source: string): ModelConfig {
  let c: ModelConfig;
  try {
    c = JSON.parse(json) as ModelConfig;
  } catch {
    throw new UserError(`${source}: the model config in the file's metadata is not JSON`);
  }
  if (!(c?.kind in MODEL_KINDS)) throw new UserError(`${source}: unknown model kind '${String(c?.kind)}'`);
  return c;
}

/**
 * Where a stored difference gets the tensors it inherits: the shipped model of that name, whose
 * sha256 must be this one (src/models/zoo.ts, zooBase).
 */
export type BaseResolver = (name: string, sha256: string) => Promise<NamedArrays>;

/**
 * A file shipped as its difference from another shipped model (scripts/ship-model.ts --base: its
 * metadata `inherits` lists the tensors it takes from `base`, pinned by `base_sha256`), completed
 * from the base; any other file as it is.
 */
export async function withInherited(arrays: NamedArrays, metadata: Record<string, string>, source: string, base?: BaseResolver): Promise<NamedArrays> {
  if (metadata.inherits === undefined) return arrays;
  const name = metadata.base ?? '?';
  if (!base || metadata.base_sha256 === undefined) throw new UserError(`${source}: holds only what differs from the shipped model '${name}': load it by its zoo name or from the zoo folder`);
  const from = await base(name, metadata.base_sha256);
  const merged = new Map(arrays);
  for (const t of JSON.parse(metadata.inherits) as string[]) {
    const a = from.get(t);
    if (!a) throw new UserError(`${source}: its base '${name}' has no tensor '${t}'`);
    merged.set(t, a);
  }
  return merged;
}

/**
 * Read a model file; `source` names it in errors. The file's `name` (or its legacy `preset`)
 * becomes the model id. `base` completes a file shipped as a difference (withInherited).
 */
export async function readModelFile(bytes: Uint8Array, source: string, base?: BaseResolver): Promise<LoadedModel> {
  const decoded = decodeTensorFile(bytes, source);
  const metadata = decoded.metadata;
  const arrays = await withInherited(decoded.arrays, metadata, source, base);
  const config = metadata.model !== undefined ? parseConfig(metadata.model, source) : legacy(arrays, metadata, source);
  const model = (MODEL_KINDS[config.kind] as ModelKind<Model>).fromArrays(config, arrays, source);
  const known = new Set(Object.entries(modelGroups(model)).flatMap(([p, t]) => flattenParams(t, p).map(([n]) => n)));
  const extra = [...arrays.keys()].find((k) => !known.has(k));
  if (extra !== undefined) {
    disposeModel(model);
    throw new UserError(`${source}: unexpected tensor '${extra}' (model mismatch?)`);
  }
  return { id: metadata.name ?? metadata.preset ?? 'unnamed', sha256: await sha256Hex(bytes), model };
}
