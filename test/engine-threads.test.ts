// The threaded wasm build (XNNPACK on 2 worker_threads): same answers as the cpu reference,
// and the same bits run to run. One process holds one wasm module, so this file runs wasm
// with 2 threads only (initEngine's default of 1 would be refused here).
import assert from 'node:assert/strict';
import test from 'node:test';
import { initEngine, tf } from '../src/engine/index.ts';
import { wasmThreadsInUse } from '../src/engine/wasm-threads.ts';
import { assertClose, randn, type Result } from './engine-reference.ts';

/** A small conv net (strided conv, conv, transposed conv, dense) and its loss. */
function net(...p: tf.Tensor[]): tf.Scalar {
  const [x, w1, b1, w2, b2, w3, w4] = p as [tf.Tensor4D, tf.Tensor4D, tf.Tensor, tf.Tensor4D, tf.Tensor, tf.Tensor4D, tf.Tensor2D];
  let h = tf.relu(tf.add(tf.conv2d(x, w1, 2, 'same'), b1)) as tf.Tensor4D; // [4, 8, 8, 16]
  h = tf.relu(tf.add(tf.conv2d(h, w2, 1, 'same'), b2)) as tf.Tensor4D; // [4, 8, 8, 16]
  const up = tf.conv2dTranspose(h, w3, [4, 16, 16, 4], 2, 'same'); // [4, 16, 16, 4]
  const dense = tf.matMul(tf.reshape(h, [4, 8 * 8 * 16]), w4); // [4, 10]
  return tf.add(tf.mean(tf.square(tf.sub(up, x))), tf.mean(tf.square(dense))) as tf.Scalar;
}

/** Forward output, loss and the gradient of every input, as plain arrays. */
function run(): Result[] {
  const params = [
    randn([4, 16, 16, 4], 1),
    tf.mul(randn([5, 5, 4, 16], 2), 0.1),
    randn([16], 3),
    tf.mul(randn([3, 3, 16, 16], 4), 0.1),
    randn([16], 5),
    tf.mul(randn([5, 5, 4, 16], 6), 0.1),
    tf.mul(randn([8 * 8 * 16, 10], 7), 0.05),
  ];
  const out = tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads(net)(params);
    return [value, ...grads];
  });
  return out.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
}

test('a conv net forward and gradients on 2-thread wasm equal the cpu reference and repeat bit for bit', async () => {
  await initEngine({ backend: 'cpu' });
  const cpu = run();
  await initEngine({ backend: 'wasm', threads: 2 });
  assert.equal(wasmThreadsInUse(), 2);
  const first = run();
  const second = run();
  cpu.forEach((ref, i) => assertClose(ref, first[i], `output ${i}`));
  first.forEach((r, i) => assert.deepEqual(Buffer.from(second[i].data.buffer), Buffer.from(r.data.buffer), `output ${i} differs run to run`));
});

test('the thread count is fixed once the wasm backend exists', async () => {
  await initEngine({ backend: 'wasm', threads: 2 });
  await assert.rejects(initEngine({ backend: 'wasm' }), /already runs with 2 thread\(s\)/);
  await initEngine({ backend: 'cpu' }); // cpu ignores threads
});
