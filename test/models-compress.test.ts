import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, tf } from '../src/engine/index.ts';
import { readRdpv, RdpvFormatError } from '../src/codec/container.ts';
import { ditherTensor, quantizeTensor } from '../src/codec/quantizer.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { runCli } from './run-cli.ts';
import { compressIFrames, criticW1, decompressIFrames, loadIFrameModel } from '../src/models/compress.ts';
import { critic, initCritic } from '../src/models/critic.ts';
import { decode, encode, initDecoder, initEncoder } from '../src/models/iframe.ts';
import { evalCtx } from '../src/models/layers.ts';
import { encodeParams } from '../src/models/params.ts';
import { zooManifest } from '../src/models/zoo.ts';
import { UserError } from '../src/errors.ts';

await initEngine({ backend: 'cpu' });

const config = { widths: [4, 4, 8, 8], size: 64, dims: 12 };
function tinyModelFile(seed: number, withCritic = false): Uint8Array {
  const groups = {
    enc: initEncoder(config, seed), dec: initDecoder(config, seed + 1), pdec: initDecoder(config, seed + 2),
    ...(withCritic ? { critic: initCritic({ widths: [4, 8], size: 64, frames: 1, spectralNorm: true }, seed + 3) } : {}),
  };
  return encodeParams(groups, { preset: 'tiny', config: JSON.stringify({ widths: config.widths, rate: '12', criticWidths: [4, 8], spectralNorm: true }) });
}

test('a compressed file decodes to what the model computes with the same dither, with each decoder', () => {
  const model = loadIFrameModel(tinyModelFile(3), 'tiny');
  const frames = movingMnistBatch({ split: 'test', seed: 5, frames: 1 }, 0, 3).data;
  const file = compressIFrames(model, frames, 77);
  const { header, payload } = readRdpv(file);
  assert.equal(header.frameCount, 3);
  assert.equal(payload.length, Math.ceil((3 * 12) / 8)); // 12 one-bit symbols a frame, nothing more
  for (const name of ['mmse', 'perception'] as const) {
    const got = decompressIFrames(model, file, name).frames;
    const want = tf.tidy(() => {
      const z = encode(model.enc, tf.tensor4d(frames, [3, 64, 64, 1]), evalCtx());
      const u = ditherTensor(77, 0, [3, 12], 2) as tf.Tensor2D;
      return decode(model.decoders[name]!, config, quantizeTensor(z, u, 2, 'hard'), u, evalCtx()).dataSync();
    });
    assert.equal(got.length, want.length);
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-6, `${name} pixel ${i}`);
  }
});

test("a model's critic scores frames against themselves at W1 0 and against other frames as its score difference; no critic, a clear error", () => {
  const model = loadIFrameModel(tinyModelFile(3, true), 'tiny');
  const real = movingMnistBatch({ split: 'test', seed: 5, frames: 1 }, 0, 4).data;
  const other = new Float32Array(real.length).fill(0.5);
  assert.equal(criticW1(model, real, real), 0);
  const score = (x: Float32Array) => tf.tidy(() => tf.mean(critic(model.critic!, tf.tensor4d(x, [4, 64, 64, 1]))).dataSync()[0]!);
  const want = score(real) - score(other);
  assert.ok(Math.abs(criticW1(model, real, other) - want) <= 1e-5 * Math.max(1, Math.abs(want)));
  assert.notEqual(criticW1(model, real, other), 0);
  assert.throws(() => criticW1(loadIFrameModel(tinyModelFile(3), 'tiny'), real, real), (e: Error) => e instanceof UserError && /no critic/.test(e.message));
});

test('a decoder refuses a file made by other weights, and a damaged file is a format error', () => {
  const a = loadIFrameModel(tinyModelFile(3), 'a');
  const b = loadIFrameModel(tinyModelFile(4), 'b');
  const file = compressIFrames(a, movingMnistBatch({ split: 'test', seed: 5, frames: 1 }, 0, 1).data, 1);
  assert.throws(() => decompressIFrames(b, file, 'mmse'), (e: Error) => e instanceof UserError && /not by these weights/.test(e.message));
  const damaged = file.slice();
  damaged[damaged.length - 6]! ^= 0x10;
  assert.throws(() => decompressIFrames(a, damaged, 'mmse'), RdpvFormatError);
});

test('the shipped default model matches its manifest sha256 and the demo writes a decodable file and a PNG', async () => {
  const entry = zooManifest().find((e) => e.default)!;
  assert.ok(entry, 'a default model is listed');
  const out = mkdtempSync(join(tmpdir(), 'rdpv-demo-'));
  const { code, out: lines } = await runCli(['demo', '--count', '2', '--out', out]);
  assert.equal(code, 0);
  assert.equal(readRdpv(readFileSync(join(out, 'demo.rdpv'))).header.weightsSha256, entry.sha256);
  assert.deepEqual([...readFileSync(join(out, 'demo.png')).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  for (const name of ['mmse', 'perception']) {
    assert.ok(lines.some((l) => new RegExp(`${name}\\s+decoder: per-pixel MSE \\d\\.\\d+, W1 estimate -?\\d`).test(l)), lines.join('\n'));
  }
});
