// scripts/identity-judge.ts [STEPS] [W,W,W,W;W,W,W,W...]: can a joint critic of these widths see
// whether frame 2 shows frame 1's digit? Judges trained side by side (held-out training
// sequences, from 4194304) on real (X1, X2) pairs against pairs with the same motion whose frame-2
// digit is another training digit of another label. A W1 near 0: the critic is blind to identity,
// so a 0-PLF-JD decoder trained against it has no reason to keep frame 1's digit.
import { initEngine, tf } from '../src/engine/index.ts';
import { judgeW1s } from '../src/eval/judge.ts';
import { movingMnistTrajectory, resizedDigit, CANVAS, DIGIT } from '../src/data/moving-mnist.ts';
import { mnistDigits } from '../src/data/mnist.ts';

await initEngine();
const steps = Number(process.argv[2] ?? 300);
const widthSets = (process.argv[3] ?? '16,32,64,128;32,64,128,256;64,128,256,512').split(';').map((s) => s.split(',').map(Number));
const FIRST = 4194304;
const opts = { split: 'train' as const, seed: 1, frames: 2, mode: 'paper' as const };
const labels = mnistDigits('train').labels;

function addDigit(digit: number, x: number, y: number, out: Float32Array, off: number): void {
  const img = resizedDigit('train', digit);
  for (let r = 0; r < DIGIT; r++) for (let c = 0; c < DIGIT; c++) out[off + ((y + r) * CANVAS + x + c) * 2] += img[r * DIGIT + c]!;
}

/** Sequences start..start+n-1 as [n, 64, 64, 2]; with `swap`, frame 2 draws another label's digit on the same path. */
function pairs(start: number, n: number, swap: boolean): tf.Tensor4D {
  const d = new Float32Array(n * CANVAS * CANVAS * 2);
  for (let b = 0; b < n; b++) {
    const t = movingMnistTrajectory(opts, FIRST + start + b);
    const i = t.digitIndex[0]!;
    let j = i;
    if (swap) for (j = (i * 7919 + 17) % labels.length; labels[j] === labels[i]; ) j = (j + 1) % labels.length;
    addDigit(i, t.x[0]!, t.y[0]!, d, b * CANVAS * CANVAS * 2);
    addDigit(j, t.x[1]!, t.y[1]!, d, b * CANVAS * CANVAS * 2 + 1);
  }
  return tf.tensor4d(d, [n, CANVAS, CANVAS, 2]);
}

const t0 = Date.now();
const w1s = await judgeW1s(widthSets.map((widths) => ({ widths, size: CANVAS, frames: 2, spectralNorm: true, steps, batch: 32, seed: 1000, optimizer: { lr: 2e-4, beta1: 0.5, beta2: 0.9 } })), {
  draw: (start, n) => ({ real: pairs(start, n, false), fake: pairs(start, n, true) }),
  real: (s) => s.real, fake: (s) => s.fake, trainFrom: 4096, heldOut: 1024,
});
widthSets.forEach((w, k) => console.log(`widths ${w.join('-')}: W1 real pairs vs identity-swapped ${w1s[k]!.toFixed(4)}`));
console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s, ${steps} steps`);
