import { test } from 'node:test';
import { initEngine } from '../src/engine/index.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { compressIFrames, decompressIFrames } from '../src/models/compress.ts';
import { loadZooModel } from '../src/models/zoo.ts';
import { assertClose } from './support/close.ts';
import { goldenFloats } from './support/golden.ts';

await initEngine({ backend: 'wasm' });

test('the shipped model decodes 16 test frames to the stored outputs with each decoder', () => {
  const model = loadZooModel();
  const frames = movingMnistBatch({ split: 'test', seed: 1, frames: 1 }, 0, 16).data;
  const file = compressIFrames(model, frames, 1);
  for (const name of ['mmse', 'perception'] as const) {
    const got = decompressIFrames(model, file, name).frames;
    assertClose(got, goldenFloats(`iframe-cpu-12-${name === 'perception' ? 'fmd' : name}.f32`, got), 1e-6, name);
  }
});
