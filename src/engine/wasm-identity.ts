// Identity (tf.clone, and the engine's copy of every tensor a gradient saves for the
// backward pass) and Cast to the tensor's own dtype (ReLU's gradient casts its float32
// Step) without a copy: the output shares the input's data under the backend's reference
// count, as the wasm Reshape and the cpu and WebGL backends' Identity already do (tensor
// data is immutable). The backend's kernels memcpy on the main thread: 51 copies, 10-13 ms
// of every reference-autoencoder training step, outside the thread pool.
import '@tensorflow/tfjs-backend-wasm'; // registers the backend's kernels, captured below
import { getKernel, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelArgs } from './wasm-conv.ts';

function builtin(kernelName: string): KernelFunc {
  const config = getKernel(kernelName, 'wasm') as KernelConfig | undefined;
  if (config === undefined) throw new Error(`the wasm backend registers no ${kernelName} kernel`);
  return config.kernelFunc;
}

/** A kernel that shares its input's data when `same` says the output equals the input. */
function sharing(kernelName: string, same: (args: KernelArgs) => boolean): KernelConfig {
  const fallback = builtin(kernelName);
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const { x } = args.inputs;
    if (!same(args) || x.dtype === 'string') return fallback(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

export const wasmIdentityKernels: KernelConfig[] = [
  sharing('Identity', () => true),
  sharing('Cast', ({ inputs, attrs }) => attrs.dtype === inputs.x.dtype),
];
