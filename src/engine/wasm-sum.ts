// Sum and Mean over a run of axes that are not innermost: above all the bias gradient of every
// conv and dense layer (dy [B, H, W, C] summed to [C]) and BatchNorm's batch statistics (means
// over [B, H, W]). The backend reduces only innermost axes, so it first transposes the whole
// input with its generic single-threaded Transpose (8-10% of a training step for the sums, 3%
// of a P-frame perception step for the means). Here XNNPACK's average pooling averages the rows,
// over one [rows, 1] window of the same memory seen as [outer, rows, 1, inner] (SIMD, no copy,
// ~12x a JS loop and accumulated in float32 like the backend's kernels), scaled back for a sum.
// Every other reduction goes to the backend's kernel.
import '@tensorflow/tfjs-backend-wasm'; // registers the backend's Sum and Mean, captured below
import { getKernel, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelArgs } from './wasm-conv.ts';

function builtinOf(name: 'Sum' | 'Mean'): KernelConfig {
  const builtin = getKernel(name, 'wasm') as KernelConfig | undefined;
  if (builtin === undefined) throw new Error(`the wasm backend registers no ${name} kernel`);
  return builtin;
}

function reduceRows(name: 'Sum' | 'Mean', args: KernelArgs, fallback: KernelFunc): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x;
  const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((a, b) => a - b);
  const [first, last] = [axes[0], axes[axes.length - 1]];
  const size = (from: number, to: number) => util.sizeFromShape(x.shape.slice(from, to));
  const [outer, rows, inner] = [size(0, first), size(first, last + 1), size(last + 1, x.shape.length)];
  const run = last - first + 1 === axes.length && last < x.shape.length - 1;
  // XNNPACK rejects a pooling window of one element.
  if (x.dtype !== 'float32' || !run || rows < 2 || outer * inner === 0) return fallback(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  const pool = getKernel('AvgPool', 'wasm').kernelFunc;
  const view = { dataId: x.dataId, shape: [outer, rows, 1, inner], dtype: x.dtype };
  const out = pool({ inputs: { x: view }, backend, attrs: { filterSize: [rows, 1], strides: 1, pad: 'valid' } }) as TensorInfo;
  if (name === 'Sum') {
    const means = backend.typedArrayFromHeap(out) as Float32Array;
    for (let i = 0; i < means.length; i++) means[i] *= rows;
  }
  out.shape = x.shape.flatMap((n, a) => (a < first || a > last ? [n] : attrs.keepDims === true ? [1] : []));
  return out;
}

// The built-in's setup binds its wasm function; the backend runs only the registered
// kernel's setup, so ours must carry it for the fallback to work.
export const wasmSumKernels: KernelConfig[] = (['Sum', 'Mean'] as const).map((name) => {
  const builtin = builtinOf(name);
  const kernelFunc = ((args: KernelArgs) => reduceRows(name, args, builtin.kernelFunc)) as unknown as KernelFunc;
  return { kernelName: name, backendName: 'wasm', kernelFunc, setupFunc: builtin.setupFunc };
});
