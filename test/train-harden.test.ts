import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, tf } from '../src/engine/index.ts';
import type { GopModelConfig } from '../src/models/gop.ts';
import type { BatchNormParams } from '../src/models/layers.ts';
import { GopTrainer } from '../src/train/gop-trainer.ts';
import { presets, sourceFor, type TrainConfig } from '../src/train/presets.ts';
import { IFrameTrainer } from '../src/train/iframe-trainer.ts';
import { runTraining } from '../src/train/run.ts';

// The GOP trainers need the wasm kernel pack (the warp); the I-frame one runs on either.
await initEngine({ backend: 'wasm' });

/** Steps 0-3 of a trainer at learning rate 0: the BatchNorms' scale and shift after each. */
function scaleAndShift(step: (s: number) => void, bns: readonly BatchNormParams[]): number[][] {
  for (const bn of bns) bn.beta.assign(tf.fill([bn.beta.shape[0]!], 0.25));
  const snapshot = () => bns.flatMap((bn) => [...bn.gamma.dataSync(), ...bn.beta.dataSync()]);
  return [snapshot(), ...[0, 1, 2, 3].map((s) => (step(s), snapshot()))];
}

test('hardening multiplies the encoder latent scale and shift by its gain once, at its step', () => {
  // Learning rate 0: only the hardening can change the latent BatchNorm's parameters.
  for (const name of ['tiny-mse', 'tiny-pframe-12-12-mse']) {
    const base = presets[name]!;
    const config: TrainConfig = { ...base, codecOptimizer: { ...base.codecOptimizer, lr: 0 }, harden: { at: 2, gain: 3 } };
    const [t, bns] = name === 'tiny-mse'
      ? ((t) => [t, [t.m.enc.latentBn]] as const)(new IFrameTrainer(config, sourceFor(base)))
      : ((t) => [t, [t.m.pframes[0]!.enc!.motion.latent.bn, t.m.pframes[0]!.enc!.content!.latent.bn]] as const)(new GopTrainer(config, sourceFor(base)));
    const [start, ...after] = scaleAndShift((s) => tf.dispose(Object.values(t.step(s))), bns);
    assert.deepEqual(after[1], start, `${name}: unchanged before its step`);
    assert.deepEqual(after[2], start!.map((v) => Math.fround(v * 3)), `${name}: scaled at its step`);
    assert.deepEqual(after[3], after[2], `${name}: scaled only once`);
  }
});

test('a finished MSE stage resumes into a recipe that adds a hardening step at or after its checkpoint, and no other', async () => {
  const name = 'tiny-pframe-inf-2-mse';
  const base = presets[name]!;
  const quiet = { say: () => {}, preset: name };
  const run = (out: string, config: TrainConfig, resume: boolean) => runTraining({ ...quiet, config, out, resume });
  const done = async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rdpv-harden-')), 'run');
    assert.equal((await run(out, base, false)).step, 6);
    return out;
  };
  const extended = await run(await done(), { ...base, steps: 8, harden: { at: 6, gain: 2 } }, true);
  assert.deepEqual([extended.exitCode, extended.step], [0, 8]);
  await assert.rejects(run(await done(), { ...base, steps: 8, harden: { at: 5, gain: 2 } }, true), /written by a different configuration/);
  await assert.rejects(run(await done(), { ...base, steps: 8, harden: { at: 6, gain: 2 }, lrDropAt: 7 }, true), /written by a different configuration/);
});

test('centred latents: the P-frame latents\' BatchNorm shift stays 0 through training while its scale learns; by default the shift learns', () => {
  const base = presets['tiny-pframe-inf-2-mse']!;
  const shifts = (centredLatents: boolean) => {
    const config: TrainConfig = { ...base, model: { ...(base.model as GopModelConfig), ...(centredLatents ? { centredLatents } : {}) } };
    const t = new GopTrainer(config, sourceFor(config));
    const bns = [t.m.pframes[0]!.enc!.motion.latent.bn, t.m.pframes[0]!.enc!.content!.latent.bn];
    const gamma = bns.map((bn) => [...bn.gamma.dataSync()]);
    for (const s of [0, 1, 2]) tf.dispose(Object.values(t.step(s)));
    assert.ok(bns.every((bn, i) => [...bn.gamma.dataSync()].some((g, j) => g !== gamma[i]![j])), 'the scale learns');
    return bns.flatMap((bn) => [...bn.beta.dataSync()]);
  };
  assert.ok(shifts(false).some((b) => b !== 0));
  assert.deepEqual(shifts(true), [0, 0]);
});
