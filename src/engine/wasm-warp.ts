// The scale-space warp (src/models/warp.ts) as two fused wasm-backend kernels: the blur
// and the trilinear sampler forward, and both gradients. warp.ts composes tfjs ops where
// these are not registered. Forward+backward at [32, 64, 64, 1] on wasm (2 shared cores,
// best of 10): composed ops 427 ms, these kernels 28 ms (forward 12 ms); a 5x5 conv layer
// 1->1 channels takes 9 ms, 1->16 65 ms. With 1-2 channels, channel-last Sum, SplitV, Concat
// and Gather (and the blur's replicate padding) are per-element slow paths in the backend;
// here everything is plain JS loops over views of the wasm heap.
//
// ScaleSpaceWarp: ref [B, H, W, C], field [B, H, W, 3] -> [out, blur(ref)], both [B, H, W, C]
// (the blur is returned so that the backward pass need not recompute it).
// ScaleSpaceWarpGrad: (dy, ref, blurred, field) -> [dref, dfield].
// Conventions (documented in warp.ts) match the composed path: the blur is separable,
// 11 taps of sigma 1.5 with replicate padding; x = j + dx * W/2 (align_corners=false),
// clamped to the border, s clamped to [0, 1]; a clamp passes gradient only inside its
// closed range, as tf.clipByValue does.
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { kernel, type KernelArgs } from './wasm-conv.ts';

// BLUR_SIGMA and BLUR_TAPS of src/models/warp.ts (the engine does not import models); the
// warp tests compare this blur with that one.
const SIGMA = 1.5;
const RADIUS = 5;

const TAPS = (() => {
  const g = Array.from({ length: 2 * RADIUS + 1 }, (_, i) => Math.exp(-((i - RADIUS) ** 2) / (2 * SIGMA ** 2)));
  const total = g.reduce((a, b) => a + b, 0);
  return Float32Array.from(g, (v) => v / total);
})();

const clamp = (i: number, n: number) => Math.min(n - 1, Math.max(0, i));

/**
 * The blur along H of data laid out [outer, n, inner]: whole rows at a time, so the inner
 * loop is contiguous. Forward: row i gathers clamp(i + t - R); the adjoint (transpose)
 * scatters the same pairs the other way.
 */
function blurRows(src: Float32Array, dst: Float32Array, outer: number, n: number, inner: number, adjoint: boolean): void {
  dst.fill(0);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < TAPS.length; t++) {
        const j = clamp(i + t - RADIUS, n);
        const from = (o * n + (adjoint ? i : j)) * inner;
        const to = (o * n + (adjoint ? j : i)) * inner;
        const tap = TAPS[t]!;
        for (let q = 0; q < inner; q++) dst[to + q] += tap * src[from + q]!;
      }
    }
  }
}

/**
 * The blur along W of data laid out [outer, n, c], one padded line at a time (no clamp per
 * tap; tap-major loops, 2x faster than a dot product per output). Forward: replicate-pad,
 * correlate. Adjoint: the taps are symmetric, so correlate the zero-padded line over the
 * padded range and fold each position onto its clamped source.
 */
function blurLines(src: Float32Array, dst: Float32Array, outer: number, n: number, c: number, adjoint: boolean): void {
  const pad = 2 * RADIUS;
  const line = new Float64Array(n + 2 * pad);
  // acc[m + R] = sum_t T[t] line[m + t - R + pad], for m in [-R, n + R).
  const acc = new Float64Array(n + 2 * RADIUS);
  const [lo, hi] = adjoint ? [-RADIUS, n + RADIUS] : [0, n];
  dst.fill(0);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < c; k++) {
      const base = o * n * c + k;
      for (let m = -pad; m < n + pad; m++) {
        line[m + pad] = adjoint ? (m >= 0 && m < n ? src[base + m * c]! : 0) : src[base + clamp(m, n) * c]!;
      }
      acc.fill(0);
      for (let t = 0; t < TAPS.length; t++) {
        const tap = TAPS[t]!;
        for (let m = lo; m < hi; m++) acc[m + RADIUS] += tap * line[m + t + RADIUS]!;
      }
      for (let m = lo; m < hi; m++) dst[base + clamp(m, n) * c] += acc[m + RADIUS]!;
    }
  }
}

function blur(x: Float32Array, [b, h, w, c]: number[]): Float32Array {
  const mid = new Float32Array(x.length);
  const out = new Float32Array(x.length);
  blurRows(x, mid, b, h, w * c, false);
  blurLines(mid, out, b * h, w, c, false);
  return out;
}

function blurAdjoint(dy: Float32Array, [b, h, w, c]: number[]): Float32Array {
  const mid = new Float32Array(dy.length);
  const out = new Float32Array(dy.length);
  blurLines(dy, mid, b * h, w, c, true);
  blurRows(mid, out, b, h, w * c, true);
  return out;
}

/** One pixel's sampling position: corner rows (pixel index into [B*H*W]) and fractional parts. */
interface Point {
  r00: number;
  r01: number;
  r10: number;
  r11: number;
  wx: number;
  wy: number;
  s: number;
  inX: number;
  inY: number;
  inS: number;
}

function locate(field: Float32Array, p: number, h: number, w: number, pt: Point): void {
  const f32 = Math.fround;
  const j = p % w;
  const i = Math.floor(p / w) % h;
  const base = p - i * w - j;
  // The composed path's float32 steps: x = j + dx * (W/2), then clamp.
  const xRaw = f32(j + f32(field[3 * p]! * (w / 2)));
  const yRaw = f32(i + f32(field[3 * p + 1]! * (h / 2)));
  const sRaw = field[3 * p + 2]!;
  const x = Math.min(w - 1, Math.max(0, xRaw));
  const y = Math.min(h - 1, Math.max(0, yRaw));
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const x1 = Math.min(x0 + 1, w - 1);
  const y1 = Math.min(y0 + 1, h - 1);
  pt.r00 = base + y0 * w + x0;
  pt.r01 = base + y0 * w + x1;
  pt.r10 = base + y1 * w + x0;
  pt.r11 = base + y1 * w + x1;
  pt.wx = f32(x - x0);
  pt.wy = f32(y - y0);
  pt.s = Math.min(1, Math.max(0, sRaw));
  pt.inX = xRaw >= 0 && xRaw <= w - 1 ? 1 : 0;
  pt.inY = yRaw >= 0 && yRaw <= h - 1 ? 1 : 0;
  pt.inS = sRaw >= 0 && sRaw <= 1 ? 1 : 0;
}

function checkShapes(ref: TensorInfo, field: TensorInfo): number[] {
  const [b, h, w] = ref.shape;
  const ok = ref.shape.length === 4 && field.shape.length === 4 && field.shape[0] === b && field.shape[1] === h && field.shape[2] === w && field.shape[3] === 3;
  if (!ok || ref.dtype !== 'float32' || field.dtype !== 'float32') {
    throw new Error(`ScaleSpaceWarp: ref [${ref.shape}] and field [${field.shape}] must be float32 [B, H, W, C] and [B, H, W, 3]`);
  }
  return ref.shape;
}

function warp({ inputs, backend }: KernelArgs): TensorInfo[] {
  const shape = checkShapes(inputs.ref!, inputs.field!);
  const [b, h, w, c] = shape as [number, number, number, number];
  // Allocate first: a heap growth would detach views taken earlier.
  const out = backend.makeOutput(shape, 'float32');
  const blurInfo = backend.makeOutput(shape, 'float32');
  const sharp = backend.typedArrayFromHeap(inputs.ref!) as Float32Array;
  const field = backend.typedArrayFromHeap(inputs.field!) as Float32Array;
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  const blurred = backend.typedArrayFromHeap(blurInfo) as Float32Array;
  blurred.set(blur(sharp, shape));
  const pt: Point = { r00: 0, r01: 0, r10: 0, r11: 0, wx: 0, wy: 0, s: 0, inX: 0, inY: 0, inS: 0 };
  for (let p = 0; p < b * h * w; p++) {
    locate(field, p, h, w, pt);
    const { wx, wy, s } = pt;
    const w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
    const i00 = pt.r00 * c, i01 = pt.r01 * c, i10 = pt.r10 * c, i11 = pt.r11 * c;
    for (let k = 0; k < c; k++) {
      const vs = w00 * sharp[i00 + k]! + w01 * sharp[i01 + k]! + w10 * sharp[i10 + k]! + w11 * sharp[i11 + k]!;
      const vb = w00 * blurred[i00 + k]! + w01 * blurred[i01 + k]! + w10 * blurred[i10 + k]! + w11 * blurred[i11 + k]!;
      o[p * c + k] = vs * (1 - s) + vb * s;
    }
  }
  return [out, blurInfo];
}

function warpGrad({ inputs, backend }: KernelArgs): TensorInfo[] {
  const shape = checkShapes(inputs.ref!, inputs.field!);
  const [b, h, w, c] = shape as [number, number, number, number];
  const outs = [backend.makeOutput(shape, 'float32'), backend.makeOutput(inputs.field!.shape, 'float32')];
  const [dref, dfield] = outs.map((t) => backend.typedArrayFromHeap(t) as Float32Array) as [Float32Array, Float32Array];
  const sharp = backend.typedArrayFromHeap(inputs.ref!) as Float32Array;
  const field = backend.typedArrayFromHeap(inputs.field!) as Float32Array;
  const dy = backend.typedArrayFromHeap(inputs.dy!) as Float32Array;
  const levels = [sharp, backend.typedArrayFromHeap(inputs.blurred!) as Float32Array];
  const grads = [dref, new Float32Array(sharp.length)];
  dref.fill(0);
  const pt: Point = { r00: 0, r01: 0, r10: 0, r11: 0, wx: 0, wy: 0, s: 0, inX: 0, inY: 0, inS: 0 };
  for (let p = 0; p < b * h * w; p++) {
    locate(field, p, h, w, pt);
    const { wx, wy, s } = pt;
    const w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
    const i00 = pt.r00 * c, i01 = pt.r01 * c, i10 = pt.r10 * c, i11 = pt.r11 * c;
    let ddx = 0, ddy = 0, ds = 0;
    for (let l = 0; l < 2; l++) {
      const vol = levels[l]!;
      const dvol = grads[l]!;
      for (let k = 0; k < c; k++) {
        const g = dy[p * c + k]!;
        // The upstream gradient reaching this level's bilinear sample.
        const dV = l === 0 ? g * (1 - s) : g * s;
        const v00 = vol[i00 + k]!, v01 = vol[i01 + k]!, v10 = vol[i10 + k]!, v11 = vol[i11 + k]!;
        dvol[i00 + k] += w00 * dV;
        dvol[i01 + k] += w01 * dV;
        dvol[i10 + k] += w10 * dV;
        dvol[i11 + k] += w11 * dV;
        ddx += dV * ((1 - wy) * (v01 - v00) + wy * (v11 - v10));
        ddy += dV * ((1 - wx) * (v10 - v00) + wx * (v11 - v01));
        const v = w00 * v00 + w01 * v01 + w10 * v10 + w11 * v11;
        ds += l === 0 ? -g * v : g * v;
      }
    }
    dfield[3 * p] = ddx * pt.inX * (w / 2);
    dfield[3 * p + 1] = ddy * pt.inY * (h / 2);
    dfield[3 * p + 2] = ds * pt.inS;
  }
  // The blurred level's gradient reaches ref through the blur's transpose.
  const viaBlur = blurAdjoint(grads[1]!, shape);
  for (let i = 0; i < dref.length; i++) dref[i] += viaBlur[i]!;
  return outs;
}

export const wasmWarpKernels: KernelConfig[] = [
  { kernelName: 'ScaleSpaceWarp', backendName: 'wasm', kernelFunc: kernel(warp as unknown as (a: KernelArgs) => TensorInfo) },
  { kernelName: 'ScaleSpaceWarpGrad', backendName: 'wasm', kernelFunc: kernel(warpGrad as unknown as (a: KernelArgs) => TensorInfo) },
];
