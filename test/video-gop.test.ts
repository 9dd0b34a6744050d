import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, tf } from '../src/engine/index.ts';
import { readRdpv } from '../src/codec/container.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { frameOf } from '../src/data/source.ts';
import { DECODER_NAMES } from '../src/models/decoders.ts';
import type { GopModel, GopModelConfig } from '../src/models/gop.ts';
import type { RateName } from '../src/codec/rates.ts';
import { readModelFile, type LoadedModel } from '../src/models/model-file.ts';
import { GopTrainer } from '../src/train/gop-trainer.ts';
import { presets, sourceFor } from '../src/train/presets.ts';
import { MODEL, runTraining } from '../src/train/run.ts';
import { compress, decompress } from '../src/video/codec.ts';
import { decodeGop, encodeGop, fileDithers, frameOf as gopFrameOf } from '../src/video/gop.ts';
import { evalCtx } from '../src/models/layers.ts';
import { scaleSpaceWarp } from '../src/models/warp.ts';
import { UserError } from '../src/errors.ts';
import { assertClose } from './support/close.ts';

await initEngine({ backend: 'wasm' });

const root = mkdtempSync(join(tmpdir(), 'rdpv-gop-'));
const quiet = () => {};
async function train(preset: string): Promise<LoadedModel> {
  const r = await runTraining({ preset, config: presets[preset]!, out: join(root, preset), resume: false, say: quiet });
  assert.equal(r.exitCode, 0, preset);
  return readModelFile(readFileSync(join(root, preset, MODEL)), preset);
}

// The chain a GOP-3 model at 12 bits per frame is trained by: I-frame, frame 2, frame 3, each in two stages.
const chain = ['tiny-mse', 'tiny-perception', 'tiny-pframe-12-12-mse', 'tiny-pframe-12-12-perception', 'tiny-pframe-12-12-12-mse', 'tiny-pframe-12-12-12-perception'];
const models: Record<string, LoadedModel> = {};
for (const p of chain) models[p] = await train(p);
models['tiny-pframe-inf-2-mse'] = await train('tiny-pframe-inf-2-mse');
models['tiny-pframe-inf-2-perception'] = await train('tiny-pframe-inf-2-perception');
models['tiny-pframe-12-inf-perception'] = await train('tiny-pframe-12-inf-perception');
models['tiny-pframe-12-inf-inf-perception'] = await train('tiny-pframe-12-inf-inf-perception');
models['tiny-pframe-12-12-warped-perception'] = await train('tiny-pframe-12-12-warped-perception');
models['tiny-pframe-12-12-wide-joint-perception'] = await train('tiny-pframe-12-12-wide-joint-perception');

/** Sequences [N, T, 64, 64] of the test split. */
const sequences = (n: number, T: number) => movingMnistBatch({ split: 'test', seed: 9, frames: T }, 0, n);

test('the perception stage keeps the encoder side and MMSE decoder of every frame bit-identical and trains fmd and jd', () => {
  const before = models['tiny-pframe-12-12-12-mse']!.model as GopModel;
  const after = models['tiny-pframe-12-12-12-perception']!.model as GopModel;
  const p = (m: GopModel, k: number) => m.pframes[k]!;
  for (const k of [0, 1]) {
    assert.deepEqual(p(after, k).enc!.motion.latent.w.dataSync(), p(before, k).enc!.motion.latent.w.dataSync());
    assert.deepEqual(p(after, k).decoders.mmse!.decoder.out.w.dataSync(), p(before, k).decoders.mmse!.decoder.out.w.dataSync());
  }
  assert.deepEqual(Object.keys(p(after, 1).decoders).sort(), ['fmd', 'jd', 'mmse']);
  assert.ok(p(after, 1).decoders.jd!.context.blocks.b0!.w.shape[2] === 3, 'the frame-3 jd decoder reads the prediction and its two past outputs');
  assert.deepEqual(p(after, 0).decoders.jd!.decoder.out.w.dataSync(), p(before, 0).decoders.jd!.decoder.out.w.dataSync(), 'frame 2 is frozen while frame 3 trains');
});

test('frame 3 starts as frame 2: stage 1 its encoder and MMSE decoder, stage 2 its perception decoders, the JD one reading its newest past where frame 2 read it', () => {
  const started = (preset: string, from: string) => {
    const t = new GopTrainer(presets[preset]!, sourceFor(presets[preset]!));
    t.start(models[from]!.model);
    return t.model();
  };
  const same = (a: tf.Tensor, b: tf.Tensor, what: string) => assert.deepEqual(a.dataSync(), b.dataSync(), what);
  const gop2 = models['tiny-pframe-12-12-perception']!.model as GopModel;
  const s1 = started('tiny-pframe-12-12-12-mse', 'tiny-pframe-12-12-perception');
  same(s1.pframes[1]!.enc!.content!.latent.w, gop2.pframes[0]!.enc!.content!.latent.w, 'encoder');
  same(s1.pframes[1]!.decoders.mmse!.decoder.out.w, gop2.pframes[0]!.decoders.mmse!.decoder.out.w, 'MMSE decoder');
  const gop3 = models['tiny-pframe-12-12-12-mse']!.model as GopModel;
  const s2 = started('tiny-pframe-12-12-12-perception', 'tiny-pframe-12-12-12-mse');
  same(s2.pframes[1]!.decoders.fmd!.decoder.out.w, gop3.pframes[0]!.decoders.fmd!.decoder.out.w, '0-PLF-FMD decoder');
  // Frame 2's JD context conv reads [prediction, frame 1]; frame 3's [prediction, frame 1, frame 2].
  const [was, now] = [gop3.pframes[0]!.decoders.jd!.context.blocks.b0!.w, s2.pframes[1]!.decoders.jd!.context.blocks.b0!.w];
  const [pred, newest] = tf.split(was, 2, 2);
  const [pred3, older, newest3] = tf.split(now, 3, 2);
  same(pred3!, pred!, 'the prediction channel');
  same(newest3!, newest!, 'the newest past frame');
  assert.ok(older!.dataSync().every((v) => v === 0), 'the older past frame starts unread');
  assert.throws(() => new GopTrainer({ ...presets['tiny-pframe-12-12-mse']!, fromPreviousFrame: true }, sourceFor(presets['tiny-mse']!)).start(models['tiny-perception']!.model),
    (e: Error) => e instanceof UserError && /fromPreviousFrame: frame 2 needs a previous P-frame at its rate \(12 bits\), got none/.test(e.message));
});

test('a P-frame at another rate starts stage 1 from its neighbour\'s frame: shared weights as they are, latent weights cut to its latents (the first of each (zq, u) half)', () => {
  const gop = models['tiny-pframe-12-12-perception']!.model as GopModel;
  const base = presets['tiny-pframe-12-12-mse']!;
  const config = { ...base, model: { ...(base.model as GopModelConfig), rates: ['12', '4'] as RateName[] }, fromOtherRate: true };
  const t = new GopTrainer(config, sourceFor(config));
  t.start(gop);
  const [src, dst] = [gop.pframes[0]!, t.model().pframes[0]!];
  const same = (a: tf.Tensor, b: tf.Tensor, what: string) => assert.deepEqual(a.dataSync(), b.dataSync(), what);
  assert.deepEqual([src.net.motion!.dims, dst.net.motion!.dims, src.net.content!.dims, dst.net.content!.dims], [6, 2, 6, 2]);
  same(dst.enc!.motion.blocks.b0!.w, src.enc!.motion.blocks.b0!.w, 'a conv before the latent');
  same(dst.enc!.content!.latent.w, tf.slice(src.enc!.content!.latent.w, [0, 0], [-1, 2]), 'the content latent: its first 2 of 6');
  // The flow decoder reads (zq, u) of the 6 motion latents: rows 0-1 and 6-7 carry on.
  const w = src.enc!.flow.latent.w;
  same(dst.enc!.flow.latent.w, tf.concat([tf.slice(w, [0, 0], [2, -1]), tf.slice(w, [6, 0], [2, -1])]), 'the flow decoder\'s latent input');
  same(dst.decoders.mmse!.decoder.out.w, src.decoders.mmse!.decoder.out.w, 'the MMSE decoder\'s output conv');
  assert.throws(() => new GopTrainer(config, sourceFor(config)).start(models['tiny-perception']!.model),
    (e: Error) => e instanceof UserError && /fromOtherRate: the model to start from has no trained frame 2/.test(e.message));
});

test('a 1-bit P-frame (motion latent only) starts stage 1 from a 2-bit one: its first decoder stage keeps the context channels, which follow the content latent map', () => {
  const gop = models['tiny-pframe-inf-2-perception']!.model as GopModel;
  const base = presets['tiny-pframe-inf-2-mse']!;
  const config = { ...base, model: { ...(base.model as GopModelConfig), rates: ['inf', '1'] as RateName[] }, fromOtherRate: true };
  const t = new GopTrainer(config, sourceFor(config));
  t.start(gop);
  const [src, dst] = [gop.pframes[0]!, t.model().pframes[0]!];
  assert.equal(dst.enc!.content, undefined, 'rate 1 has no content encoder');
  assert.equal(dst.decoders.mmse!.decoder.latent, undefined, 'nor a content latent in its decoder');
  // conv2dTranspose filters are [h, w, out, in]: the source reads [latent map, context], rate 1 the context alone.
  const [w, v] = [src.decoders.mmse!.decoder.blocks.b0!.w, dst.decoders.mmse!.decoder.blocks.b0!.w];
  const cw = v.shape[3]!;
  assert.ok(w.shape[3]! > cw, `the source's first stage reads more than the context (${w.shape[3]} > ${cw})`);
  assert.deepEqual(v.dataSync(), tf.slice(w, [0, 0, 0, w.shape[3]! - cw], [-1, -1, -1, cw]).dataSync(), 'the context channels carry on');
  assert.deepEqual(dst.enc!.motion.latent.w.dataSync(), src.enc!.motion.latent.w.dataSync(), 'the motion latent as it was');
});

for (const name of ['tiny-pframe-inf-2-perception', 'tiny-pframe-12-12-perception', 'tiny-pframe-12-12-12-perception', 'tiny-pframe-12-inf-inf-perception', 'tiny-pframe-12-12-warped-perception']) {
  test(`${name}: a file carries exactly the rate budget and every decoder decodes it to the model's own outputs`, async () => {
    const lm = models[name]!;
    const m = lm.model as GopModel;
    const T = m.config.rates.length;
    const seqs = sequences(3, T);
    const file = await compress(lm, seqs.data, 5);
    const { header, payload } = readRdpv(file);
    assert.equal(header.gop, T);
    const bits = m.config.rates.reduce((b, r) => b + (r === 'inf' ? 0 : Number(r)), 0);
    const raw = m.config.rates.filter((r) => r === 'inf').length * 64 * 64;
    assert.equal(payload.length, Math.ceil((3 * bits) / 8) + 3 * raw);
    for (const decoder of DECODER_NAMES) {
      const got = (await decompress(lm, file, decoder)).frames;
      const want = tf.tidy(() => {
        const xs = Array.from({ length: T }, (_, t) => tf.tensor4d(frameOf(seqs, t), [3, 64, 64, 1]));
        const enc = encodeGop(m, xs, fileDithers(m, { seed: 5, firstGop: 0 }, 3));
        const ys = decodeGop(m, decoder, enc.messages).map((y) => y.arraySync());
        // file order: GOP by GOP, frame by frame
        return new Float32Array(ys[0]!.flatMap((_, b) => ys.map((y) => y[b]!.flat(2))).flat());
      });
      assertClose(got, want, 1e-6, `${decoder}`);
    }
  });
}

test('with warpedPast the 0-PLF-JD decoder reads its own earlier outputs moved by the frame\'s flow; MMSE and FMD are unchanged', () => {
  assert.equal((models['tiny-pframe-12-12-warped-perception']!.model as GopModel).config.warpedPast, true, 'the model file keeps the setting');
  const m = models['tiny-pframe-12-12-12-perception']!.model as GopModel;
  const warped: GopModel = { ...m, config: { ...m.config, warpedPast: true } };
  const seqs = sequences(2, 3);
  tf.tidy(() => {
    const xs = [0, 1, 2].map((t) => tf.tensor4d(frameOf(seqs, t), [2, 64, 64, 1]));
    const enc = encodeGop(m, xs, fileDithers(m, { seed: 3, firstGop: 0 }, 2));
    for (const name of ['mmse', 'fmd'] as const) {
      decodeGop(warped, name, enc.messages).forEach((y, t) => assert.deepEqual(y.dataSync(), decodeGop(m, name, enc.messages)[t]!.dataSync(), `${name} frame ${t + 1}`));
    }
    const jd = decodeGop(warped, 'jd', enc.messages);
    for (const t of [1, 2]) {
      const past = scaleSpaceWarp(tf.concat(jd.slice(0, t), 3) as tf.Tensor4D, enc.fields[t]!);
      const want = gopFrameOf(m.pframes[t - 1]!, 'jd', t, enc.messages[t]!.latents[1], enc.preds[t]!, past, evalCtx());
      assert.deepEqual(jd[t]!.dataSync(), want.dataSync(), `jd frame ${t + 1}`);
      assert.notDeepEqual(jd[t]!.dataSync(), decodeGop(m, 'jd', enc.messages)[t]!.dataSync(), `jd frame ${t + 1} reads its past as it was without warpedPast`);
    }
  });
});

test('a joint critic of its own widths trains, and the model file keeps it: reloaded, its first layer has those channels', () => {
  const m = models['tiny-pframe-12-12-wide-joint-perception']!.model as GopModel;
  assert.deepEqual(m.config.critic, { ...presets['tiny-pframe-12-12-perception']!.critic, jointWidths: [8, 8, 8, 8] });
  const { marginal, joint } = m.pframes[0]!.critics;
  assert.equal(joint!.blocks.b0!.conv.w.shape.at(-1), 8);
  assert.equal(marginal!.blocks.b0!.conv.w.shape.at(-1), m.config.critic!.widths[0]);
  assert.notEqual(m.config.critic!.widths[0], 8);
});

test('a GOP file made by one model is refused by another', async () => {
  const file = await compress(models['tiny-pframe-12-12-perception']!, sequences(1, 2).data, 1);
  await assert.rejects(() => decompress(models['tiny-pframe-inf-2-perception']!, file, 'jd'), (e: Error) => e instanceof UserError && /not by these weights/.test(e.message));
});

test('at rate inf the MMSE and 0-PLF-FMD decoders output the frame as sent, the 0-PLF-JD decoder its own frame', async () => {
  const lm = models['tiny-pframe-12-inf-inf-perception']!;
  const seqs = sequences(2, 3);
  const file = await compress(lm, seqs.data, 3);
  const sent = (j: number) => Float32Array.from(seqs.data.subarray(j * 4096, (j + 1) * 4096), (v) => Math.round(255 * v) / 255);
  const [mmse, fmd, jd] = await Promise.all((['mmse', 'fmd', 'jd'] as const).map(async (d) => (await decompress(lm, file, d)).frames));
  for (const j of [1, 2, 4, 5]) {
    assertClose(mmse!.subarray(j * 4096, (j + 1) * 4096), sent(j), 1e-6, `mmse frame ${j}`);
    assertClose(fmd!.subarray(j * 4096, (j + 1) * 4096), sent(j), 1e-6, `fmd frame ${j}`);
    assert.ok(jd!.subarray(j * 4096, (j + 1) * 4096).some((v, i) => Math.abs(v - sent(j)[i]!) > 1e-3), `jd frame ${j} is a decoder's output`);
  }
  assert.deepEqual(Object.keys((lm.model as GopModel).pframes[1]!.decoders), ['jd']);
});

test('a GOP-3 model codes groups of 2: the file carries the first two frames\' budget and every decoder gives the model\'s own outputs', async () => {
  const lm = models['tiny-pframe-12-12-12-perception']!;
  const m = lm.model as GopModel;
  const seqs = sequences(3, 2);
  const file = await compress(lm, seqs.data, 4, undefined, 2);
  const { header, payload } = readRdpv(file);
  assert.deepEqual([header.gop, header.frameCount, header.rates.slice(0, 2)], [2, 6, ['12', '12']]);
  assert.equal(payload.length, Math.ceil((3 * 24) / 8));
  for (const decoder of DECODER_NAMES) {
    const got = (await decompress(lm, file, decoder)).frames;
    const want = tf.tidy(() => {
      const xs = [0, 1].map((t) => tf.tensor4d(frameOf(seqs, t), [3, 64, 64, 1]));
      const ys = decodeGop(m, decoder, encodeGop(m, xs, fileDithers(m, { seed: 4, firstGop: 0 }, 3, 2)).messages).map((y) => y.arraySync());
      return new Float32Array(ys[0]!.flatMap((_, b) => ys.map((y) => y[b]!.flat(2))).flat());
    });
    assertClose(got, want, 1e-6, decoder);
  }
  await assert.rejects(() => compress(models['tiny-pframe-12-12-perception']!, sequences(1, 3).data, 4, undefined, 3), (e: Error) => e instanceof UserError && /GOP 3: this model codes groups of 1 to 2 frames/.test(e.message));
});

test('a GOP stage ends with judges on the frame it trained only, and the MSE of every frame', () => {
  const { metrics } = JSON.parse(readFileSync(join(root, 'tiny-pframe-12-12-12-perception', 'result.json'), 'utf8')) as { metrics: Record<string, number> };
  const keys = Object.keys(metrics);
  assert.deepEqual(keys.filter((k) => k.includes('judge')).sort(), ['fmd', 'jd', 'mmse'].flatMap((d) => [`${d}_judge_joint_w1_f3`, `${d}_judge_w1_f3`]));
  for (const f of [1, 2, 3]) assert.ok(keys.includes(`jd_mse_f${f}`), `jd_mse_f${f}`);
});
