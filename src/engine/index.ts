import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerKernelPack } from './kernel-pack.ts';

export type BackendName = 'wasm' | 'cpu';

export interface EngineOptions {
  /** `wasm` (XNNPACK, with the project's kernel pack) by default; `cpu` is the pure-JS reference. */
  backend?: BackendName;
}

/**
 * The one place that picks the tfjs backend and registers the kernel pack. Model code
 * only uses tfjs-core ops, so it runs unchanged on whatever backend this selects.
 */
export async function initEngine(options: EngineOptions = {}): Promise<typeof tf> {
  const backend = options.backend ?? 'wasm';
  registerKernelPack();
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to initialise`);
  await tf.ready();
  return tf;
}

export { tf };
