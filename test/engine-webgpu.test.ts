import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, tf, webGpuAvailable } from '../src/engine/index.ts';
import { binWidth, quantizeTensor } from '../src/codec/quantizer.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { frameOf } from '../src/data/source.ts';
import { DECODER_NAMES } from '../src/models/decoders.ts';
import { decode, encode, iframeConfigFor, initIFrameModel, type IFrameModelConfig } from '../src/models/iframe.ts';
import { trainCtx } from '../src/models/layers.ts';
import { Adam } from '../src/optim/adam.ts';
import { scaleSpaceWarp } from '../src/models/warp.ts';
import { adamUpdate } from '../src/engine/adam-update.ts';
import { batchNormTraining } from '../src/engine/batch-norm.ts';
import { reductionSplits, webgpuKernels } from '../src/engine/webgpu-conv.ts';
import { Rng } from '../src/rng.ts';
import { presets } from '../src/train/presets.ts';
import { compress, decompress, videoCodec } from '../src/video/codec.ts';
import type { FrameMessage } from '../src/video/types.ts';
import { assertClose } from './support/close.ts';
import { tinyGopModel } from './support/tiny.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'rdpv.js');
const skip = (await webGpuAvailable()) ? false : 'no WebGPU adapter here (on Linux: Mesa lavapipe, mesa-vulkan-drivers 25 from bookworm-backports, which .ci/run installs)';

/** Run `fn` on a backend and read its tensors back asynchronously (the only way on webgpu in Node). */
async function on(backend: 'wasm' | 'webgpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await initEngine({ backend });
  const ts = fn();
  const out = (await Promise.all(ts.map((t) => t.data()))) as Float32Array[];
  tf.dispose(ts);
  return out;
}

test('a GOP model decodes the same messages on webgpu as on wasm, with every decoder', { skip, timeout: 600_000 }, async () => {
  await initEngine({ backend: 'wasm' });
  const lm = await tinyGopModel(4);
  const codec = videoCodec(lm.model);
  const n = 2;
  const seqs = movingMnistBatch({ split: 'test', seed: 2, frames: 3 }, 0, n);
  // The messages once, on wasm, as plain arrays: each backend decodes exactly the same bits.
  const sent = tf.tidy(() => codec.encode([0, 1, 2].map((t) => tf.tensor4d(frameOf(seqs, t), [n, 64, 64, 1])), { seed: 1, firstGop: 0 }).messages
    .map((m) => m.latents.map((l) => ({ zq: l.zq.arraySync(), u: l.u.arraySync() }))));
  const messages = (): FrameMessage[] => sent.map((ls) => ({ latents: ls.map((l) => ({ zq: tf.tensor2d(l.zq), u: tf.tensor2d(l.u) })) }));
  const decodeAll = () => DECODER_NAMES.flatMap((d) => codec.decode(d, messages()));
  const [want, got] = [await on('wasm', decodeAll), await on('webgpu', decodeAll)];
  want.forEach((w, i) => assertClose(got[i]!, w, 1e-4, `decoder ${DECODER_NAMES[Math.floor(i / 3)]} frame ${(i % 3) + 1}`));
});

test('a training step of the I-frame codec gives the same gradients on webgpu as on wasm, and Adam steps without reading back to the host', { skip, timeout: 600_000 }, async () => {
  const p = presets['tiny-mse']!;
  const config = p.model as IFrameModelConfig;
  const x = movingMnistBatch({ split: 'train', seed: 3, frames: 1 }, 0, 4).data;
  const rng = new Rng(5);
  const { levels, dims } = iframeConfigFor(config);
  const u = Float32Array.from({ length: 4 * dims }, () => (rng.uniform() - 0.5) * binWidth(levels));
  const step = (): tf.Tensor[] => {
    const m = initIFrameModel(config, 1);
    const opt = new Adam({ enc: m.enc, mmse: m.decoders.mmse! }, { lr: 1e-3, beta1: 0.9, beta2: 0.999 });
    const xs = tf.tensor4d(x, [4, 64, 64, 1]);
    const us = tf.tensor2d(u, [4, dims]);
    const ctx = trainCtx();
    const { value, grads } = tf.variableGrads(() => {
      const zq = quantizeTensor(encode(m.enc, xs, ctx), us, levels, 'train');
      return tf.mean(tf.squaredDifference(decode(m.decoders.mmse!, m.net, zq, us, ctx), xs)) as tf.Scalar;
    }, opt.variables());
    opt.apply(grads);
    return [value, ...opt.variables().map((v) => grads[v.name]!), opt.state.t];
  };
  const [want, got] = [await on('wasm', step), await on('webgpu', step)];
  assert.equal(got.length, want.length);
  assertClose(got[0]!, want[0]!, 1e-5, 'loss', true);
  // Against the largest gradient anywhere: a conv bias before BatchNorm has a gradient of ~1e-11 (zero but for rounding).
  const grads = want.slice(1, -1);
  const scale = Math.max(...grads.map((g) => Math.max(...g.map(Math.abs))));
  grads.forEach((g, i) => assertClose(got[i + 1]!, g, 1e-4 * scale, `gradient ${i}`));
  assert.equal(got.at(-1)![0], 1, 'Adam counted its step on the device');
});

test('Adam\'s update on webgpu is three fused dispatches (not twelve) and equals the tfjs ops on wasm, past 65535 workgroups too', { skip, timeout: 600_000 }, async () => {
  const rng = new Rng(9);
  const rates = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  for (const shape of [[3, 3, 16, 32], [65535 * 64 + 5]]) {
    const n = tf.util.sizeFromShape(shape);
    const [p, m, g] = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => rng.normal()));
    const v = Float32Array.from({ length: n }, () => 0.1 + rng.uniform());
    const update = (): tf.Tensor[] => {
      const r = adamUpdate(tf.tensor(p!, shape), tf.tensor(m!, shape), tf.tensor(v, shape), tf.tensor(g!, shape), tf.tensor1d([1e-3]), rates);
      return [r.p, r.m, r.v];
    };
    const [want, got] = [await on('wasm', update), await on('webgpu', update)];
    want.forEach((w, i) => assertClose(got[i]!, w, 1e-6, `${['p', 'm', 'v'][i]} of ${n}`));
  }
  await initEngine({ backend: 'webgpu' });
  const t = [1, 2, 3, 4].map(() => tf.ones([8]));
  const profile = await tf.profile(() => tf.dispose(Object.values(adamUpdate(t[0]!, t[1]!, t[2]!, t[3]!, tf.scalar(1), rates))));
  assert.deepEqual(profile.kernels.map((k) => k.name), ['RdpvAdamMoment', 'RdpvAdamMoment', 'RdpvAdamStep']);
  tf.dispose(t);
});

test('BatchNorm in training on webgpu (one kernel and its gradient, one for the running statistics) equals the tfjs ops on wasm: output, running statistics and the gradients of x, gamma and beta', { skip, timeout: 600_000 }, async () => {
  const rng = new Rng(11);
  for (const shape of [[4, 16, 16, 8], [32, 64], [2, 64, 64, 16]]) {
    const c = shape.at(-1)!;
    const n = tf.util.sizeFromShape(shape);
    // An offset mean, so a one-pass variance would lose digits.
    const x = Float32Array.from({ length: n }, (_, i) => 3 + (i % c) * 0.5 + rng.normal() * (1 + (i % c) * 0.1));
    const [gamma, beta, mean, w] = [c, c, c, n].map((k) => Float32Array.from({ length: k }, () => rng.normal()));
    const variance = Float32Array.from({ length: c }, () => 0.5 + rng.uniform());
    const run = (): tf.Tensor[] => {
      const xs = tf.tensor(x, shape);
      const [g, b, m, v] = [gamma!, beta!, mean!, variance].map((a) => tf.tensor1d(a));
      const state = (gg: tf.Tensor, bb: tf.Tensor) => ({ gamma: gg, beta: bb, mean: m!, variance: v! });
      // A loss that weights every output differently, so every gradient term matters.
      const loss = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(xx, state(gg, bb), 1e-5, 0.1).y, tf.tensor(w!, shape)));
      const r = batchNormTraining(xs, state(g!, b!), 1e-5, 0.1);
      return [r.y, r.mean, r.variance, ...tf.grads(loss)([xs, g!, b!])];
    };
    const [want, got] = [await on('wasm', run), await on('webgpu', run)];
    want.forEach((v, i) => assertClose(got[i]!, v, 2e-4, `${['y', 'running mean', 'running variance', 'dx', 'dgamma', 'dbeta'][i]} of [${shape}]`, true));
  }
  await initEngine({ backend: 'webgpu' });
  const [x, g, b] = [tf.randomNormal([2, 4, 4, 8]), tf.ones([8]), tf.zeros([8])];
  const backend = tf.backend() as unknown as { recordAndSubmit(...a: unknown[]): unknown };
  const record = backend.recordAndSubmit.bind(backend);
  let dispatches = 0;
  backend.recordAndSubmit = (...a) => (dispatches++, record(...a));
  const grads = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(batchNormTraining(xx, { gamma: gg, beta: bb, mean: b, variance: g }, 1e-5, 0.1).y))([x, g, b]);
  await Promise.all(grads.map((t) => t.data()));
  backend.recordAndSubmit = record;
  // Forward 2 and the running statistics 3 (one kernel, two slices); the loss's sum and its
  // gradient's fill 2; backward 2 and two slices.
  assert.ok(dispatches <= 11, `${dispatches} dispatches for BatchNorm forward and backward`);
  tf.dispose([x, g, b, ...grads]);
});

test('the webgpu filter gradient splits its reduction to fill about 264 workgroups, keeping at least 256 rows a split', () => {
  assert.equal(reductionSplits(256 * 16 * 16, 2 * 25), 6); // 50 output tiles: 6 x 50 = 300 workgroups
  assert.equal(reductionSplits(256 * 16 * 16, 300), 1); // enough tiles already
  assert.equal(reductionSplits(3 * 1024, 1), 12); // 12 splits of 256 rows, not 264
  assert.equal(reductionSplits(100, 1), 1); // fewer than 256 rows
});

test('the filter gradient on webgpu (tiled products, the reduction split) equals wasm\'s for strided, padded, valid and large-batch convolutions', { skip, timeout: 600_000 }, async () => {
  const cases: { x: [number, number, number, number]; f: [number, number, number, number]; stride: number; pad: 'same' | 'valid' }[] = [
    { x: [3, 9, 7, 2], f: [5, 5, 2, 3], stride: 2, pad: 'same' },
    { x: [2, 8, 8, 3], f: [3, 3, 3, 4], stride: 1, pad: 'valid' },
    { x: [4, 16, 16, 8], f: [5, 5, 8, 16], stride: 2, pad: 'same' },
    { x: [64, 32, 32, 4], f: [5, 5, 4, 8], stride: 1, pad: 'same' }, // 65,536 rows: split 256 ways
    { x: [5, 24, 24, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same' }, // 2,880 rows: 11 splits of 262, the last 260
    { x: [2, 16, 16, 16], f: [3, 3, 16, 80], stride: 2, pad: 'same' }, // 144 x 80 weights: 3 x 2 output tiles
  ];
  const rng = new Rng(4);
  const data = cases.map(({ x, f, stride, pad }) => {
    const xs = Float32Array.from({ length: x.reduce((a, b) => a * b) }, () => rng.uniform() - 0.5);
    const side = (n: number, k: number) => (pad === 'same' ? Math.ceil(n / stride) : Math.floor((n - k) / stride) + 1);
    const out = [x[0], side(x[1], f[0]), side(x[2], f[1]), f[3]];
    return { xs, dys: Float32Array.from({ length: out.reduce((a, b) => a * b) }, () => rng.uniform() - 0.5), out };
  });
  const grads = () => cases.map(({ x, f, stride, pad }, i) =>
    tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(data[i]!.xs, x), dy: tf.tensor(data[i]!.dys, data[i]!.out) }, { strides: [stride, stride], pad, dataFormat: 'NHWC', filterShape: f }) as tf.Tensor);
  const [want, got] = [await on('wasm', grads), await on('webgpu', grads)];
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc, webgpuKernels[0]!.kernelFunc, 'the kernel pack\'s, not the stock one');
  want.forEach((w, i) => assertClose(got[i]!, w, 2e-5 * Math.max(...w.map(Math.abs)), `case ${i}`));
});

test('the scale-space warp and its gradients on webgpu equal wasm at 64 frames of 64x64 (a 2-D UnsortedSegmentSum dispatched past the 65535-workgroup limit there)', { skip, timeout: 600_000 }, async () => {
  const [b, h, w] = [64, 64, 64];
  const rng = new Rng(8);
  const ref = Float32Array.from({ length: b * h * w }, () => rng.uniform());
  // Flows of up to 3 pixels and depths past both ends, so border clamps and the depth clamp are hit.
  const field = Float32Array.from({ length: b * h * w * 3 }, (_, i) => (i % 3 === 2 ? rng.uniform() * 1.4 - 0.2 : ((rng.uniform() - 0.5) * 12) / w));
  const dy = Float32Array.from({ length: b * h * w }, () => rng.uniform() - 0.5);
  const warp = (): tf.Tensor[] => {
    const [r, f] = [tf.tensor4d(ref, [b, h, w, 1]), tf.tensor4d(field, [b, h, w, 3])];
    const { value, grads } = tf.valueAndGrads((rr: tf.Tensor, ff: tf.Tensor) => scaleSpaceWarp(rr as tf.Tensor4D, ff as tf.Tensor4D))([r, f], tf.tensor4d(dy, [b, h, w, 1]));
    return [value, ...grads];
  };
  const [want, got] = [await on('wasm', warp), await on('webgpu', warp)];
  ['output', 'd ref', 'd field'].forEach((what, i) => assertClose(got[i]!, want[i]!, 1e-4, what));
});

test('rdpv train --backend webgpu trains a preset end to end (steps, checkpoints, the final evaluation) to the scores of wasm', { skip, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rdpv-webgpu-'));
  const train = (backend: string) => spawnSync(process.execPath, [CLI, 'train', '--preset', 'tiny-mse', '--backend', backend, '--threads', '1', '--out', join(dir, backend)], { encoding: 'utf8' });
  const [gpu, wasm] = [train('webgpu'), train('wasm')];
  assert.equal(gpu.status, 0, gpu.stderr);
  assert.equal(wasm.status, 0, wasm.stderr);
  const metrics = (r: { stdout: string }) => (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { metrics: Record<string, number> }).metrics;
  const [g, w] = [metrics(gpu), metrics(wasm)];
  assert.deepEqual(Object.keys(g), Object.keys(w));
  for (const k of Object.keys(w)) assert.ok(Math.abs(g[k]! - w[k]!) <= 1e-3 * Math.max(1, Math.abs(w[k]!)), `${k}: webgpu ${g[k]}, wasm ${w[k]}`);
});

test('an .rdpv file made on wasm decompresses on webgpu to the frames wasm decodes, with every decoder; webgpu compresses too', { skip, timeout: 600_000 }, async () => {
  await initEngine({ backend: 'wasm' });
  const lm = await tinyGopModel(6);
  const clips = movingMnistBatch({ split: 'test', seed: 4, frames: 3 }, 0, 2).data;
  const file = await compress(lm, clips, 3);
  const decodeAll = async () => Promise.all(DECODER_NAMES.map(async (d) => (await decompress(lm, file, d)).frames));
  const want = await decodeAll();
  await initEngine({ backend: 'webgpu' });
  const got = await decodeAll();
  want.forEach((w, i) => assertClose(got[i]!, w, 1e-4, DECODER_NAMES[i]!));
  assert.equal((await compress(lm, clips, 3)).length, file.length, 'a file of the same layout');
});

test('rdpv encode, decode and eval take --backend webgpu: a clip encoded on wasm decodes on webgpu to the same pixels (within one level), and eval scores as on wasm', { skip, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rdpv-webgpu-cli-'));
  const rdpv = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });
  const clip = join(dir, 'clip.npy');
  const values = movingMnistBatch({ split: 'test', seed: 6, frames: 2 }, 0, 1).data;
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 64, 64), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  writeFileSync(clip, Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from(Uint16Array.of(header.length + pad + 1).buffer), Buffer.from(header + ' '.repeat(pad) + '\n'), Buffer.from(values.buffer)]));
  assert.equal(rdpv('encode', clip, '-o', 'clip.rdpv').status, 0);
  for (const backend of ['wasm', 'webgpu']) {
    const r = rdpv('decode', 'clip.rdpv', '--decoder', 'fmd', '-o', `${backend}/`, '--backend', backend);
    assert.equal(r.status, 0, r.stderr);
  }
  const png = (backend: string) => PNG.sync.read(readFileSync(join(dir, backend, 'fmd-000001.png'))).data;
  const [w, g] = [png('wasm'), png('webgpu')];
  assert.ok(w.every((v, i) => Math.abs(v - g[i]!) <= 1), 'the same pixels, up to one 8-bit level');
  const score = (backend: string) => {
    const r = rdpv('eval', '--samples', '8', '--dither-seeds', '1', '--json', '--backend', backend, '--threads', '1');
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { results: Record<string, (number | string)[]> };
  };
  const [sw, sg] = [score('wasm'), score('webgpu')];
  for (const [k, v] of Object.entries(sw.results)) {
    if (typeof v[0] === 'number' && !k.endsWith('bits')) v.forEach((x, i) => assert.ok(Math.abs((sg.results[k]![i] as number) - (x as number)) <= 1e-3 * Math.max(1, Math.abs(x as number)), `${k}: webgpu ${sg.results[k]![i]}, wasm ${x}`));
  }
});
