// Data movement for the conv kernels as plain JS loops over views of the wasm heap. The
// backend's Transpose, Reverse and StridedSlice are generic per-element loops in C++ that
// XNNPACK's thread pool never runs (and that run 1.6-1.8x slower on the threaded build);
// here one pass does what took two or three of them. A strided permutation costs 2-2.5 ns
// per element (the backend's Transpose: ~7 once the tensor outgrows the cache), a copy of
// contiguous runs ~0.3.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelScope } from './kernel-scope.ts';

type Shape4 = [number, number, number, number];

export const strides = ([, b, c, d]: number[]): Shape4 => [b * c * d, c * d, d, 1];

/**
 * A heap view's offset in floats. Not `byteOffset >> 2`: past 2 GiB of wasm memory that is
 * negative, and a negative copyWithin target counts back from the heap's end, so it wrote
 * over other tensors (a batch-64 GOP encode grew the heap that far).
 */
export const heapIndex = (view: Float32Array): number => view.byteOffset / 4;

/**
 * out = x[:size0, :size1, :size2, :size3] transposed by `perm` (4-D float32), i.e. the
 * crop happens in the same pass. Loops run with the output's last axis innermost and the
 * output axis that holds x's last axis next to it, so each step moves a small 2-D tile
 * whose rows stay in cache on both sides.
 */
export function permute(backend: BackendWasm, x: TensorInfo, perm: number[], size: number[] = x.shape): TensorInfo {
  const n = perm.map((a) => size[a]);
  const out = backend.makeOutput(n, 'float32');
  // Views after the allocation: growing wasm memory detaches earlier ones. One view of the
  // whole heap serves both sides, so contiguous runs move with copyWithin (a memmove).
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const heap = new Float32Array(src.buffer);
  const xs = strides(x.shape);
  const inStride = perm.map((a) => xs[a]);
  const outStride = strides(n);
  const k = perm.indexOf(3);
  const [A, B, C] = k === 3 ? [0, 1, 2] : [...[0, 1, 2].filter((a) => a !== k), k];
  const at = (v: number[]) => [v[A], v[B], v[C], v[3]];
  move(heap, heapIndex(src), heapIndex(dst), at(n), at(inStride), at(outStride));
  return out;
}

/**
 * A [rows, cols] matrix (any tensor of rows * cols elements) transposed to [cols, rows].
 * Runs of 64 rows at a time, so the lines read and written stay in cache.
 */
export function transpose2D(backend: BackendWasm, x: TensorInfo, rows: number, cols: number): TensorInfo {
  const out = backend.makeOutput([cols, rows], 'float32');
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const heap = new Float32Array(src.buffer);
  const [s0, d0] = [heapIndex(src), heapIndex(dst)];
  const T = 64;
  const full = Math.floor(rows / T) * T;
  move(heap, s0, d0, [1, full / T, cols, T], [0, T * cols, 1, cols], [0, T, rows]);
  move(heap, s0 + full * cols, d0 + full, [1, 1, cols, rows - full], [0, 0, 1, cols], [0, 0, rows]);
  return out;
}

/**
 * A strided 4-D copy within one view of the wasm heap: for every index (a, b, c, m) < n,
 * heap[d0 + a*o0 + b*o1 + c*o2 + m] = heap[s0 + a*i0 + b*i1 + c*i2 + m*i3]. Contiguous runs
 * of 16 floats or more go through copyWithin (a memmove), shorter ones through the loop.
 */
export function move(heap: Float32Array, s0: number, d0: number, [n0, n1, n2, n3]: number[], [i0, i1, i2, i3]: number[], [o0, o1, o2]: number[]): void {
  const runs = i3 === 1 && n3 >= 16;
  for (let a = 0; a < n0; a++) {
    for (let b = 0; b < n1; b++) {
      let from = s0 + a * i0 + b * i1;
      let to = d0 + a * o0 + b * o1;
      for (let c = 0; c < n2; c++, from += i2, to += o2) {
        if (runs) heap.copyWithin(to, from, from + n3);
        else for (let m = 0; m < n3; m++) heap[to + m] = heap[from + m * i3];
      }
    }
  }
}

/** Taps of one axis of a flipped filter: flipped rows start, start + step, ... (`taps` of them). */
export interface TapRange {
  start: number;
  taps: number;
  step: number;
}

/**
 * The sub-filter of the spatially flipped filter [fh, fw, A, B] at the given taps, with the
 * last two axes swapped when `swap` ([th, tw, B, A]) or not ([th, tw, A, B]): what
 * Reverse + Transpose + StridedSlice gave, in one pass.
 */
export function flippedTaps(backend: BackendWasm, filter: TensorInfo, rows: TapRange, cols: TapRange, swap: boolean): TensorInfo {
  const [fh, fw, a, b] = filter.shape;
  const out = backend.makeOutput([rows.taps, cols.taps, swap ? b : a, swap ? a : b], 'float32');
  const src = backend.typedArrayFromHeap(filter) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const heap = new Float32Array(src.buffer);
  let to = heapIndex(dst);
  for (let t = 0; t < rows.taps; t++) {
    const i = fh - 1 - (rows.start + t * rows.step);
    for (let u = 0; u < cols.taps; u++, to += a * b) {
      const from = heapIndex(src) + (i * fw + fw - 1 - (cols.start + u * cols.step)) * a * b;
      if (swap) move(heap, from, to, [1, 1, b, a], [0, 0, 1, b], [0, 0, a]);
      else heap.copyWithin(to, from, from + a * b);
    }
  }
  return out;
}

/** A KernelScope that also frees what these JS passes allocate. */
export class HeapScope extends KernelScope<BackendWasm> {
  private readonly own: TensorInfo[] = [];

  constant(shape: number[], values: Float32Array): TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32', undefined, values);
    this.made.push(out);
    return out;
  }

  permute(x: TensorInfo, perm: number[], size?: number[]): TensorInfo {
    return this.adopt(permute(this.backend, x, perm, size));
  }

  transpose2D(x: TensorInfo, rows: number, cols: number): TensorInfo {
    return this.adopt(transpose2D(this.backend, x, rows, cols));
  }

  flippedTaps(filter: TensorInfo, rows: TapRange, cols: TapRange, swap: boolean): TensorInfo {
    return this.adopt(flippedTaps(this.backend, filter, rows, cols, swap));
  }

  private adopt(t: TensorInfo): TensorInfo {
    this.own.push(t);
    return t;
  }

  override keep(result: TensorInfo): TensorInfo {
    for (const t of this.own) if (t !== result) this.backend.disposeData(t.dataId);
    this.own.length = 0;
    return super.keep(result);
  }
}
