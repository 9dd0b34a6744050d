/**
 * How balanced a R1 = inf model's frame-2 motion latent is: per dimension, the share of sequences
 * with z > 0 and with |z| > 0.99 (tanh outputs before the quantizer; a dithered 2-level bit is
 * near-deterministic only where |z| is near 1), on test sequences 0..N-1:
 *   node --import tsx scripts/latent-balance.ts MODEL [N]
 * With R1 = inf the frame-2 reference is frame 1 itself, so no decoder runs. (The content latent
 * reads the prediction, which needs the decoded flow: not measured here.)
 */
import { frameOf, movingMnistSource } from '../src/data/source.ts';
import { initEngine, tf } from '../src/engine/index.ts';
import type { GopModel } from '../src/models/gop.ts';
import { evalCtx } from '../src/models/layers.ts';
import { encodeMotion } from '../src/models/pframe.ts';
import { readModelPath } from '../src/models/weights-io.ts';

const [path, count] = process.argv.slice(2);
if (!path) {
  console.error('usage: latent-balance.ts MODEL [N]');
  process.exit(2);
}
await initEngine();
const lm = await readModelPath(path, 'model');
const m = lm.model as GopModel;
if (m.config.kind !== 'gop' || m.config.rates[0] !== 'inf' || !m.pframes[0]?.enc) {
  console.error(`${path}: not a GOP model with R1 = inf and a coded frame 2`);
  process.exit(2);
}
const n = Number(count ?? 256);
if (!Number.isInteger(n) || n < 1) {
  console.error(`N: a positive whole number of sequences, got '${count}'`);
  process.exit(2);
}
const source = movingMnistSource({ seed: 1 });
const b = source.batch('test', 0, n, 2);
const [x1, x2] = [0, 1].map((t) => tf.tensor4d(frameOf(b, t), [n, source.size, source.size, 1]));
const show = (what: string, z: tf.Tensor2D) => {
  const v = z.dataSync();
  const d = z.shape[1];
  for (let k = 0; k < d; k++) {
    let pos = 0, sat = 0;
    for (let i = k; i < v.length; i += d) {
      if (v[i]! > 0) pos++;
      if (Math.abs(v[i]!) > 0.99) sat++;
    }
    console.log(`${what}[${k}]: P(z > 0) ${(pos / n).toFixed(3)}, |z| > 0.99 ${(sat / n).toFixed(3)}`);
  }
};
show('motion', encodeMotion(m.pframes[0]!.enc!, x2!, x1!, evalCtx()));
console.log(`${lm.id} (sha256 ${lm.sha256.slice(0, 12)}), ${n} test sequences`);
