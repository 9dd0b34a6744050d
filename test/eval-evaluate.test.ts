import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine, tf } from '../src/engine/index.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { decompress } from '../src/video/codec.ts';
import { movingMnistSource } from '../src/data/source.ts';
import { compressAiJson, evalProgress, evaluate, flatMetrics } from '../src/eval/evaluate.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { codecEntries, loadZooModel, zooManifest } from '../src/models/zoo.ts';
import { disposeModel, encodeModelFile } from '../src/models/model-file.ts';
import { runCli } from './run-cli.ts';
import { assertClose } from './support/close.ts';
import { goldenJson } from './support/golden.ts';
import { tinyGopModel, tinyIFrameModel } from './support/tiny.ts';
import { judgeW1 } from '../src/eval/judge.ts';
import { frameOf } from '../src/data/source.ts';
import { videoCodec } from '../src/video/codec.ts';

await initEngine({ backend: 'wasm' });

for (const { name } of codecEntries(await zooManifest(folderStore()))) {
  test(`the shipped model ${name} scores its stored evaluation on 64 test sequences under dither seeds 1 and 2`, async () => {
    const lm = await loadZooModel(folderStore(), name);
    const json = compressAiJson(await evaluate(lm.model, movingMnistSource({ seed: 1 }), { samples: 64, ditherSeeds: [1, 2], batch: 32 }), lm.id, lm.sha256);
    disposeModel(lm.model);
    const want = goldenJson(`eval-${name}.json`, json);
    assert.equal(json.description, want.description);
    assert.deepEqual(Object.keys(json.results), Object.keys(want.results));
    for (const [k, v] of Object.entries(want.results)) {
      if (typeof v[0] === 'number') assertClose(json.results[k]! as number[], v as number[], 1e-6, k, true);
      else assert.deepEqual(json.results[k], v, k);
    }
  });
}

test('each seed is another file dither: min <= mean <= max, one value per seed, batch size does not change the score', async () => {
  const { model } = await tinyIFrameModel(2);
  const source = movingMnistSource({ seed: 3 });
  const before = tf.memory().numTensors;
  const a = await evaluate(model, source, { samples: 12, ditherSeeds: [1, 2, 3], batch: 5 });
  assert.equal(tf.memory().numTensors, before, 'evaluation frees its tensors');
  const b = await evaluate(model, source, { samples: 12, ditherSeeds: [1, 2, 3], batch: 12 });
  for (const [name, s] of Object.entries(a.frames[0]!.decoders)) {
    assert.equal(s.mse.values.length, 3);
    assert.ok(s.mse.min <= s.mse.mean && s.mse.mean <= s.mse.max, name);
    assert.ok(new Set(s.mse.values).size > 1, `${name}: the dither seeds gave identical scores`);
    assertClose(b.frames[0]!.decoders[name as 'mmse']!.mse.values, s.mse.values, 1e-6, name, true);
  }
  assert.deepEqual(Object.keys(flatMetrics(a)).sort(), ['fmd_critic_w1', 'fmd_mse', 'mmse_critic_w1', 'mmse_mse']);
});

test('a GOP model gets a marginal judge on every frame and, from frame 2 on, a joint judge on frames 1..t, equal to judging the stacked frames directly', async () => {
  const { model } = await tinyGopModel(5);
  const source = movingMnistSource({ seed: 3 });
  const judge = { widths: [4, 4, 8, 8], spectralNorm: true, steps: 2, batch: 4, seed: 9, optimizer: { lr: 1e-3, beta1: 0.5, beta2: 0.9 } };
  const before = tf.memory().numTensors;
  const r = await evaluate(model, source, { samples: 4, ditherSeeds: [1], batch: 4, judge });
  assert.equal(tf.memory().numTensors, before, 'evaluation frees its tensors');
  assert.deepEqual(r.frames.map((f) => Object.keys(f.decoders.jd!)), [['mse', 'critic_w1', 'judge_w1'], ['mse', 'judge_w1', 'judge_joint_w1'], ['mse', 'judge_w1', 'judge_joint_w1']]);
  // The joint judge of frame 3 for jd, by hand: frames 1-3 as channels, real against decoded.
  const codec = videoCodec(model);
  const stack = (ys: tf.Tensor4D[]) => tf.concat(ys, 3) as tf.Tensor4D;
  const frames = (start: number, n: number) => { const b = source.batch('test', start, n, 3); return [0, 1, 2].map((t) => tf.tensor4d(frameOf(b, t), [n, 64, 64, 1])); };
  const jointBy = (widths: number[]) => judgeW1({ ...judge, widths, size: 64, frames: 3 }, {
    real: (start, n) => stack(frames(start, n)),
    fake: (x, start) => stack(codec.decode('jd', codec.encode(frames(start, x.shape[0]), { seed: 1, firstGop: start }).messages)),
    trainFrom: 1 << 20, heldOut: 4,
  });
  const want = await jointBy(judge.widths);
  assert.equal(r.frames[2]!.decoders.jd!.judge_joint_w1!.mean, want);
  // Joint judges of their own widths: those change, the marginal ones do not.
  const wide = await evaluate(model, source, { samples: 4, ditherSeeds: [1], batch: 4, judge: { ...judge, jointWidths: [8, 8, 8, 8] }, judgeFrames: [3] });
  assert.equal(wide.frames[2]!.decoders.jd!.judge_joint_w1!.mean, await jointBy([8, 8, 8, 8]));
  assert.notEqual(wide.frames[2]!.decoders.jd!.judge_joint_w1!.mean, want);
  assert.equal(wide.frames[2]!.decoders.jd!.judge_w1!.mean, r.frames[2]!.decoders.jd!.judge_w1!.mean);
  assert.notEqual(r.frames[2]!.decoders.jd!.judge_w1!.mean, want, 'the marginal judge reads frame 3 alone');
  // Judging one frame only (a Table 1 cell's P-frame) gives that frame's judges as before, and none elsewhere.
  const only = await evaluate(model, source, { samples: 4, ditherSeeds: [1], batch: 4, judge, judgeFrames: [3] });
  assert.deepEqual(only.frames.map((f) => Object.keys(f.decoders.jd!)), [['mse', 'critic_w1'], ['mse'], ['mse', 'judge_w1', 'judge_joint_w1']]);
  assert.deepEqual(only.frames[2]!.decoders, r.frames[2]!.decoders);
});

test('an evaluation reports its progress: the sequences scored batch by batch, then the judges\' training steps, for every seed', async () => {
  const { model } = await tinyGopModel(5);
  const judge = { widths: [4, 4, 8, 8], spectralNorm: true, steps: 3, batch: 2, seed: 9, optimizer: { lr: 1e-3, beta1: 0.5, beta2: 0.9 } };
  const seen: string[] = [];
  await evaluate(model, movingMnistSource({ seed: 3 }), {
    samples: 5, ditherSeeds: [1, 2], batch: 2, judge, judgeFrames: [2],
    onProgress: (p) => seen.push(`${p.seed} ${p.phase} ${p.done}/${p.total}`), onSeed: (s) => seen.push(`${s} done`),
  });
  const seed = (s: number) => [`${s} scoring 2/5`, `${s} scoring 4/5`, `${s} scoring 5/5`, `${s} judges 1/3`, `${s} judges 2/3`, `${s} judges 3/3`, `${s} done`];
  assert.deepEqual(seen, [...seed(1), ...seed(2)]);
  // As lines: an ETA until a phase ends, and each seed's end marked as the line to keep.
  const lines: string[] = [];
  const report = evalProgress(2, (line, last) => lines.push(`${last ? 'LAST ' : ''}${line}`));
  report.onProgress({ seed: 1, phase: 'judges', done: 1, total: 3 });
  report.onProgress({ seed: 1, phase: 'judges', done: 3, total: 3 });
  report.onSeed(1);
  assert.match(lines[0]!, /^dither seed 1\/2: judges trained 1\/3 steps, ETA \d+m\d\ds$/);
  assert.deepEqual(lines.slice(1), ['dither seed 1/2: judges trained 3/3 steps', 'LAST dither seed 1/2 done']);
  // Thinned (a log): the first line, then none within the interval, but always a seed's end.
  const thin: string[] = [];
  const slow = evalProgress(2, (line) => thin.push(line), 60_000);
  for (const done of [1, 2, 3]) slow.onProgress({ seed: 2, phase: 'scoring', done, total: 3 });
  slow.onSeed(2);
  assert.deepEqual(thin.map((l) => l.replace(/, ETA .*/, '')), ['dither seed 2/2: scored 1/3 sequences', 'dither seed 2/2 done']);
});

test('rdpv eval --json prints a CompressAI-style results file; a missing model file is one line and exit 2', async () => {
  const { code, out } = await runCli(['eval', '--model', 'iframe-cpu-12', '--samples', '8', '--dither-seeds', '2', '--json', '--threads', '1']);
  assert.equal(code, 0);
  const json = JSON.parse(out.join('\n')) as { name: string; results: Record<string, unknown[]> };
  assert.equal(json.name, 'iframe-cpu-12');
  assert.deepEqual(json.results.frame, [1]);
  assert.equal(json.results.mmse_mse!.length, 1);
  const bad = await runCli(['eval', '--model', '/nonexistent/model.safetensors', '--threads', '1']);
  assert.equal(bad.code, 2);
  assert.equal(bad.err.length, 1);
});

test('rdpv eval --judge-frame T judges that frame only; without --judge-steps, or past the group, it is one line and exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rdpv-eval-judge-frame-'));
  const { model } = await tinyGopModel(5);
  const file = join(dir, 'gop.safetensors');
  writeFileSync(file, encodeModelFile(model, 'tiny-gop'));
  const { code, out, err } = await runCli(['eval', '--model', file, '--samples', '4', '--dither-seeds', '1', '--judge-steps', '1', '--judge-frame', '2', '--json', '--threads', '1']);
  assert.equal(code, 0);
  // Progress goes to stderr (off a terminal: the first line, then one every 30 s), stdout stays JSON.
  assert.deepEqual(err, ['dither seed 1/1: scored 4/4 sequences', 'dither seed 1/1 done']);
  const { results } = JSON.parse(out.join('\n')) as { results: Record<string, (number | null)[]> };
  const judged = Object.entries(results).filter(([k]) => k.includes('judge') && !/_(min|max)$/.test(k));
  assert.deepEqual(judged.map(([k]) => k).sort(), ['fmd', 'jd', 'mmse'].flatMap((d) => [`${d}_judge_joint_w1`, `${d}_judge_w1`]).sort());
  // Every array has one entry per frame: a number for frame 2, null for the others.
  for (const [k, v] of judged) assert.deepEqual(v.map((x) => typeof x), ['object', 'number', 'object'], k);
  assert.deepEqual(results.mmse_critic_w1!.map((x) => x === null), [false, true, true], 'the I-frame critic scores frame 1 only');
  for (const [args, message] of [[['--judge-frame', '2'], /--judge-frame 2: needs --judge-steps N/], [['--judge-steps', '1', '--judge-frame', '4'], /--judge-frame 4: the model's groups have 3 frames/], [['--judge-steps', '1', '--joint-judge-widths', '64,x'], /--joint-judge-widths: 'x' is not a channel count/]] as const) {
    const bad = await runCli(['eval', '--model', file, '--samples', '4', ...args, '--threads', '1']);
    assert.deepEqual([bad.code, bad.err.length], [2, 1]);
    assert.match(bad.err[0]!, message);
  }
});

test('rdpv eval --input scores a compressed file against its source per decoder, as decoding it gives', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rdpv-eval-input-'));
  const clip = movingMnistBatch({ split: 'test', seed: 4, frames: 1 }, 0, 5).data;
  const npy = join(dir, 'clip.npy');
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (5, 64, 64), }`.padEnd(117) + '\n';
  writeFileSync(npy, Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, header.length, 0]), Buffer.from(header, 'latin1'), Buffer.from(clip.buffer)]));
  assert.equal((await runCli(['encode', npy, '-o', join(dir, 'clip.rdpv'), '--model', 'iframe-cpu-12'])).code, 0);
  const { code, out } = await runCli(['eval', '--input', join(dir, 'clip.rdpv'), '--source', npy, '--json', '--threads', '1']);
  assert.equal(code, 0);
  const json = JSON.parse(out.join('\n')) as { results: Record<string, number[]> };
  const lm = await loadZooModel(folderStore(), 'iframe-cpu-12');
  for (const name of ['mmse', 'fmd'] as const) {
    const { frames } = await decompress(lm, readFileSync(join(dir, 'clip.rdpv')), name);
    assertClose(json.results[`${name}_mse`]!, [frames.reduce((s, v, i) => s + (v - clip[i]!) ** 2, 0) / frames.length], 1e-9, name, true);
  }
  const bad = await runCli(['eval', '--input', join(dir, 'clip.rdpv'), '--threads', '1']);
  assert.deepEqual([bad.code, bad.err.length], [2, 1]);
});
