/**
 * Long fuzzing of the .rdpv reader: `npm run fuzz -- --cases N [--seed S]`.
 * The last line is a JSON object with cases, typed_errors, roundtrips, other_failures;
 * the exit code is 1 when any case failed some other way.
 */
import { numberFlag, parseFlags } from '../src/cli/args.ts';
import { runFuzz } from '../src/codec/fuzz.ts';

const { values } = parseFlags(process.argv.slice(2), { cases: { type: 'string' }, seed: { type: 'string' } });
const cases = numberFlag('cases', values.cases, 100_000, 1, 1e9);
const seed = numberFlag('seed', values.seed, 1, 0, 0xffffffff);
const started = performance.now();
const report = runFuzz(Math.floor(cases), Math.floor(seed));
for (const f of report.failures) console.error(f);
console.log(JSON.stringify({ cases: report.cases, typed_errors: report.typed_errors, roundtrips: report.roundtrips, other_failures: report.other_failures, seed, seconds: +((performance.now() - started) / 1000).toFixed(2) }));
process.exitCode = report.other_failures > 0 ? 1 : 0;
