// Convolution gradients for the wasm backend, rewritten as forward convolutions so that
// they run through XNNPACK like the forward pass (DESIGN.md section 1):
// - input gradient: correlate dy with the spatially flipped filter. At stride s the
//   result splits into s*s sub-pixel phases; phase (p, q) only meets the taps
//   i = p + pad (mod s) of the filter, so it is a stride-1 convolution of dy with that
//   sub-filter, and the phases are interleaved by depth-to-space. No zero is multiplied.
// - filter gradient: a convolution of the padded input laid out as [Cin, H, W, B] with
//   dy laid out as [Ho, Wo, B, Cout] as the filter, dilated by the stride.
// - both, when the filter has few input taps (fh*fw*Cin <= Cout, e.g. one-channel images):
//   one matrix product with im2col/col2im, where the above would give XNNPACK degenerate
//   GEMMs (one output channel, or a few rows with a reduction over the whole batch).
// Padding comes from tfjs's own computeConv2DInfo, so TF's asymmetric 'same' padding at
// stride 2 (the extra row at the bottom/right) is reproduced exactly.
// Only the convolutions and matrix products go to the backend (XNNPACK, which the threaded
// build runs on every thread). Moving data around them (flipped sub-filters, transposes,
// phase interleaving, col2im) is plain JS over the wasm heap (wasm-layout.ts): the
// backend's Transpose, Reverse and StridedSlice are generic single-threaded loops that took
// a third of a 2-thread training step.
import {
  backend_util,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { flippedTaps, heapIndex, HeapScope, move, strides, type TapRange } from './wasm-layout.ts';

type Pair = [number, number];
type ExplicitPadding = [Pair, Pair, Pair, Pair];
type Pad = 'valid' | 'same' | number | ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: BackendWasm;
  attrs: NamedAttrMap;
}

/** One spatial axis of a forward convolution. */
interface Axis {
  inSize: number;
  outSize: number;
  filter: number;
  stride: number;
  dilation: number;
  padBefore: number;
}

/** One sub-pixel phase along an axis: which flipped-filter taps it uses and how dy is padded. */
interface Phase {
  start: number;
  taps: number;
  before: number;
  after: number;
}

/**
 * Splits the transposed correlation along one axis into `stride` stride-1 correlations.
 * Output row y = s*k + p gets sum_t dy[k + c - t] * w[r + t*s], r = (p + pad) mod s,
 * c = (p + pad - r) / s; read in the flipped filter that is a plain correlation.
 * Each phase yields ceil(inSize / s) rows; interleaving drops those past inSize.
 */
function axisPhases(a: Axis): { phases: Phase[]; size: number } {
  const s = a.stride;
  const size = Math.ceil(a.inSize / s);
  const phases: Phase[] = [];
  for (let p = 0; p < s; p++) {
    const r = (p + a.padBefore) % s;
    const taps = r < a.filter ? Math.ceil((a.filter - r) / s) : 0;
    const c = (p + a.padBefore - r) / s;
    const before = (taps - 1) * a.dilation - c;
    const after = size + (taps - 1) * a.dilation - a.outSize - before;
    phases.push({ start: a.filter - 1 - r - (taps - 1) * s, taps, before, after });
  }
  return { phases, size };
}

/** Per-phase convolution of (cropped) dy with a sub-filter under explicit padding. */
type PhaseConv = (dy: TensorInfo, subFilter: TensorInfo, pad: ExplicitPadding) => TensorInfo;
/** The taps of the spatially flipped filter that one phase uses, in the layout its PhaseConv expects. */
type SubFilter = (rows: TapRange, cols: TapRange) => TensorInfo;

/** The gradient of a convolution with respect to its input, as sub-pixel phases. */
function transposedCorrelation(
  scope: HeapScope,
  dy: TensorInfo,
  subFilter: SubFilter,
  rows: Axis,
  cols: Axis,
  channels: number,
  conv: PhaseConv,
): TensorInfo {
  const [batch, dyH, dyW, dyC] = dy.shape;
  const h = axisPhases(rows);
  const w = axisPhases(cols);
  const outs: TensorInfo[] = [];
  for (const ph of h.phases) {
    for (const pw of w.phases) {
      if (ph.taps === 0 || pw.taps === 0) {
        outs.push(scope.zeros([batch, h.size, w.size, channels]));
        continue;
      }
      const sub = subFilter({ start: ph.start, taps: ph.taps, step: rows.stride }, { start: pw.start, taps: pw.taps, step: cols.stride });
      // A negative pad means dy rows this phase never reads: crop them instead.
      const top = Math.max(0, -ph.before);
      const left = Math.max(0, -pw.before);
      const bottom = Math.max(0, -ph.after);
      const right = Math.max(0, -pw.after);
      const src = top + left + bottom + right === 0 ? dy : scope.slice(dy, [0, top, left, 0], [batch, dyH - top - bottom, dyW - left - right, dyC]);
      const pad: ExplicitPadding = [
        [0, 0],
        [Math.max(0, ph.before), Math.max(0, ph.after)],
        [Math.max(0, pw.before), Math.max(0, pw.after)],
        [0, 0],
      ];
      outs.push(conv(src, sub, pad));
    }
  }
  if (outs.length === 1) return outs[0];
  return interleave(scope.backend, outs, rows, cols, h.size, w.size, channels);
}

/**
 * Depth-to-space over the phases, straight into the cropped output: phase (p, q) row k,
 * column l goes to pixel (k*sh + p, l*sw + q). A JS copy on the wasm heap, because the
 * backend's 6-D Transpose (and DepthToSpace) run at a fraction of this speed.
 */
function interleave(
  backend: BackendWasm,
  phases: TensorInfo[],
  rows: Axis,
  cols: Axis,
  phaseH: number,
  phaseW: number,
  channels: number,
): TensorInfo {
  const [batch] = phases[0].shape;
  const [height, width, sh, sw] = [rows.inSize, cols.inSize, rows.stride, cols.stride];
  const out = backend.makeOutput([batch, height, width, channels], 'float32');
  // Heap views are taken after the allocation above: growing wasm memory detaches them.
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const heap = new Float32Array(dst.buffer);
  phases.forEach((phase, index) => {
    const p = Math.floor(index / sw);
    const q = index % sw;
    const src = backend.typedArrayFromHeap(phase) as Float32Array;
    const n = [batch, Math.min(phaseH, Math.ceil((height - p) / sh)), Math.min(phaseW, Math.ceil((width - q) / sw)), channels];
    const to = heapIndex(dst) + (p * width + q) * channels;
    move(heap, heapIndex(src), to, n, strides(phase.shape), [height * width * channels, sh * width * channels, sw * channels]);
  });
  return out;
}

function axes(info: backend_util.Conv2DInfo): [Axis, Axis] {
  return [
    {
      inSize: info.inHeight,
      outSize: info.outHeight,
      filter: info.filterHeight,
      stride: info.strideHeight,
      dilation: info.dilationHeight,
      padBefore: info.padInfo.top,
    },
    {
      inSize: info.inWidth,
      outSize: info.outWidth,
      filter: info.filterWidth,
      stride: info.strideWidth,
      dilation: info.dilationWidth,
      padBefore: info.padInfo.left,
    },
  ];
}

/**
 * Explicit padding for the filter-gradient convolution: the forward pad before, and after
 * just enough for `filter` outputs (never negative; surplus outputs are cropped).
 */
function filterGradPad(a: Axis): Pair {
  const need = (a.filter - 1) * a.dilation + (a.outSize - 1) * a.stride + 1;
  return [a.padBefore, Math.max(0, need - a.inSize - a.padBefore)];
}

function requireNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat === 'NCHW') throw new Error(`${kernel} on wasm supports only dataFormat 'NHWC'`);
}

type DataId = TensorInfo['dataId'];

/**
 * Flipped sub-filters by filter data, kept as long as that data lives: a model decoding frame
 * after frame uses the same filters again, so each sub-filter is laid out, and packed by
 * XNNPACK (an operator per filter data), once rather than per call (at batch 1 that was a fifth
 * of a transposed conv). Tensor data never changes (a variable's update makes new data), so the
 * key is sound; the backend's disposeData is wrapped to free the entries with their filter.
 */
const subFilterCaches = new WeakMap<BackendWasm, Map<DataId, Map<string, TensorInfo>>>();

function subFilterCache(backend: BackendWasm): Map<DataId, Map<string, TensorInfo>> {
  let cache = subFilterCaches.get(backend);
  if (cache) return cache;
  const byFilter = (cache = new Map<DataId, Map<string, TensorInfo>>());
  subFilterCaches.set(backend, byFilter);
  const dispose = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: DataId, force?: boolean) => {
    const freed = dispose(dataId, force);
    const subs = freed ? byFilter.get(dataId) : undefined;
    if (subs) {
      byFilter.delete(dataId);
      for (const sub of subs.values()) dispose(sub.dataId, true);
    }
    return freed;
  };
  return byFilter;
}

function cachedSubFilter(backend: BackendWasm, filter: TensorInfo, rows: TapRange, cols: TapRange): TensorInfo {
  const cache = subFilterCache(backend);
  let subs = cache.get(filter.dataId);
  if (!subs) cache.set(filter.dataId, (subs = new Map()));
  const key = `${rows.start},${rows.taps},${rows.step},${cols.start},${cols.taps},${cols.step}`;
  let sub = subs.get(key);
  if (!sub) subs.set(key, (sub = flippedTaps(backend, filter, rows, cols, true)));
  return sub;
}

function conv2DBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs;
  requireNHWC('Conv2DBackpropInput', attrs.dataFormat);
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape as Shape4,
    filter.shape as Shape4,
    attrs.strides as number | Pair,
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
  );
  const scope = new HeapScope(backend);
  const taps = info.filterHeight * info.filterWidth * info.inChannels;
  if (taps <= info.outChannels) return scope.keep(inputGradByColumns(scope, dy, filter, info, taps));
  // Flipped spatially, in/out channels swapped: [th, tw, Cout, Cin].
  const subFilter: SubFilter = (r, c) => cachedSubFilter(backend, filter, r, c);
  const [rows, cols] = axes(info);
  const dx = transposedCorrelation(scope, dy, subFilter, rows, cols, info.inChannels, (src, sub, pad) =>
    scope.run('Conv2D', { x: src, filter: sub }, { strides: 1, dilations: 1, pad, dataFormat: 'NHWC' }),
  );
  return scope.keep(dx);
}

/**
 * The input gradient when the filter has few input taps (fh*fw*Cin <= Cout, as in a layer
 * that outputs one channel): one [pixels, Cout] x [Cout, taps] matrix product, then each
 * row of taps added back into its patch of dx (col2im). The sub-pixel phases would run
 * XNNPACK with only Cin output channels, where it is several times slower.
 */
function inputGradByColumns(scope: HeapScope, dy: TensorInfo, filter: TensorInfo, info: backend_util.Conv2DInfo, taps: number): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const pixels = batchSize * outHeight * outWidth;
  const weights = scope.reshape(scope.transpose2D(filter, taps, outChannels), [1, outChannels, taps]);
  const columns = scope.run('BatchMatMul', { a: scope.reshape(dy, [1, pixels, outChannels]), b: weights }, { transposeA: false, transposeB: false });
  const dx = scope.zeros([batchSize, inHeight, inWidth, inChannels]);
  // Heap views after the last allocation: growing wasm memory detaches earlier ones.
  const src = scope.backend.typedArrayFromHeap(columns) as Float32Array;
  const dst = scope.backend.typedArrayFromHeap(dx) as Float32Array;
  col2im(src, dst, info);
  return dx;
}

/**
 * Adds each row of taps [fh, fw, C] of `src` (one row per output pixel) back into its patch
 * of `dst`. The taps of one filter row that fall inside the image are one contiguous run on
 * both sides, so the inner loop is a plain add with no bounds checks.
 */
function col2im(src: Float32Array, dst: Float32Array, info: backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const taps = filterHeight * filterWidth * inChannels;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - info.padInfo.top;
      const [i0, i1] = [Math.max(0, -y0), Math.min(filterHeight, inHeight - y0)];
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - info.padInfo.left;
        const [j0, j1] = [Math.max(0, -x0), Math.min(filterWidth, inWidth - x0)];
        const run = (j1 - j0) * inChannels;
        const k = ((b * outHeight + oy) * outWidth + ox) * taps + j0 * inChannels;
        for (let i = i0; i < i1; i++) {
          const from = k + i * filterWidth * inChannels;
          const to = ((b * inHeight + y0 + i) * inWidth + x0 + j0) * inChannels;
          for (let q = 0; q < run; q++) dst[to + q] += src[from + q];
        }
      }
    }
  }
}

function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  requireNHWC('Conv2DBackpropFilter', attrs.dataFormat);
  const [fh, fw, cin, cout] = attrs.filterShape as Shape4;
  const info = backend_util.computeConv2DInfo(
    x.shape as Shape4,
    [fh, fw, cin, cout],
    attrs.strides as number | Pair,
    1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
  );
  const scope = new HeapScope(backend);
  const taps = fh * fw * cin;
  if (taps <= cout) return scope.keep(filterGradByPatches(scope, x, dy, info, taps, cout));
  const [rows, cols] = axes(info);
  const grad = scope.run(
    'Conv2D',
    { x: scope.permute(x, [3, 1, 2, 0]), filter: scope.permute(dy, [1, 2, 0, 3]) },
    { strides: 1, dilations: [info.strideHeight, info.strideWidth], pad: [[0, 0], filterGradPad(rows), filterGradPad(cols), [0, 0]], dataFormat: 'NHWC' },
  );
  // Surplus outputs (when the padding had to round up) are cropped in the same pass.
  return scope.keep(scope.permute(grad, [1, 2, 0, 3], [cin, fh, fw, cout]));
}

/**
 * The filter gradient when the filter has few input taps (fh*fw*Cin <= Cout, as in a
 * first layer on one channel): gather the patches of x with a convolution by the
 * identity filter, then one [Cout, pixels] x [pixels, taps] matrix product. The
 * [Cin, H, W, B] formulation would run a GEMM with only fh*fw*Cin rows and a reduction
 * over every pixel of the batch, which XNNPACK handles several times slower. XNNPACK
 * packs the right operand on every call (a fresh tensor each time): the patches are the
 * smaller of the two, so they go there and dy is transposed instead.
 */
function filterGradByPatches(scope: HeapScope, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo, taps: number, cout: number): TensorInfo {
  const identity = new Float32Array(taps * taps);
  for (let i = 0; i < taps; i++) identity[i * taps + i] = 1;
  const patches = scope.run(
    'Conv2D',
    { x, filter: scope.constant([info.filterHeight, info.filterWidth, info.inChannels, taps], identity) },
    { strides: [info.strideHeight, info.strideWidth], dilations: 1, pad: [[0, 0], [info.padInfo.top, info.padInfo.bottom], [info.padInfo.left, info.padInfo.right], [0, 0]], dataFormat: 'NHWC' },
  );
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  // BatchMatMul reaches XNNPACK only with batch 1 and no transposed operand.
  const dyT = scope.reshape(scope.transpose2D(dy, pixels, cout), [1, cout, pixels]);
  const gradT = scope.run('BatchMatMul', { a: dyT, b: scope.reshape(patches, [1, pixels, taps]) }, { transposeA: false, transposeB: false });
  return scope.reshape(scope.transpose2D(gradT, cout, taps), [info.filterHeight, info.filterWidth, info.inChannels, cout]);
}

function depthwiseBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs;
  const [, , channels, multiplier] = filter.shape as Shape4;
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape as Shape4,
    filter.shape as Shape4,
    attrs.strides as number | Pair,
    attrs.dilations as number | Pair,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    true,
  );
  const scope = new HeapScope(backend);
  // Each of the C*m output channels of dy feeds back into its own input channel.
  const subFilter: SubFilter = (r, c) => scope.reshape(scope.flippedTaps(filter, r, c, false), [r.taps, c.taps, channels * multiplier, 1]);
  const [rows, cols] = axes(info);
  const dilations = [info.dilationHeight, info.dilationWidth];
  const spread = transposedCorrelation(scope, dy, subFilter, rows, cols, channels * multiplier, (src, sub, pad) =>
    scope.run('DepthwiseConv2dNative', { x: src, filter: sub }, { strides: 1, dilations, pad }),
  );
  if (multiplier === 1) return scope.keep(spread);
  const [batch, height, width] = info.inShape;
  const dx = scope.run('Sum', { x: scope.reshape(spread, [batch, height, width, channels, multiplier]) }, { axis: [4], keepDims: false });
  return scope.keep(dx);
}

function depthwiseBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  const [fh, fw, channels, multiplier] = attrs.filterShape as Shape4;
  const info = backend_util.computeConv2DInfo(
    x.shape as Shape4,
    [fh, fw, channels, multiplier],
    attrs.strides as number | Pair,
    attrs.dilations as number | Pair,
    attrs.pad as Pad,
    attrs.dimRoundingMode as Rounding,
    true,
  );
  const [batch, height, width] = x.shape;
  const [rows, cols] = axes(info);
  const scope = new HeapScope(backend);
  // Every (batch, channel) pair becomes one depthwise channel; dy is its filter.
  const xs = scope.reshape(scope.permute(x, [1, 2, 0, 3]), [1, height, width, batch * channels]);
  const dys = scope.reshape(scope.permute(dy, [1, 2, 0, 3]), [info.outHeight, info.outWidth, batch * channels, multiplier]);
  const grad = scope.run(
    'DepthwiseConv2dNative',
    { x: xs, filter: dys },
    {
      strides: [info.dilationHeight, info.dilationWidth],
      dilations: [info.strideHeight, info.strideWidth],
      pad: [[0, 0], filterGradPad(rows), filterGradPad(cols), [0, 0]],
    },
  );
  const cropped = grad.shape[1] === fh && grad.shape[2] === fw ? grad : scope.slice(grad, [0, 0, 0, 0], [1, fh, fw, batch * channels * multiplier]);
  const summed = scope.run('Sum', { x: scope.reshape(cropped, [fh, fw, batch, channels * multiplier]) }, { axis: [2], keepDims: false });
  return scope.keep(scope.reshape(summed, [fh, fw, channels, multiplier]));
}

/** tfjs types kernel functions loosely; this is the one cast from our typed signatures. */
export const kernel = (f: (args: KernelArgs) => TensorInfo): KernelFunc => f as unknown as KernelFunc;

export const wasmConvKernels: KernelConfig[] = [
  { kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: kernel(conv2DBackpropInput) },
  { kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: kernel(conv2DBackpropFilter) },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: kernel(depthwiseBackpropInput) },
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: kernel(depthwiseBackpropFilter) },
];
