import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { presets, sourceFor } from '../src/train/presets.ts';
import { IFrameTrainer } from '../src/train/iframe-trainer.ts';

await initEngine({ backend: 'cpu' });

test('hardening multiplies the encoder latent scale and shift by its gain once, at its step', () => {
  // Learning rate 0: only the hardening can change the latent BatchNorm's parameters.
  const base = presets['tiny-mse']!;
  const t = new IFrameTrainer({ ...base, codecOptimizer: { ...base.codecOptimizer, lr: 0 }, harden: { at: 2, gain: 3 } }, sourceFor(base));
  const bn = t.m.enc.latentBn;
  bn.beta.assign(tf.fill([bn.beta.shape[0]!], 0.25));
  const snapshot = () => [...bn.gamma.dataSync(), ...bn.beta.dataSync()];
  const start = snapshot();
  const after = [0, 1, 2, 3].map((s) => (tf.dispose(Object.values(t.step(s))), snapshot()));
  assert.deepEqual(after[1], start, 'unchanged before its step');
  assert.deepEqual(after[2], start.map((v) => Math.fround(v * 3)), 'scaled at its step');
  assert.deepEqual(after[3], after[2], 'scaled only once');
});
