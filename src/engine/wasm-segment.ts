import { util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { kernel, type KernelArgs } from './wasm-conv.ts';
import { KernelScope } from './kernel-scope.ts';

/**
 * UnsortedSegmentSum (the gradient of gather) on wasm, as the backend's own ScatterNd,
 * which sums updates that share an index. ScatterNd does not bound-check, so ids are
 * checked here first.
 */
function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  for (const id of ids) {
    if (id < 0 || id >= numSegments) throw new Error(`UnsortedSegmentSum: segment id ${id} is outside [0, ${numSegments})`);
  }
  const count = util.sizeFromShape(segmentIds.shape);
  const inner = x.shape.slice(segmentIds.shape.length);
  const scope = new KernelScope(backend);
  const out = scope.run(
    'ScatterNd',
    { indices: scope.reshape(segmentIds, [count, 1]), updates: scope.reshape(x, [count, ...inner]) },
    { shape: [numSegments, ...inner] },
  );
  return scope.keep(out);
}

export const wasmSegmentKernels: KernelConfig[] = [
  { kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: kernel(unsortedSegmentSum) },
];
