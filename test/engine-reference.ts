// Shared by the engine tests: run one computation on the cpu reference backend and on
// wasm in the same process and compare.
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { Rng } from '../src/rng.ts';

export interface Result {
  shape: number[];
  data: Float32Array;
}

/**
 * Runs `fn` on cpu and then on wasm (inputs must be built inside `fn`, which is told the
 * backend), returning plain arrays.
 */
export async function onBoth(fn: (backend: 'cpu' | 'wasm') => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Result[]; wasm: Result[] }> {
  const run = async (backend: 'cpu' | 'wasm'): Promise<Result[]> => {
    await initEngine({ backend });
    return tf.tidy(() => [fn(backend)].flat()).map((t) => {
      const r = { shape: t.shape, data: t.dataSync() as Float32Array };
      t.dispose();
      return r;
    });
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return { cpu, wasm };
}

/** Shapes equal and max abs error within 1e-4 of the reference's largest magnitude. */
export function assertClose(ref: Result, got: Result, label: string): void {
  assert.deepEqual(got.shape, ref.shape, `${label}: shape`);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < ref.data.length; i++) {
    scale = Math.max(scale, Math.abs(ref.data[i]));
    err = Math.max(err, Math.abs(ref.data[i] - got.data[i]));
  }
  assert.ok(err <= 1e-4 * Math.max(scale, 1e-6), `${label}: max error ${err} vs magnitude ${scale}`);
}

export function assertAllClose(both: { cpu: Result[]; wasm: Result[] }, label: string): void {
  assert.equal(both.wasm.length, both.cpu.length);
  both.cpu.forEach((ref, i) => assertClose(ref, both.wasm[i], `${label} [${i}]`));
}

/** A tensor of standard normal values from a seeded stream. */
export function randn(shape: number[], ...seed: number[]): tf.Tensor {
  const rng = new Rng(...seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape);
}
