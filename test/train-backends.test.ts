import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { disposeParams } from '../src/models/params.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { presets, sourceFor } from '../src/train/presets.ts';
import { IFrameTrainer } from '../src/train/iframe-trainer.ts';
import { readLosses } from '../src/train/trainer.ts';

/** Losses of the first steps of a preset on one backend. */
async function losses(backend: 'cpu' | 'wasm', preset: string, steps: number): Promise<Record<string, number>[]> {
  await initEngine({ backend });
  const trainer = new IFrameTrainer(presets[preset]!, sourceFor(presets[preset]!));
  const out: Record<string, number>[] = [];
  for (let s = 0; s < steps; s++) out.push(await readLosses(trainer.step(s)));
  for (const group of Object.values(trainer.checkpointGroups())) disposeParams(group);
  return out;
}

test('a wasm training step (the default backend) matches the cpu reference backend', async () => {
  for (const preset of ['tiny-mse', 'tiny-perception']) {
    const [cpu, wasm] = [await losses('cpu', preset, 4), await losses('wasm', preset, 4)];
    cpu.forEach((l, s) => {
      for (const [k, v] of Object.entries(l)) {
        assert.ok(Math.abs(v - wasm[s]![k]!) <= 1e-3 * Math.max(1, Math.abs(v)), `${preset} step ${s} ${k}: cpu ${v}, wasm ${wasm[s]![k]}`);
      }
    });
  }
});

test('training steps of both stages leave no tensors behind', async () => {
  await initEngine({ backend: 'cpu' });
  for (const preset of ['tiny-mse', 'tiny-perception']) {
    const trainer = new IFrameTrainer(presets[preset]!, sourceFor(presets[preset]!));
    await readLosses(trainer.step(0));
    await readLosses(trainer.step(1));
    const before = tf.memory().numTensors;
    for (let s = 2; s < 6; s++) await readLosses(trainer.step(s));
    assert.equal(tf.memory().numTensors, before, preset);
    await evaluate(trainer.model(), sourceFor(presets[preset]!), { samples: 4, ditherSeeds: [1, 2], batch: 2 });
    assert.equal(tf.memory().numTensors, before, `${preset} evaluate`);
  }
});
