/**
 * Copy a finished training run's model into models/ and record it in models/manifest.json:
 *   node --import tsx scripts/ship-model.ts RUN_DIR NAME "COMMAND" ["COMMAND" ...] [--default]
 * The metrics and sha256 come from the run's own result.json and file, never typed by hand.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../src/models/weights-io.ts';
import { ZOO_DIR, zooManifest, type ZooEntry } from '../src/models/zoo.ts';

const args = process.argv.slice(2);
const isDefault = args.includes('--default');
const [runDir, name, ...commands] = args.filter((a) => a !== '--default');
if (!runDir || !name || commands.length === 0) {
  console.error('usage: ship-model.ts RUN_DIR NAME "COMMAND" [...] [--default]');
  process.exit(2);
}
const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8'));
const file = `${name}.safetensors`;
copyFileSync(result.model, join(ZOO_DIR, file));
const sha256 = sha256Hex(readFileSync(join(ZOO_DIR, file)));
if (sha256 !== result.sha256) throw new Error(`copied file's sha256 ${sha256} differs from the run's ${result.sha256}`);
let models: ZooEntry[] = [];
try {
  models = zooManifest().filter((e) => e.name !== name);
} catch {
  // first model: no manifest yet
}
if (isDefault) for (const e of models) delete e.default;
models.push({
  name, file, sha256, ...(isDefault ? { default: true } : {}), commands,
  preset: result.preset, steps: result.steps, train_seconds: result.train_seconds, metrics: result.metrics,
});
writeFileSync(join(ZOO_DIR, 'manifest.json'), JSON.stringify({ models }, null, 2) + '\n');
console.log(`${file} sha256 ${sha256} recorded in models/manifest.json`);
