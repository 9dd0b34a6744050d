import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../src/engine/index.ts';
import { decodeTensorFile } from '../src/models/tensor-file.ts';
import { lambdaRun, type TradeoffTable } from '../src/repro/tradeoff.ts';
import { LOG, MODEL } from '../src/train/run.ts';
import { runCli } from './run-cli.ts';

await initEngine({ backend: 'wasm' });

const tmp = () => mkdtempSync(join(tmpdir(), 'rdpv-tradeoff-'));
const dir = tmp();
const [runs, results] = [join(dir, 'runs'), join(dir, 'results')];
const LAMBDAS = [0, 0.05, 0.5, 5];
const tradeoff = (lambdas: number[], ...more: string[]) => runCli(['repro', 'tradeoff', '--tiny', '--lambdas', lambdas.join(','), '--runs', runs, '--results', results, '--threads', '1', ...more]);
const table = () => JSON.parse(readFileSync(join(results, 'tradeoff-tiny-perception.json'), 'utf8')) as TradeoffTable;
const logPath = join(results, 'tradeoff-tiny-perception.log.jsonl');
const events = () => readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; job?: string });
const started = (from = 0) => events().slice(from).filter((e) => e.event === 'start').map((e) => e.job!);
const weights = (path: string) => decodeTensorFile(readFileSync(path), path);
/** The marks Vega draws in the layer `name` (each symbol a path). */
const marks = (svg: string, name: string) => ((new RegExp(`<g class="mark-symbol role-mark ${name}_marks"[^>]*>(.*?)</g>`, 's').exec(svg)?.[1] ?? '').match(/<path/g) ?? []).length;

test('tradeoff --tiny trains one stage-2 run per lambda on one shared stage-1 model and draws one point per lambda, the MMSE point and the 0-PLF optimum', async () => {
  const r = await tradeoff(LAMBDAS);
  assert.equal(r.code, 0, r.err.join('\n'));
  const runIds = LAMBDAS.map((x) => lambdaRun('tiny-perception', x));
  assert.deepEqual(started(), ['tiny-mse', 'ot-bound-tiny-mse', ...runIds.flatMap((id) => [id, `eval-${id}`])]);
  const t = table();
  assert.deepEqual(t.points.map((p) => [p.lambda, p.run]), LAMBDAS.map((x, i) => [x, runIds[i]]));
  assert.deepEqual(t.missing, []);
  assert.equal(t.frame, 1);
  assert.equal(t.stage1.from, 'tiny-mse');
  // Stage 2 only: every run holds the stage-1 encoder and MMSE decoder, bit for bit, and records its own lambda.
  const stage1 = weights(join(runs, 'tiny-mse', MODEL)).arrays;
  for (const [i, id] of runIds.entries()) {
    const w = weights(join(runs, id, MODEL));
    const shared = [...stage1.keys()].filter((k) => /^(enc|mmse)\./.test(k));
    assert.ok(shared.length > 0);
    for (const k of shared) assert.deepEqual(w.arrays.get(k)!.data, stage1.get(k)!.data, `${id} ${k}`);
    assert.equal((JSON.parse(w.metadata.config!) as { lambda: number; from: string }).lambda, LAMBDAS[i]);
  }
  assert.ok(t.mmse_shared, 'one representation: the MMSE decoder scores the same in every run');
  for (const p of t.points) {
    assert.deepEqual(Object.keys(p.decoders), ['fmd'], 'an I-frame model: its jd is its fmd');
    assert.ok(p.decoders.fmd!.mse.mean > 0 && Number.isFinite(p.decoders.fmd!.judge_w1.mean));
  }
  const z = t.zero_plf!;
  assert.equal(z.samples, 16);
  assert.ok(z.bound.paired.value <= 2 * z.d_mmse + 1e-12, 'the paired estimate keeps the factor of two sample by sample');
  const svg = readFileSync(join(results, 'tradeoff-tiny-perception.svg'), 'utf8');
  assert.deepEqual([marks(svg, 'points'), marks(svg, 'mmse'), marks(svg, 'zero_plf')], [LAMBDAS.length, 1, 1]);
  assert.deepEqual([...readFileSync(join(results, 'tradeoff-tiny-perception.png')).subarray(1, 4)], [...Buffer.from('PNG')]);
  const md = readFileSync(join(results, 'tradeoff-tiny-perception.md'), 'utf8');
  assert.match(md, /\| MMSE decoder \(stage 1, shared\) \| — \| MMSE \| \d+\.\d{3} ± \d\.\d{3} \| 1\.00 \|/);
  assert.equal(md.match(/\| stage 2 \| [\d.]+ \| 0-PLF-FMD \|/g)?.length, LAMBDAS.length);
  assert.match(md, /\| 0-PLF optimum, Theorem 3\.2: D_MMSE \+ W2\^2, paired/);
  assert.match(md, /nothing here is chosen by a test score/);
});

test('a second run redoes nothing; a run whose model is lost resumes from its checkpoint to the same weights, and a new lambda trains only itself', async () => {
  const before = events().length;
  const again = await tradeoff(LAMBDAS);
  assert.equal(again.code, 0, again.err.join('\n'));
  assert.deepEqual(started(before), []);
  assert.match(again.out.join('\n'), /4\/4 runs scored; 0 job\(s\) run, 10 already finished/);

  const lost = lambdaRun('tiny-perception', 0.5);
  const model = join(runs, lost, MODEL);
  const want = weights(model).arrays;
  rmSync(model);
  rmSync(join(runs, lost, 'result.json'));
  const mark = events().length;
  const r = await tradeoff([...LAMBDAS, 1]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const added = lambdaRun('tiny-perception', 1);
  assert.deepEqual(started(mark), [lost, `eval-${lost}`, added, `eval-${added}`]);
  const got = weights(model).arrays;
  for (const [k, { data }] of want) assert.deepEqual(got.get(k)!.data, data, k);
  const steps = readFileSync(join(runs, lost, LOG), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8], 'resumed at its last checkpoint: no step trained twice');
  assert.deepEqual(table().points.map((p) => p.lambda), [...LAMBDAS, 1]);
});

test('--held-out scores the same runs on held-out training sequences, apart from the test evaluations, without training again', async () => {
  const mark = events().length;
  const heldOut = join(results, 'tradeoff-tiny-perception-heldout');
  const r = await tradeoff(LAMBDAS, '--held-out', '4194304');
  assert.equal(r.code, 0, r.err.join('\n'));
  const heldLog = readFileSync(`${heldOut}.log.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; job?: string });
  const runIds = LAMBDAS.map((x) => lambdaRun('tiny-perception', x));
  assert.deepEqual(heldLog.filter((e) => e.event === 'start').map((e) => e.job), runIds.map((id) => `eval-heldout-${id}`), 'only the held-out evaluations run');
  assert.equal(events().length, mark, 'the test-split log is untouched');
  const t = JSON.parse(readFileSync(`${heldOut}.json`, 'utf8')) as TradeoffTable;
  assert.deepEqual([t.split, t.first, t.zero_plf], ['train', 4194304, null]);
  const test = table();
  assert.notEqual(t.points[0]!.decoders.fmd!.mse.mean, test.points[0]!.decoders.fmd!.mse.mean, 'other sequences, other scores');
  assert.match(readFileSync(`${heldOut}.md`, 'utf8'), /training split from sequence 4194304 \(held out/);
});

test('--steps trains a sweep of its own length beside the preset-length one, on the same stage-1 model, without retraining either', async () => {
  const own = join(dir, 'results-steps');
  const r = await runCli(['repro', 'tradeoff', '--tiny', '--lambdas', '0,0.5', '--steps', '3', '--runs', runs, '--results', own, '--threads', '1']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const ids = [0, 0.5].map((x) => lambdaRun('tiny-perception', x, 3));
  assert.deepEqual(ids, ['tiny-perception-lambda-0-steps-3', 'tiny-perception-lambda-0.5-steps-3']);
  const log = readFileSync(join(own, 'tradeoff-tiny-perception.log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; job?: string; steps?: number });
  assert.deepEqual(log.filter((e) => e.event === 'start').map((e) => e.job), ids.flatMap((id) => [id, `eval-${id}`]), 'the stage-1 model and the bound are reused');
  assert.equal(log[0]!.steps, 3);
  for (const id of ids) {
    const steps = readFileSync(join(runs, id, LOG), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(steps, [1, 2, 3]);
    assert.equal((JSON.parse(weights(join(runs, id, MODEL)).metadata.config!) as { judgeSteps: number }).judgeSteps, 0, 'no closing judge: the evaluation trains its own');
  }
  const t = JSON.parse(readFileSync(join(own, 'tradeoff-tiny-perception.json'), 'utf8')) as TradeoffTable;
  assert.equal(t.train_steps, 3);
  assert.deepEqual(t.points.map((p) => p.run), ids);
  assert.ok(t.mmse_shared);
  assert.match(readFileSync(join(own, 'tradeoff-tiny-perception.md'), 'utf8'), /each 3 steps of tiny-perception/);
  const again = await tradeoff(LAMBDAS);
  assert.match(again.out.join('\n'), /0 job\(s\) run/, 'the preset-length sweep is untouched');
});

test('mistakes exit 2 with one line', async () => {
  const cases: [string[], RegExp][] = [
    [['--lambdas', '0,x'], /--lambdas must be a number >= 0, got 'x'/],
    [['--lambdas', '0.1,0.1'], /--lambdas: 0\.1 is given twice/],
    [['--lambdas', '0', '--preset', 'tiny-mse'], /needs a perception preset/],
    [['--lambdas', '0', '--preset', 'nope'], /unknown preset 'nope'/],
    [['--lambdas', '0', '--from', 'zoo:nope'], /--from zoo:nope: no such shipped model/],
    [['--lambdas', '0', '--ot-bound', '1'], /--ot-bound: N must be 0/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(['repro', 'tradeoff', '--tiny', ...args, '--runs', join(tmp(), 'runs'), '--results', join(tmp(), 'results'), '--threads', '1']);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.err.length, 1, `${args.join(' ')}: ${r.err.join(' / ')}`);
    assert.match(r.err[0]!, want);
  }
});
