// Engine benchmark: the reference autoencoder of DESIGN.md section 1 on the wasm backend
// (one core by default), against the same network in PyTorch with 2 threads, run from here.
// Usage: npm run bench:engine [-- --steps N] [--threads N] [--no-peer] [--kernels]
// --kernels also times each conv kernel per layer against a 1024x1024 matmul (GFLOP/s).
// The last line printed is a JSON object with ours_step_ms, peer_step_ms, speedup and threads.
import { benchOptions, runPeer, torchPython } from './common.ts';
import { loadavg } from 'node:os';
import { parseFlags, numberFlag } from '../src/cli/args.ts';
import { UserError } from '../src/errors.ts';
import { initEngine, MAX_WASM_THREADS, tf } from '../src/engine/index.ts';
import { Rng } from '../src/rng.ts';

const { steps, threads, noPeer, kernels } = benchOptions((argv) => {
  const { values } = parseFlags(argv, {
    steps: { type: 'string' },
    threads: { type: 'string' },
    'no-peer': { type: 'boolean' },
    kernels: { type: 'boolean' },
  });
  const threads = numberFlag('threads', values.threads, 1, 1, MAX_WASM_THREADS);
  if (!Number.isInteger(threads)) throw new UserError(`--threads must be an integer, got ${threads}`);
  return { steps: numberFlag('steps', values.steps, 5, 5, 1000), threads, noPeer: values['no-peer'] === true, kernels: values.kernels === true };
});

await initEngine({ backend: 'wasm', threads });
// Other processes skew both sides (PyTorch's two threads most): say how busy the machine was.
const loadAtStart = loadavg()[0];
console.log(`load average (1 min) at start: ${loadAtStart.toFixed(2)}`);

const rng = new Rng(2024);
/** Uniform(-b, b) with b = 1/sqrt(fan_in), PyTorch's default for conv weights and biases. */
const param = (shape: number[], fanIn: number) => {
  const bound = 1 / Math.sqrt(fanIn);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.variable(tf.tensor(Float32Array.from({ length: size }, () => (2 * rng.uniform() - 1) * bound), shape));
};
const encoder = [1, 64, 64, 64, 8].slice(1).map((cout, i, all) => {
  const cin = i === 0 ? 1 : all[i - 1];
  return { w: param([5, 5, cin, cout], 25 * cin), b: param([cout], 25 * cin) };
});
const decoder = [8, 64, 64, 64, 1].slice(1).map((cout, i, all) => {
  const cin = i === 0 ? 8 : all[i - 1];
  // conv2dTranspose filters are [fh, fw, out, in].
  return { w: param([5, 5, cout, cin], 25 * cout), b: param([cout], 25 * cout), cout };
});
const variables = [...encoder, ...decoder].flatMap((l) => [l.w, l.b]);
const x = tf.tensor(Float32Array.from({ length: 32 * 64 * 64 }, () => rng.uniform()), [32, 64, 64, 1]) as tf.Tensor4D;

function forward(input: tf.Tensor4D): tf.Tensor4D {
  let h = input;
  for (const l of encoder) h = tf.relu(tf.add(tf.conv2d(h, l.w as tf.Tensor4D, 2, 'same'), l.b)) as tf.Tensor4D;
  decoder.forEach((l, i) => {
    const [n, height, width] = h.shape;
    const y = tf.add(tf.conv2dTranspose(h, l.w as tf.Tensor4D, [n, height * 2, width * 2, l.cout], 2, 'same'), l.b) as tf.Tensor4D;
    h = i < decoder.length - 1 ? (tf.relu(y) as tf.Tensor4D) : y;
  });
  return h;
}

const optimizer = tf.train.adam(1e-3);
const loss = () => tf.mean(tf.square(tf.sub(forward(x), x))) as tf.Scalar;
const trainStep = () => {
  const l = optimizer.minimize(loss, true, variables);
  l?.dataSync();
  l?.dispose();
};
const forwardOnly = () => tf.tidy(() => forward(x).dataSync());

function medianMs(fn: () => void): number {
  fn();
  fn();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const oursForward = medianMs(forwardOnly);
const oursStep = medianMs(trainStep);
console.log(`ours (tfjs wasm, ${threads} thread${threads === 1 ? '' : 's'}): forward ${oursForward.toFixed(0)} ms, train step ${oursStep.toFixed(0)} ms (median of ${steps})`);

// Per-kernel time of one train step, from tfjs's profiler.
const profile = await tf.profile(trainStep);
const byKernel = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
  entry.ms += k.kernelTimeMs as number;
  entry.calls++;
  byKernel.set(k.name, entry);
}
const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
console.log('per-kernel time of one profiled train step:');
for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`  ${name.padEnd(22)} ${e.ms.toFixed(1).padStart(8)} ms  ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  (${e.calls} calls)`);
}

// The pack's kernels call the backend's kernels directly (WasmScope), out of tf.profile's
// sight: wrap every registered wasm kernel once to get each one's self time, inner calls
// named `outer > inner`, and the outer kernel's own JS as `outer (own)`.
const inner = new Map<string, { ms: number; calls: number }>();
const stack: { name: string; children: number }[] = [];
for (const config of tf.getKernelsForBackend('wasm')) {
  const run = config.kernelFunc;
  config.kernelFunc = (args) => {
    const name = stack.length === 0 ? config.kernelName : `${stack[0].name} > ${config.kernelName}`;
    stack.push({ name, children: 0 });
    const t0 = performance.now();
    try {
      return run(args);
    } finally {
      const ms = performance.now() - t0;
      const self = stack.pop()!;
      if (stack.length > 0) stack[stack.length - 1].children += ms;
      const key = stack.length === 0 && self.children > 0 ? `${name} (own)` : name;
      const entry = inner.get(key) ?? { ms: 0, calls: 0 };
      entry.ms += ms - self.children;
      entry.calls++;
      inner.set(key, entry);
    }
  };
}
// Best of 3 instrumented steps, per kernel.
const best = new Map<string, { ms: number; calls: number }>();
for (let i = 0; i < 3; i++) {
  inner.clear();
  trainStep();
  for (const [k, e] of inner) if ((best.get(k)?.ms ?? Infinity) > e.ms) best.set(k, { ...e });
}
const innerTotal = [...best.values()].reduce((s, e) => s + e.ms, 0);
console.log(`self time per kernel, inner calls included (best of 3 steps per kernel; sum ${innerTotal.toFixed(0)} ms):`);
for (const [name, e] of [...best].sort((a, b) => b[1].ms - a[1].ms)) {
  if (e.ms >= 0.5) console.log(`  ${name.padEnd(44)} ${e.ms.toFixed(1).padStart(8)} ms  (${e.calls} calls)`);
}

if (kernels) kernelRates();

/**
 * GFLOP/s of each conv kernel on the reference layers (batch 32, 5x5, stride 2, 'same';
 * best of 5, a fresh filter or dy every call as in training, so XNNPACK repacks it each
 * time), beside the GEMM peak through tfjs: a 1024x1024 matMul (its packed weights cached).
 */
function kernelRates(): void {
  /** Best of 5 after a warm-up; `fresh` copies `source` (untimed) before each call. */
  const best = (source: tf.Tensor | undefined, fn: (fresh?: tf.Tensor) => tf.Tensor): number => {
    let ms = Infinity;
    for (let i = 0; i < 6; i++) {
      const copy = source === undefined ? undefined : tf.add(source, 0);
      const t0 = performance.now();
      const out = fn(copy); // the wasm backend runs synchronously
      if (i > 0) ms = Math.min(ms, performance.now() - t0);
      tf.dispose([out, copy!].filter((t) => t !== undefined));
    }
    return ms;
  };
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
  const [a, b] = [tf.randomNormal([1024, 1024]), tf.randomNormal([1024, 1024])];
  const peak = (2 * 1024 ** 3) / 1e6 / best(undefined, () => tf.matMul(a, b));
  console.log(`GEMM peak (1024x1024 matMul, ${threads} thread${threads === 1 ? '' : 's'}): ${peak.toFixed(1)} GFLOP/s`);
  console.log('layer (input, Cin -> Cout)  GFLOP  Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter: ms, GFLOP/s, % of peak');
  for (const [size, cin, cout] of [[64, 1, 64], [32, 64, 64], [16, 64, 64], [8, 64, 8]]) {
    const x = tf.randomNormal([32, size, size, cin]);
    const w = tf.randomNormal([5, 5, cin, cout]);
    const dy = tf.randomNormal([32, size / 2, size / 2, cout]);
    const gflop = (2 * 32 * (size / 2) ** 2 * 25 * cin * cout) / 1e9;
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC' };
    const cells = [
      best(w, (filter) => run('Conv2D', { x, filter: filter! }, { ...attrs, dilations: 1 })),
      best(w, (filter) => run('Conv2DBackpropInput', { dy, filter: filter! }, { ...attrs, inputShape: x.shape })),
      best(dy, (d) => run('Conv2DBackpropFilter', { x, dy: d! }, { ...attrs, filterShape: w.shape })),
    ].map((ms) => `${ms.toFixed(1)} ms, ${((gflop * 1e3) / ms).toFixed(0)}, ${((100 * gflop * 1e3) / ms / peak).toFixed(0)}%`);
    console.log(`  ${`${size}x${size}, ${cin} -> ${cout}`.padEnd(26)} ${gflop.toFixed(2).padStart(5)}  ${cells.join(' / ')}`);
    tf.dispose([x, w, dy]);
  }
  tf.dispose([a, b]);
}

const python = torchPython(noPeer);
const peer = python === undefined ? undefined : runPeer<{ forward_ms: number; step_ms: number; torch: string; threads: number }>(python, 'engine_ae.py', [steps])?.result;
if (peer) console.log(`peer (PyTorch ${peer.torch}, ${peer.threads} threads): forward ${peer.forward_ms.toFixed(0)} ms, train step ${peer.step_ms.toFixed(0)} ms`);

console.log(
  JSON.stringify({
    ours_forward_ms: Math.round(oursForward),
    ours_step_ms: Math.round(oursStep),
    peer_forward_ms: peer ? Math.round(peer.forward_ms) : null,
    peer_step_ms: peer ? Math.round(peer.step_ms) : null,
    speedup: peer ? Number((peer.step_ms / oursStep).toFixed(2)) : null,
    threads,
    load_avg_start: Number(loadAtStart.toFixed(2)),
    load_avg_end: Number(loadavg()[0].toFixed(2)),
  }),
);
