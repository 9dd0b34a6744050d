/**
 * The theory file format (docs/theory.md): a source (discrete or Gaussian) and an encoder.
 * Every check names the offending field, e.g. `source.p[3]: probability -0.1 is negative`.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.ts';
import type { DiscreteModel } from './discrete.ts';

export type Message = string | number;

export interface DiscreteSource {
  kind: 'discrete';
  /** support[i][j]: frame j of point i. */
  support: number[][][];
  p: number[];
}

export interface GaussianSource {
  kind: 'gaussian';
  frames: number;
  /** Mean and covariance of the stacked frames (frames * dim entries). */
  mean: number[];
  cov: number[][];
}

export type Encoder =
  | { kind: 'table'; messages: Message[][] }
  | { kind: 'shared'; p: number[]; messages: Message[][][] }
  | { kind: 'quantizer'; step: number[] }
  | { kind: 'noisy'; noiseVar: number[] };

export interface TheorySpec {
  source: DiscreteSource | GaussianSource;
  encoder?: Encoder;
}

/** Tolerance on the sum of a probability vector. */
export const PROB_TOL = 1e-9;

type Json = unknown;

function fail(path: string, what: string): never {
  throw new UserError(`${path}: ${what}`);
}

function object(v: Json, path: string, allowed: string[]): Record<string, Json> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(`${path}.${k}`, `unknown key (allowed: ${allowed.join(', ')})`);
  return v as Record<string, Json>;
}

function array(v: Json, path: string, length?: number): Json[] {
  if (!Array.isArray(v)) fail(path, 'must be an array');
  if (length !== undefined && v.length !== length) fail(path, `has ${v.length} entries, expected ${length}`);
  return v;
}

function num(v: Json, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, `must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function required(o: Record<string, Json>, key: string, path: string): Json {
  if (!(key in o)) fail(`${path}.${key}`, 'missing');
  return o[key];
}

/** A probability vector: non-negative entries summing to 1 within PROB_TOL. */
export function probabilities(v: Json, path: string, length?: number): number[] {
  const p = array(v, path, length).map((x, i) => num(x, `${path}[${i}]`));
  if (p.length === 0) fail(path, 'is empty');
  p.forEach((x, i) => x < 0 && fail(`${path}[${i}]`, `probability ${x} is negative`));
  const total = p.reduce((s, x) => s + x, 0);
  if (Math.abs(total - 1) > PROB_TOL) fail(path, `probabilities sum to ${total}, not 1 (tolerance ${PROB_TOL})`);
  return p;
}

function messageTable(v: Json, path: string, points: number, frames: number): Message[][] {
  return array(v, path, points).map((row, i) =>
    array(row, `${path}[${i}]`, frames).map((m, j) => {
      if (typeof m === 'string' || (typeof m === 'number' && Number.isInteger(m))) return m;
      return fail(`${path}[${i}][${j}]`, `message must be a string or an integer, got ${JSON.stringify(m)}`);
    }),
  );
}

function discreteSource(o: Record<string, Json>): DiscreteSource {
  const support = array(required(o, 'support', 'source'), 'source.support');
  if (support.length === 0) fail('source.support', 'is empty');
  let frames = -1, dim = -1;
  const points = support.map((pt, i) => {
    const fs = array(pt, `source.support[${i}]`);
    if (frames < 0) frames = fs.length;
    if (fs.length !== frames || frames === 0) fail(`source.support[${i}]`, `has ${fs.length} frames, expected ${frames || 'at least 1'}`);
    return fs.map((f, j) => {
      const path = `source.support[${i}][${j}]`;
      const xs = array(f, path);
      if (dim < 0) dim = xs.length;
      if (xs.length !== dim || dim === 0) fail(path, `frame has ${xs.length} values, expected ${dim || 'at least 1'}`);
      return xs.map((x, k) => num(x, `${path}[${k}]`));
    });
  });
  return { kind: 'discrete', support: points, p: probabilities(required(o, 'p', 'source'), 'source.p', points.length) };
}

function gaussianSource(g: Record<string, Json>): GaussianSource {
  const frames = num(required(g, 'frames', 'source.gaussian'), 'source.gaussian.frames');
  if (!Number.isInteger(frames) || frames < 1) fail('source.gaussian.frames', `must be a positive integer, got ${frames}`);
  const mean = array(required(g, 'mean', 'source.gaussian'), 'source.gaussian.mean').map((x, i) => num(x, `source.gaussian.mean[${i}]`));
  if (mean.length === 0 || mean.length % frames !== 0) fail('source.gaussian.mean', `has ${mean.length} entries, not a positive multiple of frames = ${frames}`);
  const cov = array(required(g, 'cov', 'source.gaussian'), 'source.gaussian.cov', mean.length).map((row, i) =>
    array(row, `source.gaussian.cov[${i}]`, mean.length).map((x, k) => num(x, `source.gaussian.cov[${i}][${k}]`)),
  );
  cov.forEach((row, i) =>
    row.forEach((x, k) => {
      if (Math.abs(x - cov[k]![i]!) > 1e-12 * Math.max(1, Math.abs(x))) fail(`source.gaussian.cov[${i}][${k}]`, `${x} differs from cov[${k}][${i}] = ${cov[k]![i]} (must be symmetric)`);
    }),
  );
  return { kind: 'gaussian', frames, mean, cov };
}

function encoder(v: Json, source: DiscreteSource | GaussianSource): Encoder {
  if (source.kind === 'gaussian') {
    const o = object(v, 'encoder', ['quantizer', 'noisy']);
    const frames = source.frames;
    if ('quantizer' in o === 'noisy' in o) fail('encoder', "needs exactly one of 'quantizer' or 'noisy' for a Gaussian source");
    if ('quantizer' in o) {
      const q = object(o.quantizer, 'encoder.quantizer', ['step']);
      const step = array(required(q, 'step', 'encoder.quantizer'), 'encoder.quantizer.step', frames).map((x, j) => num(x, `encoder.quantizer.step[${j}]`));
      step.forEach((s, j) => s <= 0 && fail(`encoder.quantizer.step[${j}]`, `step ${s} must be positive`));
      return { kind: 'quantizer', step };
    }
    const q = object(o.noisy, 'encoder.noisy', ['noise_var']);
    const noiseVar = array(required(q, 'noise_var', 'encoder.noisy'), 'encoder.noisy.noise_var', frames).map((x, j) => num(x, `encoder.noisy.noise_var[${j}]`));
    noiseVar.forEach((s, j) => s <= 0 && fail(`encoder.noisy.noise_var[${j}]`, `variance ${s} must be positive`));
    return { kind: 'noisy', noiseVar };
  }
  const o = object(v, 'encoder', ['messages', 'k']);
  const points = source.support.length, frames = source.support[0]!.length;
  if ('messages' in o === 'k' in o) fail('encoder', "needs exactly one of 'messages' or 'k' for a discrete source");
  if ('messages' in o) return { kind: 'table', messages: messageTable(o.messages, 'encoder.messages', points, frames) };
  const k = object(o.k, 'encoder.k', ['p', 'messages']);
  const p = probabilities(required(k, 'p', 'encoder.k'), 'encoder.k.p');
  const tables = array(required(k, 'messages', 'encoder.k'), 'encoder.k.messages', p.length).map((t, i) =>
    messageTable(t, `encoder.k.messages[${i}]`, points, frames),
  );
  return { kind: 'shared', p, messages: tables };
}

/** Validate a parsed JSON value as a theory spec. The encoder may be absent (families build their own). */
export function parseSpec(v: Json): TheorySpec {
  const top = object(v, '(top level)', ['source', 'encoder']);
  const src = object(required(top, 'source', '(top level)'), 'source', ['support', 'p', 'gaussian']);
  if ('gaussian' in src && ('support' in src || 'p' in src)) fail('source', "has both 'gaussian' and 'support'/'p'");
  const source = 'gaussian' in src ? gaussianSource(object(src.gaussian, 'source.gaussian', ['frames', 'mean', 'cov'])) : discreteSource(src);
  return 'encoder' in top ? { source, encoder: encoder(top.encoder, source) } : { source };
}

/** Read and validate a theory file; every failure is a one-line UserError. */
export function readSpec(file: string): TheorySpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  return parseSpec(json);
}

/** The finite model of a discrete source under a table encoder (with or without shared K). */
export function discreteModel(source: DiscreteSource, enc: Encoder | undefined): DiscreteModel {
  if (!enc) fail('encoder', 'missing (this command needs an encoder table)');
  if (enc.kind !== 'table' && enc.kind !== 'shared') fail('encoder', `'${enc.kind}' applies to Gaussian sources only`);
  const ks = enc.kind === 'table' ? [{ q: 1, table: enc.messages }] : enc.p.map((q, k) => ({ q, table: enc.messages[k]! }));
  const states = ks.flatMap(({ q, table }, k) =>
    source.support.map((x, i) => ({
      p: source.p[i]! * q,
      x,
      cell: x.map((_, j) => JSON.stringify([k, ...table[i]!.slice(0, j + 1)])),
    })),
  );
  return { frames: source.support[0]!.length, dim: source.support[0]![0]!.length, states: states.filter((s) => s.p > 0) };
}
