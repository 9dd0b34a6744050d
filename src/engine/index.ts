import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerKernelPack } from './kernel-pack.ts';
import { MAX_WASM_THREADS, setWasmThreadedBackend, wasmThreadsInUse } from './wasm-threads.ts';
import { setWebGpuBackend, webGpuAvailable } from './webgpu.ts';

export type BackendName = 'wasm' | 'cpu' | 'webgpu';

export interface EngineOptions {
  /**
   * `wasm` (XNNPACK, with the project's kernel pack) by default; `cpu` is the pure-JS reference;
   * `webgpu` a GPU through WebGPU (src/engine/webgpu.ts: in Node, tensors are read with `await data()`).
   */
  backend?: BackendName;
  /**
   * Threads of the wasm backend, 1 to 8 (default 1: the single-threaded SIMD build, bit for
   * bit today's path; more: the threaded SIMD build). Fixed for the process by the first
   * wasm initialisation. Ignored by `cpu` and `webgpu`.
   */
  threads?: number;
}

/**
 * The one place that picks the tfjs backend and registers the kernel pack. Model code
 * only uses tfjs-core ops, so it runs unchanged on whatever backend this selects.
 */
export async function initEngine(options: EngineOptions = {}): Promise<typeof tf> {
  const backend = options.backend ?? 'wasm';
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(`threads must be an integer in [1, ${MAX_WASM_THREADS}], got ${threads}`);
  }
  registerKernelPack();
  if (backend === 'wasm') {
    // The wasm module is created once per process, so its build and thread count are too.
    const inUse = wasmThreadsInUse();
    if (inUse !== undefined && inUse !== threads) {
      throw new Error(`the wasm backend already runs with ${inUse} thread(s) in this process; asked for ${threads}`);
    }
    if (inUse === undefined && threads !== 1) await setWasmThreadedBackend(threads);
  }
  if (backend === 'webgpu') await setWebGpuBackend();
  else if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to initialise`);
  await tf.ready();
  return tf;
}

export { MAX_WASM_THREADS, tf, webGpuAvailable };
