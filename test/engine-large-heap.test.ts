// Its own file (its own process): the test grows the wasm heap past 2 GiB and leaves it there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initEngine, tf } from '../src/engine/index.ts';
import { randn } from './engine-reference.ts';

const TWO_GIB = 2 ** 31;

/** The conv kernels whose data movement is JS over the wasm heap: sub-pixel phases, col2im, layout passes. */
function convKernels(): tf.Tensor[] {
  const dy = randn([4, 16, 16, 48], 1) as tf.Tensor4D;
  const w = randn([5, 5, 16, 48], 2) as tf.Tensor4D;
  const x = randn([4, 32, 32, 16], 3) as tf.Tensor4D;
  const fewTaps = randn([3, 3, 1, 16], 4) as tf.Tensor4D;
  const depthwise = randn([5, 5, 16, 1], 5) as tf.Tensor4D;
  return [
    tf.conv2dTranspose(dy, w, x.shape, 2, 'same'),
    tf.conv2dTranspose(randn([4, 16, 16, 16], 6) as tf.Tensor4D, fewTaps, [4, 32, 32, 1], 2, 'same'),
    tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape }) as tf.Tensor,
    tf.grad((v) => tf.depthwiseConv2d(v as tf.Tensor4D, depthwise, 2, 'same'))(x),
  ];
}

test('the conv kernels read and write tensors that lie past 2 GiB of wasm memory', async () => {
  await initEngine();
  const before = await Promise.all(convKernels().map((t) => t.data()));
  const backend = tf.backend() as BackendWasm;
  // One untouched 2 GiB allocation: the tensors made after it lie above it.
  const filler = backend.makeOutput([TWO_GIB / 4], 'float32');
  try {
    const after = convKernels();
    for (const t of after) assert.ok(backend.getMemoryOffset(t.dataId) > TWO_GIB, `a [${t.shape}] result lies below 2 GiB: the test does not reach the case`);
    const values = await Promise.all(after.map((t) => t.data()));
    values.forEach((v, i) => assert.deepEqual(v, before[i], `kernel ${i}: results past 2 GiB differ from the same kernel's below it`));
  } finally {
    backend.disposeData(filler.dataId);
  }
});
