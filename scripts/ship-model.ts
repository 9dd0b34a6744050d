/**
 * Copy a finished training run's model into models/ and record it in models/manifest.json:
 *   node --import tsx scripts/ship-model.ts RUN_DIR NAME "COMMAND" [...] [--stage1 RUN_DIR] [--default]
 * RUN_DIR is the run that wrote the model; --stage1 names the MSE run a perception run started
 * from, so the manifest's training time covers both stages. The metrics, times and sha256 come
 * from the runs' own result.json files and the copied file, never typed by hand.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags } from '../src/cli/args.ts';
import { sha256Hex } from '../src/models/model-file.ts';
import { folderStore, ZOO_DIR } from '../src/models/weights-io.ts';
import { zooManifest, type ZooEntry } from '../src/models/zoo.ts';

const USAGE = 'usage: ship-model.ts RUN_DIR NAME "COMMAND" [...] [--stage1 RUN_DIR] [--default]';
let flags;
try {
  flags = parseFlags(process.argv.slice(2), { stage1: { type: 'string' }, default: { type: 'boolean' } }, true);
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { values: { stage1: stage1Dir, default: isDefault }, positionals: [runDir, name, ...commands] } = flags;
if (!runDir || !name || commands.length === 0) {
  console.error(USAGE);
  process.exit(2);
}
const readResult = (dir: string) => JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
const result = readResult(runDir);
const stages = [...(stage1Dir ? [readResult(stage1Dir)] : []), result].map((r) => ({ preset: r.preset, steps: r.steps, train_seconds: r.train_seconds }));
const file = `${name}.safetensors`;
copyFileSync(result.model, join(ZOO_DIR, file));
const sha256 = await sha256Hex(readFileSync(join(ZOO_DIR, file)));
if (sha256 !== result.sha256) throw new Error(`copied file's sha256 ${sha256} differs from the run's ${result.sha256}`);
let models: ZooEntry[] = [];
try {
  models = (await zooManifest(folderStore())).filter((e) => e.name !== name);
} catch {
  // first model: no manifest yet
}
if (isDefault) for (const e of models) delete e.default;
models.push({
  name, file, sha256, ...(isDefault ? { default: true } : {}), commands,
  preset: result.preset, stages, train_seconds: Number(stages.reduce((t, st) => t + st.train_seconds, 0).toFixed(1)), metrics: result.metrics,
});
writeFileSync(join(ZOO_DIR, 'manifest.json'), JSON.stringify({ models }, null, 2) + '\n');
console.log(`${file} sha256 ${sha256} recorded in models/manifest.json`);
