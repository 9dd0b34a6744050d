import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine } from '../src/engine/index.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { codecEntries, loadZooModel, zooManifest } from '../src/models/zoo.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { compress, decompress, videoCodec } from '../src/video/codec.ts';
import { assertClose } from './support/close.ts';
import { goldenFloats } from './support/golden.ts';

await initEngine({ backend: 'wasm' });

for (const { name: model } of codecEntries(await zooManifest(folderStore()))) {
  test(`the shipped model ${model} decodes 16 test frames to the stored outputs with each decoder`, async () => {
    const lm = await loadZooModel(folderStore(), model);
    const codec = videoCodec(lm.model);
    const T = codec.rates.length;
    const frames = movingMnistBatch({ split: 'test', seed: 1, frames: T }, 0, Math.ceil(16 / T)).data;
    const file = await compress(lm, frames, 1);
    for (const name of codec.decoders) {
      const got = (await decompress(lm, file, name)).frames;
      assertClose(got, goldenFloats(`${model}-${name}.f32`, got), 1e-6, name);
    }
    // A model that does not list 0-PLF-JD (one frame: it is 0-PLF-FMD) still decodes with it.
    if (!codec.decoders.includes('jd')) assert.deepEqual((await decompress(lm, file, 'jd')).frames, (await decompress(lm, file, 'fmd')).frames);
  });
}
