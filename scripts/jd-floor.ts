// scripts/jd-floor.ts MODEL [STEPS | own]: what a joint critic on frames 1-2 can hold against the 0-PLF-JD decoder at R1 = 12 that no
// frame-2 decoder can remove: joint judges trained side by side on held-out training sequences,
// real (X1, X2) against
//   ideal: (JD frame 1, JD frame 1 moved by the true motion): frame 2 perfectly consistent with frame 1;
//   jd:    (JD frame 1, JD frame 2) of the model;
//   mmse:  the MMSE decoder's two frames (the scale).
// If `ideal` scores near `jd`, the JD decoder's training critic W1 is frame 1's flaws, not frame 2's.
// With `own` (MODEL: a run's file that keeps its critics), no judge trains: the run's own joint
// critic scores the pairs (mean on real minus mean on each), and `truth` (JD frame 1, the true
// frame 2: the MSE-optimal frame 2, inconsistent when frame 1 shows another digit) is added.
import { readFileSync } from 'node:fs';
import { initEngine, tf } from '../src/engine/index.ts';
import { judgeW1s } from '../src/eval/judge.ts';
import { critic } from '../src/models/critic.ts';
import { readModelFile } from '../src/models/model-file.ts';
import { movingMnistSource, frameOf as seqFrame } from '../src/data/source.ts';
import { movingMnistTrajectory } from '../src/data/moving-mnist.ts';
import { encodeGop, decodeGop, fileDithers } from '../src/video/gop.ts';
import type { GopModel } from '../src/models/gop.ts';
await initEngine();
const f = process.argv[2]!;
const own = process.argv[3] === 'own';
const steps = own ? 0 : Number(process.argv[3] ?? 1000);
const m = (await readModelFile(new Uint8Array(readFileSync(f)), f)).model as GopModel;
const src = movingMnistSource({ seed: 1, mode: 'paper', digits: 1 });
const FIRST = 4194304;
/** Shift [n, 64, 64, 1] frames by per-sample integer (dx, dy) with zero fill. */
function shift(x: tf.Tensor4D, d: Array<[number, number]>): tf.Tensor4D {
  const v = x.dataSync(); const out = new Float32Array(v.length);
  d.forEach(([dx, dy], b) => {
    for (let r = 0; r < 64; r++) for (let c = 0; c < 64; c++) {
      const r0 = r - dy, c0 = c - dx;
      if (r0 >= 0 && r0 < 64 && c0 >= 0 && c0 < 64) out[b * 4096 + r * 64 + c] = v[b * 4096 + r0 * 64 + c0]!;
    }
  });
  return tf.tensor4d(out, x.shape);
}
/** Held-out sequences start..start+n-1: real pairs, then the fake pairs in the order of `names`. */
function pairs(start: number, n: number): tf.Tensor4D[] {
  const b = src.batch('train', FIRST + start, n, 2);
  const xs = [0, 1].map((t) => tf.tensor4d(seqFrame(b, t), [n, 64, 64, 1]));
  const enc = encodeGop(m, xs, fileDithers(m, { seed: 1, firstGop: start }, n, 2));
  const jd = decodeGop(m, 'jd', enc.messages);
  const mm = decodeGop(m, 'mmse', enc.messages);
  const motion = Array.from({ length: n }, (_, i) => {
    const t = movingMnistTrajectory({ split: 'train', seed: 1, frames: 2, mode: 'paper' }, FIRST + start + i);
    return [t.x[1]! - t.x[0]!, t.y[1]! - t.y[0]!] as [number, number];
  });
  return [tf.concat(xs, 3), tf.concat([jd[0]!, shift(jd[0]!, motion)], 3), tf.concat(jd, 3), tf.concat(mm, 3), tf.concat([jd[0]!, xs[1]!], 3)] as tf.Tensor4D[];
}
const t0 = Date.now();
if (own) {
  const joint = m.pframes[0]?.critics.joint;
  if (!joint) throw new Error(`${f}: the file keeps no joint critic (a run's model.safetensors, not a shipped one)`);
  const N = 512;
  const sums = [0, 0, 0, 0, 0];
  for (let start = 0; start < N; start += 64) tf.tidy(() => pairs(start, 64).forEach((p, k) => (sums[k] += tf.sum(critic(joint, p)).dataSync()[0]!)));
  ['ideal', 'jd', 'mmse', 'truth'].forEach((n, k) => console.log(`${n.padEnd(6)} own joint critic: real minus fake ${((sums[0]! - sums[k + 1]!) / N).toFixed(4)}`));
  console.log(`${N} sequences, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
} else {
  const names = ['ideal', 'jd', 'mmse'];
  const w1 = await judgeW1s(names.map(() => ({ widths: [16, 32, 64, 128], size: 64, frames: 2, spectralNorm: true, steps, batch: 32, seed: 1000, optimizer: { lr: 2e-4, beta1: 0.5, beta2: 0.9 } })), {
    draw: pairs, real: (s) => s[0]!, fake: (s, k) => s[k + 1]!, trainFrom: 8192, heldOut: 1024,
  });
  names.forEach((n, k) => console.log(`${n.padEnd(6)} joint W1 ${w1[k]!.toFixed(4)}`));
  console.log(`${steps} steps, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
