import { test } from 'node:test';
import { initEngine } from '../src/engine/index.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { loadZooModel } from '../src/models/zoo.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { compress, decompress } from '../src/video/codec.ts';
import { assertClose } from './support/close.ts';
import { goldenFloats } from './support/golden.ts';

await initEngine({ backend: 'wasm' });

test('the shipped model decodes 16 test frames to the stored outputs with each decoder; jd is fmd for one frame', async () => {
  const lm = await loadZooModel(folderStore());
  const frames = movingMnistBatch({ split: 'test', seed: 1, frames: 1 }, 0, 16).data;
  const file = await compress(lm, frames, 1);
  for (const [name, stored] of [['mmse', 'mmse'], ['fmd', 'fmd'], ['jd', 'fmd']] as const) {
    const got = (await decompress(lm, file, name)).frames;
    assertClose(got, goldenFloats(`iframe-cpu-12-${stored}.f32`, got), 1e-6, name);
  }
});
