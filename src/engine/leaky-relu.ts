// LeakyReLU's gradient, dy where x > 0 and alpha * dy elsewhere, as one kernel: tfjs-core builds
// it from Greater, Multiply and Select, three kernels and three passes over every activation. On
// wasm it is one loop over views of the heap with the same float32 results (a product of float32s
// rounds the same in JS): one P-frame perception step (pframe-12-12-perception, one idle core)
// spends 67 ms in it against about 99 ms in the three kernels, and trains to the same bits. Its own
// gradient, which the WGAN-GP penalty needs, is the same map of the incoming gradient (it is linear
// in dy) and zero in x. Other backends compute it from the three ops.
import '@tensorflow/tfjs-backend-wasm';
import { engine, getBackend, getKernel, greater, mul, where, zerosLike, type GradConfig, type KernelConfig, type KernelFunc, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const KERNEL = 'RdpvLeakyReluGrad';

/** dy where x > 0, alpha * dy elsewhere. */
function leakyReluGrad(dy: Tensor, x: Tensor, alpha: number): Tensor {
  if (dy.dtype === 'float32' && x.dtype === 'float32' && getKernel(KERNEL, getBackend()) !== undefined) {
    return engine().runKernel(KERNEL, { dy, x }, { alpha }) as Tensor;
  }
  return where(greater(x, 0), dy, mul(dy, alpha));
}

function kernel(args: { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs: Record<string, unknown> }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const out = backend.makeOutput(inputs.x!.shape, 'float32');
  // makeOutput may grow the heap, which detaches earlier views: take the inputs' after it.
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  const d = backend.typedArrayFromHeap(inputs.dy!) as Float32Array;
  const x = backend.typedArrayFromHeap(inputs.x!) as Float32Array;
  // A factor looked up by the sign test, not a branch: the signs of activations are random, and a
  // mispredicted branch per element made the loop 5x slower (17 against 3.5 ms for 2M elements).
  const factor = new Float64Array([Math.fround(attrs.alpha as number), 1]);
  for (let i = 0; i < o.length; i++) o[i] = d[i]! * factor[+(x[i]! > 0)]!;
  return out;
}

export const wasmLeakyReluKernels: KernelConfig[] = [{ kernelName: KERNEL, backendName: 'wasm', kernelFunc: kernel as unknown as KernelFunc }];

export const leakyReluGradients: GradConfig[] = [
  { kernelName: 'LeakyRelu', inputsToSave: ['x'], gradFunc: (dy, [x], attrs) => ({ x: () => leakyReluGrad(dy as Tensor, x!, attrs.alpha as number) }) },
  {
    kernelName: KERNEL,
    inputsToSave: ['x'],
    gradFunc: (ddx, [x], attrs) => ({ dy: () => leakyReluGrad(ddx as Tensor, x!, attrs.alpha as number), x: () => zerosLike(x!) }),
  },
];
