import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { judgeW1, type JudgeConfig } from '../src/eval/judge.ts';

await initEngine({ backend: 'cpu' });

const config: JudgeConfig = { widths: [4, 8], size: 64, spectralNorm: true, steps: 25, batch: 8, seed: 3, optimizer: { lr: 2e-3, beta1: 0.5, beta2: 0.9 } };
const real = (start: number, n: number) => tf.tensor4d(movingMnistBatch({ split: 'test', seed: 1, frames: 1 }, start, n).data, [n, 64, 64, 1]);
const data = (fake: (x: tf.Tensor4D) => tf.Tensor4D) => ({ real, fake, trainFrom: 1000, heldOut: 16 });

test('the judge scores perfect reconstructions at W1 0 and blank ones well above, the same for the same seed', async () => {
  const perfect = await judgeW1(config, data((x) => x.clone()));
  const blank = await judgeW1(config, data((x) => tf.zerosLike(x)));
  assert.equal(perfect, 0);
  assert.ok(blank > 0.01, `blank frames scored ${blank}`);
  assert.equal(await judgeW1(config, data((x) => tf.zerosLike(x))), blank);
});

test('the judge frees every tensor it makes', async () => {
  const before = tf.memory().numTensors;
  await judgeW1({ ...config, steps: 2 }, data((x) => tf.zerosLike(x)));
  assert.equal(tf.memory().numTensors, before);
});
