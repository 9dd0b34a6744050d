import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../src/engine/index.ts';
import { movingMnistSource } from '../src/data/source.ts';
import { classifierFn, loadShippedClassifier } from '../src/eval/classifier.ts';
import { errorPermanence } from '../src/eval/permanence.ts';
import { readModelFile } from '../src/models/model-file.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { gop3Cells, type PermanenceTable } from '../src/repro/permanence-run.ts';
import { presetChain } from '../src/repro/table1.ts';
import { presets } from '../src/train/presets.ts';
import { MODEL, runTraining } from '../src/train/run.ts';
import { runCli } from './run-cli.ts';

// The GOP trainers need the wasm kernel pack; one thread, as the command's --threads 1.
await initEngine({ backend: 'wasm' });

const tmp = () => mkdtempSync(join(tmpdir(), 'rdpv-permanence-'));
const runs = join(tmp(), 'runs');
const cells = gop3Cells(true);
// The tiny GOP-3 cells, trained for real (seconds): tiny-pframe-12-12-12 and tiny-pframe-12-inf-inf with their chains.
for (const preset of [...new Set(cells.flatMap((c) => presetChain(c.preset)))]) {
  const r = await runTraining({ preset, config: presets[preset]!, out: join(runs, preset), resume: false, say: () => {} });
  assert.equal(r.exitCode, 0, preset);
}
const SMALL = ['--samples', '12', '--dither-seeds', '2', '--threads', '1'];
const readTable = (dir: string) => JSON.parse(readFileSync(join(dir, 'permanence.json'), 'utf8')) as PermanenceTable;
/** The bars of each facet of the SVG (Vega draws each bar as a path in a mark-rect group). */
const bars = (svg: string) => [...svg.matchAll(/<g class="mark-rect role-mark[^>]*>(.*?)<\/g>/gs)].reduce((n, m) => n + (m[1]!.match(/<path/g) ?? []).length, 0);

test('permanence --runs --tiny reads every finished GOP-3 run: its counts are those of an independent errorPermanence(), its chart one bar per reader and frame', async () => {
  assert.deepEqual(cells.map((c) => c.cell), ['tiny-pframe-12-12-12', 'tiny-pframe-12-inf-inf']);
  const results = join(tmp(), 'results');
  const r = await runCli(['repro', 'permanence', '--tiny', '--runs', runs, '--results', results, ...SMALL]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const t = readTable(results);
  assert.deepEqual(t.models.map((m) => m.label), cells.map((c) => c.cell));
  assert.deepEqual([t.samples, t.dither_seeds, t.missing], [12, [1, 2], []]);
  const { params } = await loadShippedClassifier(folderStore());
  for (const [i, m] of t.models.entries()) {
    const path = join(runs, cells[i]!.preset, MODEL);
    const bytes = readFileSync(path);
    assert.equal(m.model.sha256, createHash('sha256').update(bytes).digest('hex'));
    const lm = await readModelFile(bytes, path);
    const again = errorPermanence(lm.model, movingMnistSource({ seed: 1 }), classifierFn(params), { samples: 12, ditherSeeds: [1, 2] });
    assert.deepEqual(m.result, JSON.parse(JSON.stringify(again)), m.label);
    assert.deepEqual(Object.keys(m.result.decoders), ['mmse', 'fmd', 'jd']);
    assert.equal(m.result.truth.count, 24);
  }
  // Per model: ground truth and 3 decoders x 3 frames wrong, plus every defined "still wrong" of frames 2 and 3.
  const stillWrong = t.models.flatMap((m) => [m.result.truth, ...Object.values(m.result.decoders)].flatMap((c) => c!.later.filter((l) => l.still_wrong !== null)));
  const svg = readFileSync(join(results, 'permanence.svg'), 'utf8');
  assert.equal(bars(svg), t.models.length * 4 * 3 + stillWrong.length);
  for (const label of ['ground truth', 'MMSE', '0-PLF-FMD', '0-PLF-JD', 'tiny-pframe-12-inf-inf']) assert.ok(svg.includes(`>${label}<`), label);
  assert.deepEqual([...readFileSync(join(results, 'permanence.png')).subarray(1, 4)], [...Buffer.from('PNG')]);
  const md = readFileSync(join(results, 'permanence.md'), 'utf8');
  assert.match(md, /\| model \| rates \| decoder \| frame 1 wrong \| still wrong at the last frame \| same digit at the last frame \| wrong throughout \|/);
  assert.match(md, /\| tiny-pframe-12-12-12 \| 12-12-12 \| 0-PLF-JD \| \d+\.\d% \(\d+\/24\) \|/);
  assert.match(md, /## tiny-pframe-12-inf-inf \(rates 12, inf, inf;/);
});

test('with a GOP-3 run not trained, --runs measures the others, names it and exits 1; --model reads files in the order given, labelled by model name', async () => {
  const partial = join(tmp(), 'runs');
  cpSync(join(runs, 'tiny-pframe-12-12-12-perception'), join(partial, 'tiny-pframe-12-12-12-perception'), { recursive: true });
  const results = join(tmp(), 'results');
  const r = await runCli(['repro', 'permanence', '--tiny', '--runs', partial, '--results', results, '--samples', '4', '--dither-seeds', '1', '--threads', '1']);
  assert.equal(r.code, 1);
  assert.match(r.out.join('\n'), /1 model\(s\) \(not trained: tiny-pframe-12-inf-inf\)/);
  const t = readTable(results);
  assert.deepEqual([t.models.map((m) => m.label), t.missing], [['tiny-pframe-12-12-12'], ['tiny-pframe-12-inf-inf']]);
  assert.match(readFileSync(join(results, 'permanence.md'), 'utf8'), /Not measured \(no finished run\): tiny-pframe-12-inf-inf\./);

  const [a, b] = cells.map((c) => join(runs, c.preset, MODEL));
  const r2 = await runCli(['repro', 'permanence', '--model', b!, '--model', `${a},${b}`, '--results', results, '--samples', '4', '--dither-seeds', '1', '--threads', '1']);
  assert.equal(r2.code, 0, r2.err.join('\n'));
  const t2 = readTable(results);
  assert.deepEqual(t2.models.map((m) => m.label), ['tiny-pframe-12-inf-inf-perception', 'tiny-pframe-12-12-12-perception', 'tiny-pframe-12-inf-inf-perception (2)']);
  assert.deepEqual(t2.models[0]!.result, t2.models[2]!.result, 'the same file reads the same');
});

test('--held-out I reads training sequences from I instead of the test split, into permanence-heldout.*', async () => {
  const results = join(tmp(), 'results');
  const path = join(runs, cells[0]!.preset, MODEL);
  const r = await runCli(['repro', 'permanence', '--model', path, '--held-out', '4194304', '--results', results, '--samples', '6', '--dither-seeds', '1', '--threads', '1']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const t = JSON.parse(readFileSync(join(results, 'permanence-heldout.json'), 'utf8')) as PermanenceTable;
  assert.deepEqual([t.split, t.first, t.models[0]!.result.split, t.models[0]!.result.first], ['train', 4194304, 'train', 4194304]);
  const { params } = await loadShippedClassifier(folderStore());
  const lm = await readModelFile(readFileSync(path), path);
  const again = errorPermanence(lm.model, movingMnistSource({ seed: 1 }), classifierFn(params), { samples: 6, ditherSeeds: [1], split: 'train', first: 4194304 });
  assert.deepEqual(t.models[0]!.result, JSON.parse(JSON.stringify(again)));
  assert.match(readFileSync(join(results, 'permanence-heldout.md'), 'utf8'), /6 held-out training sequences from 4194304 of /);
});

test('mistakes exit 2 with one line: missing shipped models named, sources that exclude each other, an empty runs folder', async () => {
  const cases: [string[], RegExp][] = [
    // The tiny presets are never shipped (the full ones ship one by one as they train).
    [['--pretrained', '--tiny'], /--pretrained: .*manifest\.json has no entry for tiny-pframe-12-12-12, tiny-pframe-12-inf-inf;/],
    [['--model', 'x.safetensors', '--pretrained'], /--model and --pretrained exclude each other/],
    [['--runs', tmp()], /no finished GOP-3 run/],
    // Named before any model runs: the shipped one given first would take minutes.
    [['--model', 'pframe-12-12-12', '--model', 'no-such-model'], /--model no-such-model: neither a model file nor a shipped model; shipped: .*pframe-12-12-12/],
    [['extra'], /unexpected argument 'extra'/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(['repro', 'permanence', ...args, '--results', join(tmp(), 'results'), '--threads', '1']);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.err.length, 1, `${args.join(' ')}: ${r.err.join(' / ')}`);
    assert.match(r.err[0]!, want);
  }
});
