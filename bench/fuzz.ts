/**
 * Long fuzzing of the .rdpv reader: `npm run fuzz -- --cases N [--seed S]`.
 * The last line is a JSON object with cases, typed_errors, roundtrips, other_failures;
 * the exit code is 1 when any case failed some other way, 2 for a bad flag.
 */
import { numberFlag, parseFlags } from '../src/cli/args.ts';
import { runFuzz } from '../src/codec/fuzz.ts';
import { benchOptions } from './common.ts';

const { cases, seed } = benchOptions((argv) => {
  const { values } = parseFlags(argv, { cases: { type: 'string' }, seed: { type: 'string' } });
  return { cases: Math.floor(numberFlag('cases', values.cases, 100_000, 1, 1e9)), seed: Math.floor(numberFlag('seed', values.seed, 1, 0, 0xffffffff)) };
});

function main(): number {
  const started = performance.now();
  const report = runFuzz(cases, seed);
  for (const f of report.failures) console.error(f);
  const seconds = +((performance.now() - started) / 1000).toFixed(2);
  console.log(JSON.stringify({ cases, typed_errors: report.typed_errors, roundtrips: report.roundtrips, other_failures: report.other_failures, seed, seconds }));
  return report.other_failures > 0 ? 1 : 0;
}

process.exitCode = main();
