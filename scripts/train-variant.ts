/**
 * Train a preset with some of its fields overridden, exactly as `rdpv train --preset` would
 * otherwise (runTraining, checkpoints, --resume): the recipe experiments of
 * docs/results/pframe.md. A stage-2 preset starts from its stage-1 run beside OUT's parent
 * (or FROM):
 *   node --import tsx scripts/train-variant.ts PRESET OUT '{"criticPerDecoder":5,"steps":2500}' [--resume] [--from FILE]
 * Once a preset carries the same settings, `rdpv train --preset PRESET --out OUT --resume`
 * continues the run.
 */
import { initEngine } from '../src/engine/index.ts';
import { presets } from '../src/train/presets.ts';
import { runTraining } from '../src/train/run.ts';

const [name, out, json] = process.argv.slice(2);
const from = process.argv.indexOf('--from');
if (!name || !out || !json || !presets[name]) {
  console.error('usage: train-variant.ts PRESET OUT JSON_OVERRIDES [--resume] [--from FILE]');
  process.exit(2);
}
await initEngine();
const config = { ...presets[name]!, ...JSON.parse(json) };
const r = await runTraining({ preset: name, config, out, resume: process.argv.includes('--resume'), ...(from > 0 ? { from: process.argv[from + 1] } : {}), progressSeconds: 60 });
process.exitCode = r.exitCode;
