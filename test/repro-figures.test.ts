import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { initEngine, tf } from '../src/engine/index.ts';
import { frameOf, movingMnistSource } from '../src/data/source.ts';
import type { FrameClassifier } from '../src/eval/classifier.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { encodeModelFile, readModelFile } from '../src/models/model-file.ts';
import { largestRows, randomRows, wrongIFrameRows } from '../src/repro/fig-recon.ts';
import { fig3Cells, type Fig3 } from '../src/repro/fig3.ts';
import { FIG4_ZOO_NAME, runFig2 } from '../src/repro/figures-run.ts';
import { gridLayout } from '../src/repro/labelled-grid.ts';
import { videoCodec } from '../src/video/codec.ts';
import { runCli } from './run-cli.ts';
import { tinyGopModel } from './support/tiny.ts';
import { hasFfmpeg } from './support/tools.ts';

// The GOP trainers need the wasm kernel pack (the cpu backend takes minutes per tiny step).
await initEngine({ backend: 'wasm' });

const dirs: string[] = [];
const tmp = () => {
  dirs.push(mkdtempSync(join(tmpdir(), 'rdpv-figures-')));
  return dirs.at(-1)!;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const readJson = <T>(path: string) => JSON.parse(readFileSync(path, 'utf8')) as T;
const png = (path: string) => PNG.sync.read(readFileSync(path));
const quiet = () => {};
/** A grid picture's size: rows of 3 ground-truth frames and 3 frames of each of 3 decoders, 64-pixel tiles at scale 2. */
const pictureSize = (rows: number) => gridLayout(rows, 12, 64, { columns: [], title: 'a title', scale: 2 });

test('row selection: a wrong I-frame needs the ground truth read right; random rows are seeded, distinct and sorted; largest rows rank by score', () => {
  const labels = [3, 1, 4, 1, 5, 9, 2, 6];
  const truth1 = [3, 1, 0, 1, 5, 9, 2, 6]; // sequence 2's digit the classifier cannot read
  const perc1 = [3, 7, 8, 1, 0, 9, 4, 6]; // 1, 2, 4 and 6 read wrong
  assert.deepEqual(wrongIFrameRows(labels, truth1, perc1, 10), [1, 4, 6]);
  assert.deepEqual(wrongIFrameRows(labels, truth1, perc1, 2), [1, 4], 'the first ones by index');
  assert.deepEqual(wrongIFrameRows(labels, truth1, perc1, 0), []);

  const a = randomRows(1000, 6, 1);
  assert.equal(new Set(a).size, 6);
  assert.deepEqual(a, [...a].sort((x, y) => x - y));
  assert.ok(a.every((i) => Number.isInteger(i) && i >= 0 && i < 1000));
  assert.deepEqual(randomRows(1000, 6, 1), a, 'the same seed, the same rows');
  assert.notDeepEqual(randomRows(1000, 6, 2), a);
  assert.deepEqual(randomRows(4, 10, 3), [0, 1, 2, 3], 'never more rows than sequences');

  assert.deepEqual(largestRows([0.1, 0.5, 0.3, 0.5, 0.2], 3), [1, 3, 2], 'ties: the earlier index');
});

test('fig2 draws the sequences whose I-frame digit the classifier reads wrong (a stub classifier, checked against decoding them here)', async () => {
  const dir = tmp();
  const lm = await tinyGopModel(5);
  const file = join(dir, 'gop.safetensors');
  writeFileSync(file, encodeModelFile(lm.model, 'tiny-gop-5'));
  // A stub that reads a "digit" off a frame's mean brightness: right on some ground-truth frames, wrong on most reconstructions.
  const stub: FrameClassifier = (x) => Int32Array.from(tf.tidy(() => tf.mean(x, [1, 2, 3]).dataSync()), (m) => Math.floor(m * 1e4) % 10);
  const samples = 64;
  const code = await runFig2({ mode: 'train', tiny: true, runs: join(dir, 'runs'), results: join(dir, 'results'), samples, ditherSeeds: 1, rows: 3, seed: 7, backend: 'wasm', model: file, classify: stub, say: quiet });
  assert.equal(code, 0);

  // The same selection, computed apart: decode the sequences with the codec, read frame 1 with the stub.
  const codec = videoCodec((await readModelFile(readFileSync(file), file)).model);
  const b = movingMnistSource({ seed: 1 }).batch('test', 0, samples, 3);
  const [truth1, jd1] = tf.tidy(() => {
    const xs = [0, 1, 2].map((t) => tf.tensor4d(frameOf(b, t), [samples, 64, 64, 1]));
    return [stub(xs[0]!), stub(codec.decode('jd', codec.encode(xs, { seed: 1, firstGop: 0 }).messages)[0]!)];
  });
  const expected = [...b.labels.keys()].filter((i) => truth1![i] === b.labels[i] && jd1![i] !== b.labels[i]).slice(0, 3);
  assert.ok(expected.length >= 1, 'the stub finds some wrong I-frames');

  const r = readJson<{ rows: { index: number; label: number; reads: Record<string, number[]>; mse: Record<string, number[]> }[]; random: { seed: number; rows: { index: number }[] }; selection: string; permanence: { truth: { count: number } } }>(join(dir, 'results', 'fig2.json'));
  assert.deepEqual(r.rows.map((row) => row.index), expected);
  for (const row of r.rows) {
    assert.equal(row.label, b.labels[row.index]);
    assert.equal(row.reads.truth![0], row.label, 'the ground truth read right');
    assert.notEqual(row.reads.jd![0], row.label, 'the I-frame read wrong');
    assert.equal(row.reads.jd![0], row.reads.fmd![0], 'JD and FMD share the I-frame');
    for (const d of ['jd', 'fmd', 'mmse']) assert.ok(row.mse[d]!.length === 3 && row.mse[d]!.every((v) => v > 0 && v < 1));
  }
  assert.deepEqual(r.random.rows.map((row) => row.index), randomRows(samples, 3, 7));
  assert.equal(r.permanence.truth.count, samples, 'the counts cover the whole scan');
  const picture = png(join(dir, 'results', 'fig2.png'));
  assert.equal(picture.height, pictureSize(expected.length).height);
  assert.ok(picture.width >= pictureSize(1).width);
  assert.ok(existsSync(join(dir, 'results', 'fig2-random.png')) && existsSync(join(dir, 'results', 'fig2.md')));
});

const shared = { runs: '', results: '' };
/** This process's engine runs one wasm thread (initEngine above): the CLI must ask for the same. */
const FAST3 = ['--tiny', '--samples', '8', '--dither-seeds', '2', '--threads', '1'];

test('fig3 --tiny --train: trains the GOP-3 chains, and its SVG, PNG and JSON show the numbers await evaluate() gives for each pair\'s model', async () => {
  const dir = tmp();
  Object.assign(shared, { runs: join(dir, 'runs'), results: join(dir, 'results') });
  const r = await runCli(['repro', 'fig3', ...FAST3, '--train', '--runs', shared.runs, '--results', shared.results]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const cells = fig3Cells(true);
  assert.deepEqual(cells.map((c) => c.name), ['tiny-pframe-12-12-12', 'tiny-pframe-12-inf-inf']);
  const t = readJson<Fig3>(join(shared.results, 'fig3.json'));
  assert.deepEqual(t.pairs.map((p) => [p.R1, p.R2, p.R3]), [[12, 12, 12], [12, 'inf', 'inf']]);
  assert.deepEqual(t.missing, []);
  for (const [k, p] of t.pairs.entries()) {
    const path = join(shared.runs, cells[k]!.preset, 'model.safetensors');
    const lm = await readModelFile(readFileSync(path), path);
    assert.equal(p.model.sha256, lm.sha256);
    const e = await evaluate(lm.model, movingMnistSource({ seed: 1 }), { samples: 8, split: 'test', ditherSeeds: [1, 2] });
    assert.equal(p.frames.length, 3);
    for (const f of p.frames) {
      for (const d of ['mmse', 'fmd', 'jd'] as const) {
        const want = e.frames[f.frame - 1]!.decoders[d]!.mse;
        assert.deepEqual(f[d].per_seed, want.values, `${p.cell} frame ${f.frame} ${d}`);
        assert.ok(Math.abs(f[d].mean - want.mean) < 1e-12);
      }
    }
    // The claim, recomputed from the means.
    const falls = (d: 'fmd' | 'jd') => [1, 2].map((i) => p.frames[0]![d].mean - p.frames[i]![d].mean);
    assert.deepEqual(p.fall, { fmd: falls('fmd'), jd: falls('jd') });
    assert.equal(p.fmd_falls_faster, falls('fmd').every((v, i) => v > falls('jd')[i]!));
  }
  assert.equal(t.holds_for_every_pair, t.pairs.every((p) => p.fmd_falls_faster));
  assert.ok(t.pairs[1]!.fmd_falls_faster, 'at R2 = R3 = inf FMD outputs the frames (MSE ~0) and JD does not');
  for (const p of t.pairs) assert.ok(r.out.some((l) => l.startsWith(`fig3 (${p.R2 === 'inf' ? '∞' : p.R2}, ${p.R3 === 'inf' ? '∞' : p.R3}): FMD falls faster than JD over frames 2-3: ${p.fmd_falls_faster ? 'yes' : 'no'}`)), 'a line per pair');

  const svg = readFileSync(join(shared.results, 'fig3.svg'), 'utf8');
  assert.equal((svg.match(/class="mark-line role-mark/g) ?? []).length, 4, 'a line per pair and perception decoder');
  const points = [...svg.matchAll(/<path aria-label="frame: (\d); per-pixel MSE: ([\d.e-]+); \(R2, R3\): ([^;]+); decoder: ([^;]+);[^"]*" role="graphics-symbol" aria-roledescription="point"/g)];
  assert.equal(points.length, 12, 'a point per pair, decoder and frame');
  for (const [, frame, mse, pair, decoder] of points) {
    const p = t.pairs.find((q) => `(${q.R2 === 'inf' ? '∞' : q.R2}, ${q.R3 === 'inf' ? '∞' : q.R3})` === pair)!;
    const d = decoder === '0-PLF-FMD' ? 'fmd' : 'jd';
    assert.ok(Math.abs(Number(mse) - p.frames[Number(frame) - 1]![d].mean) < 1e-9, `the plotted point ${pair} ${decoder} ${frame}`);
  }
  const width = Number(/<svg[^>]* width="(\d+(?:\.\d+)?)"/.exec(svg)![1]);
  assert.equal(png(join(shared.results, 'fig3.png')).width, Math.round(2 * width));
  const md = readFileSync(join(shared.results, 'fig3.md'), 'utf8');
  assert.match(md, /\| \(∞, ∞\) \| 2 \| inf \| 0\.00 ± 0\.00 \| \d+\.\d\d ± \d+\.\d\d \| 0\.00 ± 0\.00 \|/);
  assert.match(md, /## The claim, measured/);

  // A second run trains and evaluates nothing again.
  const again = await runCli(['repro', 'fig3', ...FAST3, '--runs', shared.runs, '--results', shared.results]);
  assert.equal(again.code, 0, again.err.join('\n'));
  const log = readFileSync(join(shared.results, 'fig3.log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string });
  const lastBegin = log.map((e) => e.event).lastIndexOf('begin');
  assert.deepEqual(log.slice(lastBegin).filter((e) => e.event === 'start'), []);
});

test('fig2 --tiny on the trained runs with the shipped classifier: the picture, the random picture and the counts', async () => {
  const r = await runCli(['repro', 'fig2', '--tiny', '--threads', '1', '--runs', shared.runs, '--results', shared.results, '--samples', '16', '--rows', '2']);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.match(r.out.join('\n'), /^fig2: \d rows with a wrong I-frame digit .* and 2 random rows of 16 scanned/m);
  const j = readJson<{ rows: unknown[]; classifier: { from: string; sha256: string }; model: { from: string } }>(join(shared.results, 'fig2.json'));
  assert.equal(j.classifier.from, 'zoo:digit-classifier');
  assert.equal(j.model.from, join(shared.runs, 'tiny-pframe-12-12-12-perception', 'model.safetensors'));
  assert.equal(png(join(shared.results, 'fig2-random.png')).height, pictureSize(2).height);
  if (j.rows.length) assert.equal(png(join(shared.results, 'fig2.png')).height, pictureSize(j.rows.length).height);
  assert.match(readFileSync(join(shared.results, 'fig2.md'), 'utf8'), /\| ground truth \|/);
});


test('fig4 on a generated KTH folder with a GOP model file: the rows with the largest I-frame error and random rows', { skip: hasFfmpeg ? false : 'ffmpeg is not installed (the KTH loader needs it)' }, async () => {
  const dir = tmp();
  const kth = join(dir, 'kth');
  mkdirSync(kth);
  // The loader opens both splits: a training person (1-20) and a test person (21-25).
  for (const [name, src] of [['person01_walking_d1_uncomp.avi', 'testsrc'], ['person21_boxing_d2_uncomp.avi', 'testsrc2']]) {
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `${src}=size=160x120:rate=25`, '-t', '0.4', '-c:v', 'rawvideo', '-pix_fmt', 'yuv420p', join(kth, name!)]);
  }
  const file = join(dir, 'gop.safetensors');
  writeFileSync(file, encodeModelFile((await tinyGopModel(3)).model, 'tiny-gop-3'));
  const results = join(dir, 'results');
  const r = await runCli(['repro', 'fig4', '--kth-dir', kth, '--model', file, '--threads', '1', '--results', results, '--samples', '6', '--rows', '2', '--seed', '2']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const j = readJson<{ rows: { index: number; mse: { jd: number[] } }[]; random: { rows: { index: number }[] }; rates: string[]; mean_mse: Record<string, number[]> }>(join(results, 'fig4.json'));
  assert.deepEqual(j.rates, ['12', '12', '12']);
  assert.equal(j.rows.length, 2);
  assert.ok(j.rows[0]!.mse.jd[0]! >= j.rows[1]!.mse.jd[0]!, 'largest I-frame error first');
  assert.deepEqual(j.random.rows.map((row) => row.index), randomRows(6, 2, 2));
  assert.equal(j.mean_mse.jd!.length, 3);
  assert.equal(png(join(results, 'fig4.png')).height, pictureSize(2).height);
  assert.ok(existsSync(join(results, 'fig4-random.png')));
});

test('--list prints the jobs: each pair\'s training chain (shared stages once) and its evaluation, --pairs a subset; fig2 trains only', async () => {
  const r = await runCli(['repro', 'fig3', '--list', '--tiny']);
  assert.equal(r.code, 0);
  assert.deepEqual(r.out.map((l) => l.split(/\s+/)[0]), ['tiny-mse', 'tiny-perception', 'tiny-pframe-12-12-mse', 'tiny-pframe-12-12-perception', 'tiny-pframe-12-12-12-mse',
    'tiny-pframe-12-12-12-perception', 'eval-tiny-pframe-12-12-12', 'tiny-pframe-12-inf-perception', 'tiny-pframe-12-inf-inf-perception', 'eval-tiny-pframe-12-inf-inf']);
  const one = await runCli(['repro', 'fig3', '--list', '--tiny', '--pairs', 'inf-inf']);
  assert.deepEqual(one.out.map((l) => l.split(/\s+/)[0]), ['tiny-mse', 'tiny-perception', 'tiny-pframe-12-inf-perception', 'tiny-pframe-12-inf-inf-perception', 'eval-tiny-pframe-12-inf-inf'], '--pairs: that pair\'s chain only');
  const full = await runCli(['repro', 'fig2', '--list']);
  assert.deepEqual(full.out.map((l) => l.split(/\s+/)[0]), ['pframe-12-12-mse', 'pframe-12-12-perception', 'pframe-12-12-12-mse', 'pframe-12-12-12-perception']);
  assert.match(full.out[2]!, /after pframe-12-12-perception$/, 'frame 3\'s MSE stage starts from the GOP-2 perception model');
});

test('misuse: one line and exit 2 (fig4 without its folder or a model, --pretrained without zoo entries, flags that do not apply)', async () => {
  const dir = tmp();
  const cases: [string[], RegExp][] = [
    [['repro', 'fig4', '--model', 'x.safetensors'], /fig4 needs --kth-dir DIR/],
    [['repro', 'fig4', '--kth-dir', dir], /no KTH model can be trained here yet.*--model FILE/],
    [['repro', 'fig4', '--kth-dir', dir, '--pretrained'], new RegExp(`has no entry for ${FIG4_ZOO_NAME}`)],
    [['repro', 'fig3', '--pretrained', '--tiny', '--results', join(dir, 'r')], /has no entry for tiny-pframe-12-12-12, tiny-pframe-12-inf-inf \(shipped: [^)]*pframe-12-12-12[^)]*\)/],
    [['repro', 'fig3', '--pretrained', '--tiny', '--pairs', 'inf-inf', '--results', join(dir, 'r')], /has no entry for tiny-pframe-12-inf-inf \(/],
    [['repro', 'fig3', '--pairs', '12-12,4-5'], /--pairs: no pair 4-5 in Figure 3; pairs: 4-4, 8-8, 12-12, inf-inf/],
    [['repro', 'fig2', '--pairs', '12-12'], /--pairs does not apply to fig2/],
    [['repro', 'fig2', '--pretrained', '--tiny', '--results', join(dir, 'r')], /has no entry for tiny-pframe-12-12-12 /],
    [['repro', 'fig3', '--model', 'x.safetensors'], /--model does not apply to fig3/],
    [['repro', 'fig2', '--dither-seeds', '3'], /--dither-seeds does not apply to fig2/],
    [['repro', 'fig2', '--train', '--model', 'x.safetensors'], /--train and --model exclude each other/],
    [['repro', 'fig2', '--model', join(dir, 'missing.safetensors'), '--results', join(dir, 'r')], /cannot read model file/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err.join('\n')}`);
    assert.equal(r.err.length, 1, argv.join(' '));
    assert.match(r.err[0]!, message);
  }
});
