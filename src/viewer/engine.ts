/**
 * The viewer's engine: what src/engine/index.ts is to Node, for a browser page. The page's
 * bundle resolves every import of src/engine/index.ts to this module (vite.config.ts), because
 * that file also sets up Node's wasm threads (node:worker_threads). Model code only imports
 * `tf` from it, so it runs unchanged: tfjs-core on the wasm backend (the single-threaded SIMD
 * build, as `initEngine()` gives Node by default) with the project's kernel pack.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerKernelPack } from '../engine/kernel-pack.ts';

/** The wasm binaries the build copies next to the page (vite.config.ts). */
export const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

export type BackendName = 'wasm' | 'cpu';

export interface EngineOptions {
  backend?: BackendName;
  /** Where the wasm binaries are served (a folder URL); default `wasm/` beside the page. */
  wasmDir?: string;
}

let wasmPathsSet = false;

export async function initEngine(options: EngineOptions = {}): Promise<typeof tf> {
  const backend = options.backend ?? 'wasm';
  registerKernelPack();
  if (backend === 'wasm' && !wasmPathsSet) {
    const dir = new URL(options.wasmDir ?? 'wasm/', document.baseURI).href;
    setWasmPaths(Object.fromEntries(WASM_FILES.map((f) => [f, new URL(f, dir).href])));
    wasmPathsSet = true;
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to initialise in this browser`);
  await tf.ready();
  return tf;
}

export { tf };
