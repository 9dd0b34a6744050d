import { backend_util, type KernelBackend, type KernelConfig, type KernelFunc, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { KernelScope } from './kernel-scope.ts';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

/** Matrix-product workgroups (32 x 32 output tiles) that keep a large GPU busy. */
const TARGET_WORKGROUPS = 256;
/** The fewest rows a split of the reduction keeps. */
const MIN_ROWS_PER_SPLIT = 256;

/**
 * The largest power of two g that divides `rows`, leaves at least MIN_ROWS_PER_SPLIT rows a split
 * and is no more than needed for TARGET_WORKGROUPS: the splits of the reduction.
 */
export function reductionSplits(rows: number, cin: number, cout: number): number {
  const tiles = Math.ceil(cin / 32) * Math.ceil(cout / 32);
  let g = 1;
  while (g * tiles < TARGET_WORKGROUPS && rows % (2 * g) === 0 && rows / (2 * g) >= MIN_ROWS_PER_SPLIT) g *= 2;
  return g;
}

/**
 * Conv2DBackpropFilter on webgpu as one matrix product per filter tap. The stock kernel gives each
 * filter weight one thread that loops over every batch row and output pixel: 83-93% of a training
 * step's GPU time on an H200 (docs/benchmarks.md). Tap (i, j) reads the [B x Ho x Wo, Cin] input
 * pixels X(i, j), a strided slice of the zero-padded input, and dW[i, j] = X(i, j)^T dY, a
 * reduction over every output pixel of the batch. The backend's tiled matmul gets few workgroups
 * for a [Cin, Cout] output, so the reduction is split into g batched parts, summed after: a
 * deterministic split-K (no atomics).
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  if (attrs.dataFormat === 'NCHW') throw new Error("Conv2DBackpropFilter on webgpu supports only dataFormat 'NHWC'");
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, attrs.strides as [number, number], 1, attrs.pad as Pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const { top, left } = info.padInfo;
  const scope = new KernelScope(backend, 'webgpu');
  // Zero rows and columns so that every tap's reads lie inside (the last tap's last read included).
  const bottom = Math.max(0, filterHeight - 1 + (outHeight - 1) * strideHeight + 1 - top - inHeight);
  const right = Math.max(0, filterWidth - 1 + (outWidth - 1) * strideWidth + 1 - left - inWidth);
  const padded = top + bottom + left + right > 0
    ? scope.run('PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 })
    : x;
  const rows = batchSize * outHeight * outWidth;
  const g = reductionSplits(rows, inChannels, outChannels);
  const dyParts = scope.reshape(dy, [g, rows / g, outChannels]);
  const taps: TensorInfo[] = [];
  for (let i = 0; i < filterHeight; i++) {
    for (let j = 0; j < filterWidth; j++) {
      const pixels = scope.run('StridedSlice', { x: padded }, {
        begin: [0, i, j, 0], end: [batchSize, i + (outHeight - 1) * strideHeight + 1, j + (outWidth - 1) * strideWidth + 1, inChannels],
        strides: [1, strideHeight, strideWidth, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      });
      taps.push(scope.run('BatchMatMul', { a: scope.reshape(pixels, [g, rows / g, inChannels]), b: dyParts }, { transposeA: true, transposeB: false }));
    }
  }
  // [taps x g, Cin, Cout] -> sum over g -> [fh, fw, Cin, Cout].
  // (Concat takes its inputs as an array.)
  const all = scope.reshape(scope.run('Concat', taps as unknown as NamedTensorInfoMap, { axis: 0 }), [filterHeight * filterWidth, g, inChannels, outChannels]);
  const summed = g > 1 ? scope.run('Sum', { x: all }, { axis: [1], keepDims: false }) : all;
  return scope.keep(scope.reshape(summed, filterShape));
}

export const webgpuKernels: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: 'webgpu', kernelFunc: conv2DBackpropFilter as unknown as KernelFunc },
];
