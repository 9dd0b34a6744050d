import { parseArgs, type ParseArgsConfig } from 'node:util';
import { availableParallelism } from 'node:os';
import { MAX_WASM_THREADS } from '../engine/index.ts';
import { UserError } from '../errors.ts';

/**
 * One flag: its kind, what it allows, its default (a flag without one reads as undefined when
 * absent), and for --help its meaning (`help`) and the name of its value (`value`).
 */
export type Flag = { short?: string; help?: string; value?: string } & (
  | { type: 'string'; default?: string }
  | { type: 'boolean' }
  | { type: 'int' | 'number'; min?: number; max?: number; default?: number }
  | { type: 'choice'; choices: readonly string[]; default?: string }
);

type Value<F> = F extends { type: 'boolean' } ? boolean
  : F extends { type: 'int' | 'number' } ? number
  : F extends { choices: readonly (infer C extends string)[] } ? C
  : string;

/** The parsed values: booleans and flags with a default are always set, the others may be undefined. */
export type Values<S extends Record<string, Flag>> = {
  [K in keyof S]: S[K] extends { type: 'boolean' } | { default: unknown } ? Value<S[K]> : Value<S[K]> | undefined;
};

/** True when the arguments (before any `--`) ask for help; main.ts then prints the command's usage. */
export function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

function rangeText(flag: { min?: number; max?: number }): string {
  const { min = -Infinity, max = Infinity } = flag;
  return min > -Infinity && max < Infinity ? ` in [${min}, ${max}]` : min > -Infinity ? ` >= ${min}` : max < Infinity ? ` <= ${max}` : '';
}

function toNumber(name: string, flag: { type: 'int' | 'number'; min?: number; max?: number }, value: string): number {
  const { min = -Infinity, max = Infinity } = flag;
  // Decimal notation only (1, -2.5, .5, 1e3): not '', hex, binary or 'Infinity'.
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value.trim()) ? Number(value) : NaN;
  if (Number.isFinite(n) && n >= min && n <= max && (flag.type === 'number' || Number.isInteger(n))) return n;
  throw new UserError(`--${name} must be ${flag.type === 'int' ? 'an integer' : 'a number'}${rangeText(flag)}, got '${value}'`);
}

/** A token that reads as a negative number (`-1`, `-0.5`, `-.5`, `-1e3`), not as a flag. */
const NEGATIVE = /^-(\d|\.\d)/;

/**
 * node:util parseArgs reads `--lambda -1` as a flag without its value ("argument is ambiguous").
 * Join a value-taking flag and a following negative number into `--lambda=-1` (`-x=-1` for a
 * short flag is not valid parseArgs syntax, so a short flag becomes its long name).
 */
function joinNegatives(args: string[], spec: Record<string, Flag>): string[] {
  const byShort = new Map(Object.entries(spec).filter(([, f]) => f.short).map(([name, f]) => [f.short!, name]));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const name = a.startsWith('--') ? a.slice(2) : /^-[^-]$/.test(a) ? byShort.get(a.slice(1)) : undefined;
    const next = args[i + 1];
    if (name !== undefined && spec[name] && spec[name]!.type !== 'boolean' && next !== undefined && NEGATIVE.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Parse `args` against `spec` (node:util parseArgs, strict), converting and checking each value.
 * Every problem is a one-line UserError naming the flag, the bad value and what is allowed.
 */
export function parseFlags<const S extends Record<string, Flag>>(args: string[], spec: S, allowPositionals = false): { values: Values<S>; positionals: string[] } {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, f] of Object.entries(spec)) options[name] = { type: f.type === 'boolean' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegatives(args, spec), options, strict: true, allowPositionals });
  } catch (e) {
    throw new UserError((e as Error).message.split('\n')[0]!);
  }
  const values: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec)) {
    const raw = parsed.values[name];
    if (f.type === 'boolean') values[name] = raw === true;
    else if (typeof raw !== 'string') values[name] = f.default;
    else if (f.type === 'int' || f.type === 'number') values[name] = toNumber(name, f, raw);
    else if (f.type === 'choice' && !f.choices.includes(raw)) throw new UserError(`--${name} must be one of ${f.choices.join(', ')}, got '${raw}'`);
    else values[name] = raw;
  }
  return { values: values as Values<S>, positionals: parsed.positionals };
}

/** The names of the flags given on the command line (so a command can refuse those that do not apply). */
export function givenFlags(args: string[], spec: Record<string, Flag>): Set<string> {
  const byShort = new Map(Object.entries(spec).filter(([, f]) => f.short).map(([name, f]) => [f.short!, name]));
  const given = new Set<string>();
  for (const a of args) {
    if (a === '--') break;
    if (a.startsWith('--')) given.add(a.slice(2).split('=')[0]!);
    else if (/^-[^-\d.]/.test(a)) for (const ch of a.slice(1)) if (byShort.has(ch)) given.add(byShort.get(ch)!);
  }
  return given;
}

/**
 * The options section of a command's --help, from its flag spec: each flag, its value, its
 * meaning, what it allows and its default. Flags without `help` are left out (test hooks).
 */
export function optionsHelp(spec: Record<string, Flag>): string {
  const rows: [string, string][] = [];
  for (const [name, f] of Object.entries(spec)) {
    if (f.help === undefined) continue;
    const value = f.type === 'boolean' ? '' : ` ${f.value ?? (f.type === 'choice' ? f.choices.join('|') : f.type === 'int' ? 'N' : f.type === 'number' ? 'X' : 'VALUE')}`;
    const left = `${f.short ? `-${f.short}, ` : ''}--${name}${value}`;
    const notes: string[] = [];
    if ((f.type === 'int' || f.type === 'number') && (f.min !== undefined || f.max !== undefined)) notes.push(`${f.type === 'int' ? 'integer' : 'number'}${rangeText(f)}`);
    if ('default' in f && f.default !== undefined) notes.push(`default ${f.default === '' ? "''" : f.default}`);
    rows.push([left, `${f.help}${notes.length ? ` (${notes.join('; ')})` : ''}`]);
  }
  const width = Math.min(28, Math.max(...rows.map(([l]) => l.length)));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${l.length > width ? `\n  ${' '.repeat(width)}  ` : ''}${r}`).join('\n');
}

/** A number flag read from a string flag's value (the bench scripts use it); `fallback` when absent. */
export function numberFlag(name: string, value: string | undefined, fallback: number, min = -Infinity, max = Infinity): number {
  return value === undefined ? fallback : toNumber(name, { type: 'number', min, max }, value);
}

/** The tfjs backend of a command that computes (src/engine: wasm by default). */
export const backendFlag = {
  type: 'choice', choices: ['wasm', 'cpu', 'webgpu'], default: 'wasm', value: 'B',
  help: 'the tfjs backend: wasm (the kernel pack), cpu (plain JavaScript, the reference) or webgpu (a GPU through WebGPU; in Node through dawn)',
} as const satisfies Flag;

/**
 * The wasm backend's threads (XNNPACK on worker_threads), for commands that train or score: every
 * core by default, up to the backend's 8. Results are bit-identical whatever the count.
 */
export const threadsFlag = {
  type: 'int', min: 1, max: MAX_WASM_THREADS, default: Math.min(availableParallelism(), MAX_WASM_THREADS), value: 'N',
  help: `wasm backend threads (default: every core, at most ${MAX_WASM_THREADS}); results are bit-identical for any count`,
} as const satisfies Flag;
