import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { readRdpv, RdpvFormatError } from '../src/codec/container.ts';
import { ditherTensor, quantizeTensor } from '../src/codec/quantizer.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { criticW1 } from '../src/eval/critic-score.ts';
import { critic } from '../src/models/critic.ts';
import { decode, encode, type IFrameModel } from '../src/models/iframe.ts';
import { evalCtx } from '../src/models/layers.ts';
import { readModelFile } from '../src/models/model-file.ts';
import { encodeParams } from '../src/models/params.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { loadZooModelBySha, zooManifest } from '../src/models/zoo.ts';
import { compress, decompress } from '../src/video/codec.ts';
import { UserError } from '../src/errors.ts';
import { assertClose } from './support/close.ts';
import { tinyIFrameModel } from './support/tiny.ts';

await initEngine({ backend: 'cpu' });

const tinyModel = tinyIFrameModel;

test('a compressed file decodes to what the model computes with the same dither, with each decoder', async () => {
  const lm = await tinyModel(3);
  const frames = movingMnistBatch({ split: 'test', seed: 5, frames: 1 }, 0, 3).data;
  const file = await compress(lm, frames, 77);
  const { header, payload } = readRdpv(file);
  assert.equal(header.frameCount, 3);
  assert.equal(header.modelId, 'tiny-3');
  assert.equal(payload.length, Math.ceil((3 * 12) / 8)); // 12 one-bit symbols a frame, nothing more
  for (const name of ['mmse', 'fmd'] as const) {
    const got = (await decompress(lm, file, name)).frames;
    const want = tf.tidy(() => {
      const z = encode(lm.model.enc, tf.tensor4d(frames, [3, 64, 64, 1]), evalCtx());
      const u = ditherTensor(77, 0, [3, 12], 2) as tf.Tensor2D;
      return decode(lm.model.decoders[name]!, lm.model.net, quantizeTensor(z, u, 2, 'hard'), u, evalCtx()).dataSync();
    });
    assertClose(got, want, 1e-6, name);
  }
});

test('a weight file written before the decoder table (dec/pdec/critic names, training config) loads as today\'s', async () => {
  const { model: m } = await tinyModel(4);
  const config = m.config;
  const old = encodeParams({ enc: m.enc, dec: m.decoders.mmse!, pdec: m.decoders.fmd!, critic: m.critics.marginal! }, {
    preset: 'old', config: JSON.stringify({ widths: config.widths, rate: '12', criticWidths: config.critic!.widths, spectralNorm: true, lambda: 0.1 }),
  });
  const lm = await readModelFile(old, 'old');
  assert.equal(lm.model.config.kind, 'iframe');
  const model = lm.model as IFrameModel;
  assert.equal(lm.id, 'old');
  assert.deepEqual(lm.model.config, config);
  assert.deepEqual(model.decoders.fmd!.out.w.dataSync(), m.decoders.fmd!.out.w.dataSync());
  assert.deepEqual(model.critics.marginal!.out.conv.w.dataSync(), m.critics.marginal!.out.conv.w.dataSync());
});

test("a critic scores frames against themselves at W1 0 and against other frames as its score difference", async () => {
  const { model } = await tinyModel(3);
  const real = movingMnistBatch({ split: 'test', seed: 5, frames: 1 }, 0, 4).data;
  const other = new Float32Array(real.length).fill(0.5);
  const p = model.critics.marginal!;
  assert.equal(criticW1(p, 64, real, real), 0);
  const score = (x: Float32Array) => tf.tidy(() => tf.mean(critic(p, tf.tensor4d(x, [4, 64, 64, 1]))).dataSync()[0]!);
  const want = score(real) - score(other);
  assertClose([criticW1(p, 64, real, other)], [want], 1e-5, 'W1', true);
  assert.notEqual(criticW1(p, 64, real, other), 0);
});

test('a decoder refuses a file made by other weights, and a damaged file is a format error', async () => {
  const [a, b] = [await tinyModel(3), await tinyModel(4)];
  const file = await compress(a, movingMnistBatch({ split: 'test', seed: 5, frames: 1 }, 0, 1).data, 1);
  await assert.rejects(() => decompress(b, file, 'mmse'), (e: Error) => e instanceof UserError && /not by these weights/.test(e.message));
  const damaged = file.slice();
  damaged[damaged.length - 6]! ^= 0x10;
  await assert.rejects(() => decompress(a, damaged, 'mmse'), RdpvFormatError);
});

test('a file names its shipped model by sha256, so decoding needs no model flag; unknown weights are one clear error', async () => {
  const store = folderStore();
  const entry = (await zooManifest(store)).find((e) => e.default)!;
  assert.equal((await loadZooModelBySha(store, entry.sha256, 'x')).id, entry.name);
  await assert.rejects(loadZooModelBySha(store, '0'.repeat(64), 'mine'), (e: Error) => e instanceof UserError && /'mine'.*not a shipped model/.test(e.message));
});
