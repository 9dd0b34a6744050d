/**
 * Train the digit classifier that reads reconstructed frames (src/eval/classifier.ts), score it
 * on ground-truth test frames, and ship it as models/digit-classifier.safetensors with its entry
 * in models/manifest.json (sha256, this command, training time, accuracy):
 *   node --import tsx scripts/train-classifier.ts
 * One wasm thread, seeded: the same command gives the same weights.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine } from '../src/engine/index.ts';
import { movingMnistSource } from '../src/data/source.ts';
import {
  classifierAccuracy, DIGIT_CLASSIFIER, DIGIT_CLASSIFIER_NAME, DIGIT_CLASSIFIER_TRAINING, encodeClassifier, trainClassifier,
} from '../src/eval/classifier.ts';
import { sha256Hex } from '../src/models/model-file.ts';
import { writeFileAtomic, ZOO_DIR } from '../src/models/weights-io.ts';
import { MANIFEST } from '../src/models/zoo.ts';

const COMMAND = 'node --import tsx scripts/train-classifier.ts';
/** Test sequences scored (frame 1 of each, data seed 1: the frames `rdpv eval` reads). */
const TEST_FRAMES = 2000;

await initEngine({ threads: 1 });
const t = DIGIT_CLASSIFIER_TRAINING;
const cpu0 = process.cpuUsage();
const trained = trainClassifier({
  config: DIGIT_CLASSIFIER, seed: t.seed, steps: t.steps, batch: t.batch, lr: t.lr, logEvery: 250,
  onLog: (step, loss) => console.error(`step ${step}/${t.steps} loss ${loss.toFixed(4)}`),
});
const cpu = process.cpuUsage(cpu0);
// CPU time beside the wall clock: on a shared machine the wall clock also counts the other processes.
const cpuSeconds = Number(((cpu.user + cpu.system) / 1e6).toFixed(1));
const acc = classifierAccuracy(trained.params, movingMnistSource({ seed: 1 }), { samples: TEST_FRAMES });
console.error(`trained in ${trained.seconds.toFixed(1)} s (${cpuSeconds} s of CPU); accuracy ${acc.correct}/${acc.frames} = ${acc.accuracy} on ${acc.source}, test split`);

const file = `${DIGIT_CLASSIFIER_NAME}.safetensors`;
const bytes = encodeClassifier(DIGIT_CLASSIFIER, trained.params, {
  name: DIGIT_CLASSIFIER_NAME, training: JSON.stringify(t), accuracy: String(acc.accuracy), test_frames: String(acc.frames),
});
writeFileAtomic(join(ZOO_DIR, file), bytes);
const sha256 = await sha256Hex(bytes);
const manifestPath = join(ZOO_DIR, MANIFEST);
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { models: { name: string }[] };
const seconds = Number(trained.seconds.toFixed(1));
manifest.models = manifest.models.filter((e) => e.name !== DIGIT_CLASSIFIER_NAME);
manifest.models.push({
  name: DIGIT_CLASSIFIER_NAME, kind: 'classifier', file, sha256, commands: [COMMAND], preset: DIGIT_CLASSIFIER_NAME,
  stages: [{ preset: DIGIT_CLASSIFIER_NAME, steps: t.steps, train_seconds: seconds }], train_seconds: seconds, train_cpu_seconds: cpuSeconds,
  metrics: { accuracy: acc.accuracy, test_frames: acc.frames },
} as { name: string });
writeFileAtomic(manifestPath, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
console.log(`${file} sha256 ${sha256}: accuracy ${acc.accuracy} on ${acc.frames} test frames, ${seconds} s of training (${cpuSeconds} s of CPU); recorded in models/${MANIFEST}`);
