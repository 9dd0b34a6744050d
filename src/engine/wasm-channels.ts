// Concat and SplitV along the last axis: the channel joins of the P-frame networks (frame and
// reference, each decoder stage and its context map) and their gradients. The backend copies
// one subarray per row and input (Concat) or runs its generic Slice per output (SplitV): with
// 1-16 channels, millions of tiny copies. Measured at [32, 64, 64, 16] + [.., 1] on one core:
// Concat 20 ms, SplitV 27 ms; plain JS loops over views of the wasm heap copy the same data in
// a few ms. Every other axis and dtype goes to the backend's kernels.
import '@tensorflow/tfjs-backend-wasm'; // registers the backend's kernels, captured below
import { getKernel, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

function builtin(kernelName: string): KernelFunc {
  const config = getKernel(kernelName, 'wasm') as KernelConfig | undefined;
  if (config === undefined) throw new Error(`the wasm backend registers no ${kernelName} kernel`);
  return config.kernelFunc;
}

type Args = { inputs: TensorInfo[] | Record<string, TensorInfo>; backend: BackendWasm; attrs: Record<string, unknown> };

const isLast = (axis: unknown, shape: number[]) => shape.length > 1 && util.parseAxisParam(axis as number, shape)[0] === shape.length - 1;
const rowsOf = (shape: number[]) => util.sizeFromShape(shape.slice(0, -1));

const concatFallback = builtin('Concat');
function concat(args: Args): TensorInfo {
  const inputs = (Array.isArray(args.inputs) ? args.inputs : Object.values(args.inputs)).filter((t) => util.sizeFromShape(t.shape) > 0);
  const first = inputs[0];
  if (!first || inputs.length < 2 || inputs.some((t) => t.dtype !== 'float32') || !isLast(args.attrs.axis, first.shape)) {
    return concatFallback(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  }
  const { backend } = args;
  const rows = rowsOf(first.shape);
  const total = inputs.reduce((s, t) => s + t.shape.at(-1)!, 0);
  const out = backend.makeOutput([...first.shape.slice(0, -1), total], 'float32');
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  let col = 0;
  for (const t of inputs) {
    const v = backend.typedArrayFromHeap(t) as Float32Array;
    const w = t.shape.at(-1)!;
    for (let r = 0, src = 0, dst = col; r < rows; r++, dst += total) for (let j = 0; j < w; j++) o[dst + j] = v[src++]!;
    col += w;
  }
  return out;
}

const splitFallback = builtin('SplitV');
function splitV(args: Args): TensorInfo[] {
  const x = (args.inputs as Record<string, TensorInfo>).x!;
  if (x.dtype !== 'float32' || !isLast(args.attrs.axis, x.shape)) return splitFallback(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo[];
  const { backend } = args;
  const rows = rowsOf(x.shape);
  const total = x.shape.at(-1)!;
  const spec = args.attrs.numOrSizeSplits as number | number[];
  const sizes = Array.isArray(spec) ? [...spec] : new Array<number>(spec).fill(total / spec);
  const unknown = sizes.indexOf(-1);
  if (unknown >= 0) sizes[unknown] = total - sizes.reduce((s, n, i) => (i === unknown ? s : s + n), 0);
  let col = 0;
  return sizes.map((w) => {
    const out = backend.makeOutput([...x.shape.slice(0, -1), w], 'float32');
    // makeOutput may grow the heap, which detaches earlier views: take the input's after it.
    const [o, src] = [backend.typedArrayFromHeap(out) as Float32Array, backend.typedArrayFromHeap(x) as Float32Array];
    for (let r = 0, dst = 0, at = col; r < rows; r++, at += total) for (let j = 0; j < w; j++) o[dst++] = src[at + j]!;
    col += w;
    return out;
  });
}

export const wasmChannelKernels: KernelConfig[] = [
  { kernelName: 'Concat', backendName: 'wasm', kernelFunc: concat as unknown as KernelFunc },
  { kernelName: 'SplitV', backendName: 'wasm', kernelFunc: splitV as unknown as KernelFunc },
];
