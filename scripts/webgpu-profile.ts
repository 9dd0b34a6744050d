/**
 * Where a training step's GPU time goes: one step of a preset on webgpu under tf.profile, GPU time
 * per kernel name (WebGPU timestamp queries), beside the step's wall time and dispatch count
 * (TOP=N lists N kernel names, default 25).
 *   node --import tsx scripts/webgpu-profile.ts [PRESET] [BATCH]     (default iframe-paper-mse 256)
 * On a GPU machine without node (docs/benchmarks.md, "On an H200"): bundle it with
 * ../shared/tools/remote-bundle.sh OUT --webgpu scripts/webgpu-profile.ts, then there
 * `bash OUT/setup.sh ./webgpu-profile.mjs PRESET BATCH` from inside OUT.
 */
import { initEngine, tf } from '../src/engine/index.ts';
import { presets, sourceFor } from '../src/train/presets.ts';
import { createTrainer } from '../src/train/parallel.ts';
import { readLosses } from '../src/train/trainer.ts';

const [preset, batch] = [process.argv[2] ?? 'iframe-paper-mse', Number(process.argv[3] ?? 256)];
if (!presets[preset] || !(batch >= 1)) {
  console.error(`usage: webgpu-profile.ts [PRESET] [BATCH]: no preset '${preset}' or a bad batch`);
  process.exit(2);
}
await initEngine({ backend: 'webgpu' });
const config = { ...presets[preset]!, batch };
const trainer = createTrainer(config, sourceFor(config), { threads: 1 });
trainer.start(undefined);
// Step 0 compiles the shaders; step 1 is the wall time; step 2 runs under the profiler.
await readLosses(trainer.step(0));
// Dispatches counted where the backend records them (each costs host time: docs/benchmarks.md).
const backend = tf.backend() as unknown as { recordAndSubmit(...a: unknown[]): unknown };
const record = backend.recordAndSubmit.bind(backend);
let dispatches = 0;
backend.recordAndSubmit = (...a) => (dispatches++, record(...a));
let t0 = performance.now();
await readLosses(trainer.step(1));
const wall = performance.now() - t0;
backend.recordAndSubmit = record;
t0 = performance.now();
let losses: Promise<unknown> | undefined;
const info = await tf.profile(() => {
  losses = readLosses(trainer.step(2));
});
await losses;
const profiledWall = performance.now() - t0;
const byName = new Map<string, { ms: number; calls: number }>();
let total = 0;
let untimed = 0;
for (const k of info.kernels) {
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : (untimed++, 0);
  const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
  byName.set(k.name, { ms: e.ms + ms, calls: e.calls + 1 });
  total += ms;
}
console.log(`${preset} batch ${batch}: step ${wall.toFixed(0)} ms wall, ${dispatches} dispatches; profiled step ${profiledWall.toFixed(0)} ms wall, ${info.kernels.length} kernels, GPU sum ${total.toFixed(1)} ms${untimed ? `, ${untimed} kernels without a time` : ''}`);
for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.env.TOP ?? 25))) console.log(`${name.padEnd(28)} ${e.ms.toFixed(1).padStart(9)} ms ${String(e.calls).padStart(5)} calls`);
