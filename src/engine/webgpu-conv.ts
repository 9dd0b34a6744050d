import { backend_util, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { KernelScope } from './kernel-scope.ts';
import type { WebGpuBackend } from './webgpu-program.ts';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;


/** Output tile per workgroup (TILE x TILE weights: 16 x 16 threads, 4 x 4 each) and rows per shared-memory chunk. */
const TILE = 64;
const CHUNK = 16;
/** Workgroups that keep a large GPU busy (two per multiprocessor of an H100 or H200). */
const TARGET_WORKGROUPS = 264;
/** The fewest rows a split of the reduction keeps. */
const MIN_ROWS_PER_SPLIT = 256;

/** How many parts the reduction over `rows` is split into, for `tiles` output tiles. */
export function reductionSplits(rows: number, tiles: number): number {
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(rows / MIN_ROWS_PER_SPLIT)));
}

/**
 * dW as a [K = fh x fw x Cin, Cout] matrix product of the input's patches (read in place, never
 * stored) and dy, over rows = B x Ho x Wo split into `splits` parts: output [splits, K, Cout].
 */
class FilterGradProgram {
  readonly variableNames = ['x', 'dy'];
  readonly uniforms = 'pads : vec2<i32>, strides : vec2<i32>, filterWidth : i32, taps : i32, rows : i32, rowsPerSplit : i32, chunks : i32,';
  readonly workgroupSize: [number, number, number] = [16, 16, 1];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = 'rdpvConv2DDerFilterSplit';

  constructor(splits: number, taps: number, cout: number) {
    this.outputShape = [splits, taps, cout];
    this.dispatch = [Math.ceil(cout / TILE), Math.ceil(taps / TILE), splits];
  }

  // Loop bounds come from uniforms only, so every barrier sits in uniform control flow.
  getUserCode(): string {
    return `
      var<workgroup> tileX : array<array<f32, ${TILE}>, ${CHUNK}>;
      var<workgroup> tileDy : array<array<f32, ${TILE}>, ${CHUNK}>;

      // Row n = (b, oy, ox) of dy, column k = ((i, j), ci) of the filter: the input pixel tap (i, j) reads.
      fn patchValue(n : i32, k : i32) -> f32 {
        let cin = uniforms.xShape.w;
        let hw = uniforms.dyShape.y * uniforms.dyShape.z;
        let b = n / hw;
        let oy = (n - b * hw) / uniforms.dyShape.z;
        let ox = n - b * hw - oy * uniforms.dyShape.z;
        let tap = k / cin;
        let i = tap / uniforms.filterWidth;
        let r = oy * uniforms.strides.x + i - uniforms.pads.x;
        let c = ox * uniforms.strides.y + tap - i * uniforms.filterWidth - uniforms.pads.y;
        if (k >= uniforms.taps || r < 0 || r >= uniforms.xShape.y || c < 0 || c >= uniforms.xShape.z) {
          return 0.0;
        }
        return x[((b * uniforms.xShape.y + r) * uniforms.xShape.z + c) * cin + k - tap * cin];
      }

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let co0 = i32(workgroupId.x) * ${TILE};
        let k0 = i32(workgroupId.y) * ${TILE};
        let split = i32(workgroupId.z);
        let start = split * uniforms.rowsPerSplit;
        let end = min(start + uniforms.rowsPerSplit, uniforms.rows);
        let cout = uniforms.dyShape.w;
        let flat = ty * 16 + tx;
        var acc : array<array<f32, 4>, 4>;
        for (var t = 0; t < uniforms.chunks; t++) {
          let n0 = start + t * ${CHUNK};
          for (var q = 0; q < ${(TILE * CHUNK) / 256}; q++) {
            let e = flat + 256 * q;
            let rr = e / ${TILE};
            let cc = e - rr * ${TILE};
            let n = n0 + rr;
            var xv = 0.0;
            var dv = 0.0;
            if (n < end) {
              xv = patchValue(n, k0 + cc);
              if (co0 + cc < cout) {
                dv = dy[n * cout + co0 + cc];
              }
            }
            tileX[rr][cc] = xv;
            tileDy[rr][cc] = dv;
          }
          workgroupBarrier();
          for (var s = 0; s < ${CHUNK}; s++) {
            for (var u = 0; u < 4; u++) {
              let a = tileX[s][ty * 4 + u];
              for (var v = 0; v < 4; v++) {
                acc[u][v] = acc[u][v] + a * tileDy[s][tx * 4 + v];
              }
            }
          }
          workgroupBarrier();
        }
        for (var u = 0; u < 4; u++) {
          let k = k0 + ty * 4 + u;
          for (var v = 0; v < 4; v++) {
            let co = co0 + tx * 4 + v;
            if (k < uniforms.taps && co < cout) {
              setOutputAtIndex((split * uniforms.taps + k) * cout + co, acc[u][v]);
            }
          }
        }
      }
    `;
  }
}

/**
 * Conv2DBackpropFilter on webgpu: the stock kernel gives each filter weight one thread that loops
 * over every batch row and output pixel, 83-93% of a training step's GPU time on an H200
 * (docs/benchmarks.md). Here one dispatch of tiled products (shared memory, 4 x 4 weights a
 * thread) with the reduction split over workgroups, then one sum of the splits: two dispatches,
 * since on this path every dispatch costs about 0.5 ms of host time. No atomics: deterministic.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: WebGpuBackend; attrs: NamedAttrMap }): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  if (attrs.dataFormat === 'NCHW') throw new Error("Conv2DBackpropFilter on webgpu supports only dataFormat 'NHWC'");
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, attrs.strides as [number, number], 1, attrs.pad as Pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const rows = info.batchSize * info.outHeight * info.outWidth;
  const taps = info.filterHeight * info.filterWidth * info.inChannels;
  const splits = reductionSplits(rows, Math.ceil(taps / TILE) * Math.ceil(info.outChannels / TILE));
  const rowsPerSplit = Math.ceil(rows / splits);
  const scope = new KernelScope(backend, 'webgpu');
  const parts = backend.runWebGPUProgram(new FilterGradProgram(splits, taps, info.outChannels), [x, dy], 'float32', [
    { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
    { type: 'int32', data: [info.strideHeight, info.strideWidth] },
    { type: 'int32', data: [info.filterWidth] },
    { type: 'int32', data: [taps] },
    { type: 'int32', data: [rows] },
    { type: 'int32', data: [rowsPerSplit] },
    { type: 'int32', data: [Math.ceil(rowsPerSplit / CHUNK)] },
  ]);
  const out = scope.reshape(splits > 1 ? scope.run('Sum', { x: parts }, { axis: [0], keepDims: false }) : parts, filterShape);
  // A reshape shares its source's data under a reference count: freeing `parts` here is safe.
  backend.disposeData(parts.dataId);
  return scope.keep(out);
}

export const webgpuKernels: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropFilter', backendName: 'webgpu', kernelFunc: conv2DBackpropFilter as unknown as KernelFunc },
];
