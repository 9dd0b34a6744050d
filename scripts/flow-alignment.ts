// scripts/flow-alignment.ts MODEL [N]: how far a GOP-2 model's decoded frame-2 flow lines frame 1
// up with frame 2. Per-pixel MSE against the true frame 2 of: frame 1 not moved, frame 1 warped by
// the flow, the prediction (the MMSE frame 1 warped by it) and the MMSE reconstruction, on N
// held-out training sequences (from 4194304, dither seed 1).
import { readFileSync } from 'node:fs';
import { initEngine, tf } from '../src/engine/index.ts';
import { readModelFile } from '../src/models/model-file.ts';
import { movingMnistSource, frameOf } from '../src/data/source.ts';
import { encodeGop, fileDithers } from '../src/video/gop.ts';
import { scaleSpaceWarp } from '../src/models/warp.ts';
import type { GopModel } from '../src/models/gop.ts';

await initEngine();
const f = process.argv[2]!;
const n = Number(process.argv[3] ?? 256);
const m = (await readModelFile(new Uint8Array(readFileSync(f)), f)).model as GopModel;
const b = movingMnistSource({ seed: 1, mode: 'paper', digits: 1 }).batch('train', 4194304, n, 2);
const [x1, x2] = [0, 1].map((t) => tf.tensor4d(frameOf(b, t), [n, 64, 64, 1])) as [tf.Tensor4D, tf.Tensor4D];
const enc = encodeGop(m, [x1, x2], fileDithers(m, { seed: 1, firstGop: 0 }, n, 2));
const mse = (y: tf.Tensor) => (tf.mean(tf.squaredDifference(y, x2)).dataSync()[0]! * 100).toFixed(3);
console.log(`per-pixel MSE against the true frame 2, x1e-2, ${n} sequences:`);
console.log(`frame 1, not moved                ${mse(x1)}`);
console.log(`frame 1 warped by the decoded flow ${mse(scaleSpaceWarp(x1, enc.fields[1]!))}`);
console.log(`prediction (MMSE frame 1 warped)   ${mse(enc.preds[1]!)}`);
console.log(`MMSE reconstruction                ${mse(enc.recon[1]!)}`);
