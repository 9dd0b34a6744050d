/**
 * Pixel statistics of one frame per decoder against the real frames, a judge-free look at
 * marginal realism (a decoder that draws too little ink shows it here): mean intensity, share
 * of pixels above 0.5 and mean absolute vertical difference (sharpness), over held-out training
 * sequences from 4194304 (far past what training reads), dither seed 1:
 *   node --import tsx scripts/pixel-stats.ts MODEL [FRAME=2] [SEQUENCES=512]
 */
import { initEngine, tf } from '../src/engine/index.ts';
import { movingMnistSource, frameOf } from '../src/data/source.ts';
import type { GopModel } from '../src/models/gop.ts';
import { loadModelArg } from '../src/models/weights-io.ts';
import { decodeGop, encodeGop, fileDithers } from '../src/video/gop.ts';

const [spec, frameArg, countArg] = process.argv.slice(2);
if (!spec) {
  console.error('usage: pixel-stats.ts MODEL [FRAME] [SEQUENCES]');
  process.exit(2);
}
const [t, N, B, FIRST] = [Number(frameArg ?? 2) - 1, Number(countArg ?? 512), 64, 4194304];
await initEngine();
const m = (await loadModelArg(spec)).model as GopModel;
const source = movingMnistSource({ seed: 1 });
const stats = (y: tf.Tensor4D): number[] => tf.tidy(() => {
  const rows = y.shape[1];
  const dv = tf.abs(tf.sub(tf.slice(y, [0, 1, 0, 0], [-1, rows - 1, -1, -1]), tf.slice(y, [0, 0, 0, 0], [-1, rows - 1, -1, -1])));
  return [tf.mean(y), tf.mean(tf.cast(tf.greater(y, 0.5), 'float32')), tf.mean(dv)].map((s) => s.dataSync()[0]!);
});
const sums = new Map<string, number[]>();
const add = (k: string, v: number[], n: number) => sums.set(k, (sums.get(k) ?? [0, 0, 0]).map((a, i) => a + (v[i]! * n) / N));
for (let s = 0; s < N; s += B) {
  const n = Math.min(B, N - s);
  const b = source.batch('train', FIRST + s, n, t + 1);
  tf.tidy(() => {
    const xs = Array.from({ length: t + 1 }, (_, k) => tf.tensor4d(frameOf(b, k), [n, source.size, source.size, 1]));
    const { messages } = encodeGop(m, xs, fileDithers(m, { seed: 1, firstGop: FIRST + s }, n, t + 1));
    add('real', stats(xs[t]!), n);
    for (const d of ['mmse', 'fmd', 'jd'] as const) add(d, stats(decodeGop(m, d, messages)[t]!), n);
  });
}
console.log(`frame ${t + 1}, ${N} held-out sequences from ${FIRST}: mean intensity, share above 0.5, mean |vertical difference|`);
for (const [k, v] of sums) console.log(`${k.padEnd(5)} ${v.map((x) => x.toFixed(4)).join('  ')}`);
