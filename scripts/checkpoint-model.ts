/**
 * A training checkpoint as a model file (the optimizer state left out), to score a run part way:
 *   node --import tsx scripts/checkpoint-model.ts RUN/checkpoint.safetensors OUT.safetensors
 * The model is named <preset>@<step>.
 */
import { readFileSync } from 'node:fs';
import { decodeTensorFile, encodeTensorFile } from '../src/models/tensor-file.ts';
import { writeFileAtomic } from '../src/models/weights-io.ts';

const [ckpt, out] = process.argv.slice(2);
if (!ckpt || !out) {
  console.error('usage: checkpoint-model.ts CHECKPOINT OUT');
  process.exit(2);
}
const { arrays, metadata } = decodeTensorFile(new Uint8Array(readFileSync(ckpt)), ckpt);
for (const k of [...arrays.keys()]) if (k.startsWith('opt.')) arrays.delete(k);
const c = JSON.parse(metadata.config!);
// A perception-stage model carries its critics, as the run's own model file does.
const model = c.stage === 'perception' ? { ...c.model, critic: c.critic } : c.model;
writeFileAtomic(out, encodeTensorFile(arrays, { name: `${metadata.preset}@${metadata.step}`, model: JSON.stringify(model) }, { checksum: true }));
console.log(`${out}: ${metadata.preset} at step ${metadata.step}`);
