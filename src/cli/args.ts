import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../errors.ts';

/** One flag: its kind, what it allows, and its default (a flag without one reads as undefined when absent). */
export type Flag = { short?: string } & (
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

function toNumber(name: string, flag: { type: 'int' | 'number'; min?: number; max?: number }, value: string): number {
  const { min = -Infinity, max = Infinity } = flag;
  const n = value.trim() === '' ? NaN : Number(value);
  if (Number.isFinite(n) && n >= min && n <= max && (flag.type === 'number' || Number.isInteger(n))) return n;
  const range = min > -Infinity && max < Infinity ? ` in [${min}, ${max}]` : min > -Infinity ? ` >= ${min}` : max < Infinity ? ` <= ${max}` : '';
  throw new UserError(`--${name} must be ${flag.type === 'int' ? 'an integer' : 'a number'}${range}, got '${value}'`);
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
    parsed = parseArgs({ args, options, strict: true, allowPositionals });
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

/** A number flag read from a string flag's value (the bench scripts use it); `fallback` when absent. */
export function numberFlag(name: string, value: string | undefined, fallback: number, min = -Infinity, max = Infinity): number {
  return value === undefined ? fallback : toNumber(name, { type: 'number', min, max }, value);
}
