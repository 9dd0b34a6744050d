import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { movingMnistSource } from '../src/data/source.ts';
import {
  classifierAccuracy, classify, decodeClassifier, DIGIT_CLASSIFIER, encodeClassifier, loadShippedClassifier, trainClassifier, type ClassifierConfig,
} from '../src/eval/classifier.ts';
import { encodeParams, flattenParams } from '../src/models/params.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { UserError } from '../src/errors.ts';

await initEngine({ backend: 'wasm' });

const TINY: ClassifierConfig = { size: 64, widths: [4, 4], classes: 10 };
const weights = (p: Parameters<typeof flattenParams>[0]) => flattenParams(p).map(([n, v]) => [n, Array.from(v.dataSync())] as const);

test('a tiny classifier trains deterministically: the same seed gives the same weights, another seed others', () => {
  const run = (seed: number) => trainClassifier({ config: TINY, seed, steps: 3, batch: 4 });
  const [a, b, c] = [run(7), run(7), run(8)];
  assert.deepEqual(weights(a.params), weights(b.params));
  assert.notDeepEqual(weights(a.params), weights(c.params));
  assert.equal(a.steps, 3);
  assert.ok(Number.isFinite(a.finalLoss) && a.seconds >= 0);
});

test('a classifier file round-trips: same config, same weights, same classes', () => {
  const { params } = trainClassifier({ config: TINY, seed: 3, steps: 2, batch: 4 });
  const bytes = encodeClassifier(TINY, params, { name: 'tiny' });
  const back = decodeClassifier(bytes, 'tiny.safetensors');
  assert.deepEqual(back.config, TINY);
  assert.equal(back.metadata.name, 'tiny');
  assert.deepEqual(weights(back.params), weights(params));
  const frames = movingMnistSource({ seed: 2 }).batch('test', 0, 6, 1);
  const x = tf.tensor4d(frames.data, [6, 64, 64, 1]);
  assert.deepEqual(classify(back.params, x), classify(params, x));
  const got = classify(params, x);
  assert.ok(got instanceof Int32Array && got.length === 6 && got.every((k) => k >= 0 && k < 10));
  x.dispose();
  // A config that does not match the tensors, and a file that is no classifier: one-line errors.
  assert.throws(() => decodeClassifier(encodeClassifier({ ...TINY, widths: [4, 8] }, params), 'bad.safetensors'), (e: Error) => e instanceof UserError && /bad\.safetensors/.test(e.message));
  assert.throws(() => decodeClassifier(encodeParams({ x: params }, {}), 'other.safetensors'), (e: Error) => e instanceof UserError && /not a classifier/.test(e.message));
});

test('the shipped digit classifier reads >= 97% of 512 ground-truth test frames', async () => {
  const { config, params } = await loadShippedClassifier(folderStore());
  assert.deepEqual(config, DIGIT_CLASSIFIER);
  const acc = classifierAccuracy(params, movingMnistSource({ seed: 1 }), { samples: 512 });
  assert.equal(acc.frames, 512);
  assert.ok(acc.accuracy >= 0.97, `accuracy ${acc.accuracy}`);
});
