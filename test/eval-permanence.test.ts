import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { frameOf, movingMnistSource } from '../src/data/source.ts';
import { classifierFn, trainClassifier, type FrameClassifier } from '../src/eval/classifier.ts';
import { countErrors, errorPermanence, permanenceMarkdown } from '../src/eval/permanence.ts';
import { initPosition, type GopModel, type GopModelConfig } from '../src/models/gop.ts';
import { initIFrameModel, type IFrameModelConfig } from '../src/models/iframe.ts';
import { presets } from '../src/train/presets.ts';
import { videoCodec } from '../src/video/codec.ts';

await initEngine({ backend: 'wasm' });

test('the counting: wrong per frame, still wrong, the same wrong digit, newly wrong, wrong throughout', () => {
  const labels = Int32Array.from([1, 2, 3, 4]);
  const f1 = Int32Array.from([1, 5, 3, 7]); // groups 1 and 3 wrong
  const f2 = Int32Array.from([1, 5, 9, 4]); // 1 keeps its 5; 2 goes wrong; 3 is corrected
  const f3 = Int32Array.from([0, 6, 3, 7]); // 0 goes wrong; 1 is wrong with another digit; 3 is back to its 7
  const c = countErrors(labels, [f1, f2, f3]);
  assert.deepEqual(c, {
    count: 4,
    wrong: [0.5, 0.5, 0.75],
    wrong_first: 2,
    later: [
      { frame: 2, still_wrong: 0.5, same_wrong: 0.5, newly_wrong: 0.5 },
      { frame: 3, still_wrong: 1, same_wrong: 0.5, newly_wrong: 0.5 },
    ],
    wrong_throughout: 0.5,
  });
  // No wrong first frame: the conditional rates are null (JSON-ready), not NaN.
  const none = countErrors(labels, [labels, f2]);
  assert.deepEqual(none.later, [{ frame: 2, still_wrong: null, same_wrong: null, newly_wrong: 0.5 }]);
  assert.equal(none.wrong_throughout, null);
  assert.deepEqual(JSON.parse(JSON.stringify(none)), none);
  assert.throws(() => countErrors(labels, [f1, Int32Array.from([1])]), RangeError);
});

// An untrained GOP-3 model at 12 bits per frame on the tiny networks, every decoder with its own
// weights (so the decoders' outputs differ).
const config = presets['tiny-pframe-12-12-12-mse']!.model as GopModelConfig;
const position = (frame: number) => {
  const p = initPosition(config, frame, 1, ['mmse']);
  p.decoders.fmd = initPosition(config, frame, 2, ['fmd']).decoders.fmd!;
  p.decoders.jd = initPosition(config, frame, 3, ['jd']).decoders.jd!;
  return p;
};
const iframe = initIFrameModel(config.iframe as IFrameModelConfig, 1, ['mmse']);
iframe.decoders.fmd = initIFrameModel(config.iframe as IFrameModelConfig, 2, ['fmd']).decoders.fmd!;
const model: GopModel = { config, iframe, pframes: [position(2), position(3)] };
const source = movingMnistSource({ seed: 4 });

test('a classifier that always says 0: every count follows from the labels alone', () => {
  const zero: FrameClassifier = (x) => new Int32Array(x.shape[0]);
  const r = errorPermanence(model, source, zero, { samples: 24, batch: 10, ditherSeeds: [1, 2] });
  const labels = source.batch('test', 0, 24, 3).labels;
  assert.ok(labels.includes(0) && labels.some((l) => l !== 0), 'both kinds of label');
  const wrong = labels.filter((l) => l !== 0).length / 24;
  assert.deepEqual(Object.keys(r.decoders), ['mmse', 'fmd', 'jd']);
  assert.deepEqual(r.rates, ['12', '12', '12']);
  for (const c of [r.truth, r.decoders.mmse!, r.decoders.fmd!, r.decoders.jd!]) {
    assert.equal(c.count, 48);
    assert.deepEqual(c.wrong, [wrong, wrong, wrong]);
    assert.equal(c.wrong_first, 2 * labels.filter((l) => l !== 0).length);
    // Frames read right (label 0) stay right: newly wrong is 0, or null where no label is 0.
    const newly = labels.includes(0) ? 0 : null;
    assert.deepEqual(c.later.map((l) => [l.still_wrong, l.same_wrong, l.newly_wrong]), [[1, 1, newly], [1, 1, newly]]);
    assert.equal(c.wrong_throughout, 1);
  }
});

test('errorPermanence reads exactly the frames each decoder decodes, batch by batch and seed by seed', () => {
  // A classifier of content: the class is a hash of the frame's mean, so each decoder's frames read differently.
  const byContent: FrameClassifier = (x) => Int32Array.from(tf.tidy(() => tf.mean(x, [1, 2, 3]).dataSync()), (m) => Math.floor(m * 1e4) % 10);
  const seeds = [3, 5];
  const r = errorPermanence(model, source, byContent, { samples: 6, batch: 4, ditherSeeds: seeds });
  const codec = videoCodec(model);
  const b = source.batch('test', 0, 6, 3);
  const labels = Int32Array.from([...b.labels, ...b.labels]);
  const xs = (s: number, n: number) => [0, 1, 2].map((t) => tf.tensor4d(frameOf(b, t).subarray(s * 4096, (s + n) * 4096), [n, 64, 64, 1]));
  for (const d of ['mmse', 'fmd', 'jd'] as const) {
    const perFrame = [0, 1, 2].map(() => new Int32Array(12));
    seeds.forEach((seed, k) => {
      for (const [s, n] of [[0, 4], [4, 2]] as const) {
        tf.tidy(() => {
          const ys = codec.decode(d, codec.encode(xs(s, n), { seed, firstGop: s }).messages);
          ys.forEach((y, t) => perFrame[t]!.set(byContent(y), 6 * k + s));
        });
      }
    });
    assert.deepEqual(r.decoders[d], countErrors(labels, perFrame), d);
  }
  assert.notDeepEqual(r.decoders.fmd!.wrong, r.decoders.jd!.wrong, 'the decoders decode differently');
  const truth = tf.tidy(() => xs(0, 6).map((x) => byContent(x)));
  assert.deepEqual(r.truth, countErrors(labels, truth.map((p) => Int32Array.from([...p, ...p]))));
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'JSON-ready');
});

test('with a (tiny) trained classifier: one class per frame, and a Markdown table with a row per decoder', () => {
  const { params } = trainClassifier({ config: { size: 64, widths: [4, 4], classes: 10 }, seed: 1, steps: 2, batch: 4 });
  const r = errorPermanence(model, source, classifierFn(params), { samples: 3 });
  assert.deepEqual(r.dither_seeds, [1]);
  for (const c of Object.values(r.decoders)) {
    assert.equal(c!.wrong.length, 3);
    assert.ok(c!.wrong.every((w) => w >= 0 && w <= 1));
    assert.deepEqual(c!.later.map((l) => l.frame), [2, 3]);
  }
  const md = permanenceMarkdown(r);
  assert.equal(md.trim().split('\n').length, 2 + 1 + 3);
  assert.match(md, /\| jd \|/);
});
