/**
 * Parameters are typed records of tf.Variable (nested records allowed). A module is a
 * pure function of (params, inputs); everything here is generic over such records.
 */
import { tf } from '../engine/index.ts';
import { Rng } from '../rng.ts';
import { UserError } from '../errors.ts';
import { decodeTensorFile, encodeTensorFile, type NamedArrays } from './tensor-file.ts';

export interface ParamTree {
  [name: string]: tf.Variable | ParamTree;
}

/** Flatten a record into dotted names, in insertion order (stable, so files are reproducible). */
export function flattenParams(tree: ParamTree, prefix = ''): [string, tf.Variable][] {
  const out: [string, tf.Variable][] = [];
  for (const [key, value] of Object.entries(tree)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value instanceof tf.Variable) out.push([name, value]);
    else out.push(...flattenParams(value, name));
  }
  return out;
}

/** The variables that optimizers update (BatchNorm running stats and spectral-norm vectors are not). */
export function trainableVariables(tree: ParamTree): tf.Variable[] {
  return flattenParams(tree).map(([, v]) => v).filter((v) => v.trainable);
}

/** A variable holding `t`'s values; `t` itself is disposed (tf.variable keeps it alive otherwise). */
function own(t: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

/** Seeded initializers: each call site passes its own key so inits do not depend on call order. */
export function normalVar(shape: number[], std: number, seed: number, key: number, trainable = true): tf.Variable {
  const rng = new Rng(seed, key);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
  return own(tf.tensor(values, shape), trainable);
}

export function constVar(shape: number[], value: number, trainable = true): tf.Variable {
  return own(tf.fill(shape, value), trainable);
}

/** Copy the current values of a record into fresh variables (trainability kept). */
export function cloneParams<T extends ParamTree>(tree: T): T {
  const out: ParamTree = {};
  for (const [key, value] of Object.entries(tree)) {
    out[key] = value instanceof tf.Variable ? own(value.clone(), value.trainable) : cloneParams(value);
  }
  return out as T;
}

/** Assign every variable of `src` to the same-named one of `dst` (same shapes); both records have the same structure. */
export function copyParams(dst: ParamTree, src: ParamTree): void {
  const from = new Map(flattenParams(src));
  for (const [name, v] of flattenParams(dst)) {
    const s = from.get(name);
    if (!s || s.shape.join() !== v.shape.join()) throw new Error(`copyParams: '${name}' is missing or has another shape`);
    v.assign(s);
  }
}

export function disposeParams(tree: ParamTree): void {
  for (const [, v] of flattenParams(tree)) v.dispose();
}

/**
 * Fetch every variable's values to the host asynchronously: a GPU backend keeps them there, so
 * paramArrays and encodeParams then read them synchronously, which such a backend cannot do alone.
 */
export async function fetchParams(groups: Record<string, ParamTree>): Promise<void> {
  await Promise.all(Object.values(groups).flatMap((t) => flattenParams(t).map(([, v]) => v.data())));
}

/** Read every variable of a record to named host arrays. */
export function paramArrays(tree: ParamTree, prefix = ''): NamedArrays {
  const out: NamedArrays = new Map();
  for (const [name, v] of flattenParams(tree, prefix)) out.set(name, { shape: v.shape, data: v.dataSync() as Float32Array });
  return out;
}

/**
 * Assign named arrays into a record, checking that every name exists with the same shape.
 * `source` names the file for the error message.
 */
export function assignParams(tree: ParamTree, arrays: NamedArrays, source: string, prefix = ''): void {
  for (const [name, v] of flattenParams(tree, prefix)) {
    const a = arrays.get(name);
    if (!a) throw new UserError(`${source}: missing tensor '${name}'`);
    if (a.shape.length !== v.shape.length || a.shape.some((d, i) => d !== v.shape[i])) {
      throw new UserError(`${source}: tensor '${name}' has shape [${a.shape}], the model expects [${v.shape}]`);
    }
    v.assign(tf.tensor(a.data, a.shape));
  }
}

/** Serialize records (each under its own prefix) plus metadata to one tensor file, with the data section's sha256 (checked on read). */
export function encodeParams(groups: Record<string, ParamTree>, metadata: Record<string, string>): Uint8Array {
  const arrays: NamedArrays = new Map();
  for (const [prefix, tree] of Object.entries(groups)) for (const [k, a] of paramArrays(tree, prefix)) arrays.set(k, a);
  return encodeTensorFile(arrays, metadata, { checksum: true });
}

/** Load records saved by `encodeParams`; names, shapes and dtypes must match exactly, extra tensors are an error too. */
export function decodeParamsInto(bytes: Uint8Array, groups: Record<string, ParamTree>, source: string): Record<string, string> {
  const { arrays, metadata } = decodeTensorFile(bytes, source);
  const expected = new Set<string>();
  for (const [prefix, tree] of Object.entries(groups)) {
    assignParams(tree, arrays, source, prefix);
    for (const [name] of flattenParams(tree, prefix)) expected.add(name);
  }
  for (const name of arrays.keys()) {
    if (!expected.has(name)) throw new UserError(`${source}: unexpected tensor '${name}' (model mismatch?)`);
  }
  return metadata;
}
