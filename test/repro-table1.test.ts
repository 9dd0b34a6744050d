import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../src/engine/index.ts';
import { decodeTensorFile } from '../src/models/tensor-file.ts';
import { presets } from '../src/train/presets.ts';
import { CHECKPOINT, LOG, MODEL, runTraining } from '../src/train/run.ts';
import { table1Cells, table1Grid } from '../src/repro/table1.ts';
import { runTable1 } from '../src/repro/table1-run.ts';
import type { Table1 } from '../src/repro/table1.ts';
import { runCli } from './run-cli.ts';
import { zooManifest } from '../src/models/zoo.ts';
import { folderStore } from '../src/models/weights-io.ts';

// The P-frame trainers need the wasm kernel pack (the cpu backend takes minutes per tiny step).
await initEngine({ backend: 'wasm' });

const tmp = () => mkdtempSync(join(tmpdir(), 'rdpv-repro-'));
const CLI = join(import.meta.dirname, '..', 'bin', 'rdpv.js');
const FAST = ['--tiny', '--samples', '4', '--dither-seeds', '2', '--threads', '1'];
const table1 = (runs: string, results: string, ...more: string[]) => runCli(['repro', 'table1', ...FAST, '--runs', runs, '--results', results, ...more]);
type Event = { event: string; job?: string; kind?: string };
const events = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Event);
const started = (path: string) => events(path).filter((e) => e.event === 'start').map((e) => e.job!);
const readTable = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Table1;
/** A table's numbers: what must not change between runs that train the same presets (a model file's sha256 does: it records training time). */
const numbers = (t: Table1) => t.cells.map(({ cell, R1, R2, mmse, fmd, jd, factor_of_two, per_seed }) => ({ cell, R1, R2, mmse, fmd, jd, factor_of_two, per_seed }));
const tinyJobs = table1Grid(table1Cells(true), false).jobs.map((j) => j.id);

const first = { runs: '', results: '' };

test('the tiny grid trains and evaluates its cells and writes table1.json and table1.md shaped like the paper\'s table', async () => {
  const dir = tmp();
  Object.assign(first, { runs: join(dir, 'runs'), results: join(dir, 'results') });
  const r = await table1(first.runs, first.results);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.deepEqual(started(join(first.results, 'table1.log.jsonl')), tinyJobs);
  const t = readTable(join(first.results, 'table1.json'));
  assert.deepEqual(t.cells.map((c) => [c.R1, c.R2]), [['inf', 2], [12, 12], [12, 'inf']]);
  assert.deepEqual(t.missing, []);
  assert.equal(t.samples, 4);
  assert.deepEqual(t.dither_seeds, [1, 2]);
  for (const c of t.cells) {
    for (const d of ['mmse', 'fmd', 'jd'] as const) {
      assert.deepEqual(Object.keys(c[d]).sort(), ['mean', 'std'], `${c.cell} ${d}`);
      assert.ok(c[d].mean >= 0 && c[d].mean < 1 && c[d].std >= 0, `${c.cell} ${d}: per-pixel MSE on [0, 1] pixels, x1`);
      assert.equal(c.per_seed[d].length, 2);
      assert.equal(c.factor_of_two.fmd, c.fmd.mean <= 2 * c.mmse.mean);
    }
    assert.match(c.model.sha256, /^[0-9a-f]{64}$/);
    assert.equal(c.preset, `${c.cell}-perception`);
    assert.deepEqual(Object.keys(c.stage_sha256), c.presets);
    assert.ok(c.paper.jd.mean > 0);
    assert.equal(c.judge_w1, undefined, 'no judge unless --judge-steps');
  }
  assert.ok(t.cells[2]!.mmse.mean < 1e-4, 'at R2 = inf the MMSE decoder outputs the frame (8-bit levels)');
  const md = readFileSync(join(first.results, 'table1.md'), 'utf8');
  assert.match(md, /## \(a\) Case 1: R1 = ∞ bits/);
  assert.match(md, /## \(b\) Case 2: R1 = 12 bits/);
  assert.match(md, /\| R2 \| MMSE \| paper \| 0-PLF-FMD \| paper \| 0-PLF-JD \| paper \|/);
  assert.match(md, /\| ∞ \| 0\.00 ± 0\.00 \| 0\.00 \| 0\.00 ± 0\.00 ✓ \| 0\.00 ✓ \| \d+\.\d\d ± \d\.\d\d [✓✗] \| 2\.18 ± 0\.02 ✗ \|/);
  assert.match(md, /\| 2 \| \d+\.\d\d ± \d\.\d\d \| 0\.88 ± 0\.01 \|/);
});

test('a second run redoes nothing: no job starts and no model file is rewritten', async () => {
  const mtimes = () => tinyJobs.filter((id) => presets[id]).map((id) => statSync(join(first.runs, id, MODEL)).mtimeMs);
  const before = mtimes();
  const log = join(first.results, 'table1.log.jsonl');
  const lines = events(log).length;
  const r = await table1(first.runs, first.results);
  assert.equal(r.code, 0, r.err.join('\n'));
  const again = events(log).slice(lines);
  assert.deepEqual(again.filter((e) => e.event === 'start'), []);
  assert.deepEqual(again.filter((e) => e.event === 'skip').map((e) => e.job), tinyJobs);
  assert.deepEqual(mtimes(), before);
  assert.match(r.out.join('\n'), /0 job\(s\) run, 10 already finished/);
  // Other evaluation settings redo the evaluations only; with a judge, its W1 per decoder sits beside the MMSE decoder's.
  const other = join(tmp(), 'results');
  const r3 = await table1(first.runs, other, '--dither-seeds', '3', '--judge-steps', '1');
  assert.equal(r3.code, 0, r3.err.join('\n'));
  assert.deepEqual(started(join(other, 'table1.log.jsonl')), tinyJobs.filter((id) => id.startsWith('eval-')));
  const judged = readTable(join(other, 'table1.json'));
  for (const c of judged.cells) {
    assert.deepEqual(Object.keys(c.judge_w1 ?? {}), ['mmse', 'fmd', 'jd'], c.cell);
    assert.equal(c.judge_w1_ratio!.fmd, c.judge_w1!.mmse.mean > 0 ? c.judge_w1!.fmd.mean / c.judge_w1!.mmse.mean : null);
    // JD is judged on frames 1-2 jointly, the law it must match, beside the MMSE decoder under the same judge.
    const joint = c.judge_joint_w1!;
    assert.equal(c.judge_w1_ratio!.jd, joint.mmse.mean > 0 ? joint.jd.mean / joint.mmse.mean : null);
  }
  assert.match(readFileSync(join(other, 'table1.md'), 'utf8'), /## Judge W1 .*\n\n.*JD against the joint judge on frames 1-2.*\n\n\| R1 \| R2 \| MMSE, marginal \| 0-PLF-FMD \| FMD \/ MMSE \| MMSE, joint \| 0-PLF-JD, joint \| JD \/ MMSE \|/);
  assert.deepEqual(mtimes(), before);
});

test('--cells picks a partial table: only those cells\' jobs run, and an unknown cell is one line', async () => {
  const results = join(tmp(), 'results');
  const r = await table1(first.runs, results, '--cells', '12-12');
  assert.equal(r.code, 0, r.err.join('\n'));
  const t = readTable(join(results, 'table1.json'));
  assert.deepEqual([t.cells.map((c) => c.cell), t.missing], [['tiny-pframe-12-12'], []]);
  assert.deepEqual(numbers(t), numbers(readTable(join(first.results, 'table1.json'))).filter((c) => c.cell === 'tiny-pframe-12-12'));
  const list = await runCli(['repro', 'table1', '--tiny', '--list', '--cells', 'inf-2']);
  assert.deepEqual(list.out.map((l) => l.split(' ')[0]), ['tiny-pframe-inf-2-mse', 'tiny-pframe-inf-2-perception', 'eval-tiny-pframe-inf-2']);
  const bad = await table1(first.runs, results, '--cells', '12-7');
  assert.deepEqual([bad.code, bad.err.length], [2, 1]);
  assert.match(bad.err[0]!, /--cells: no cell 12-7 in Table 1 \(tiny\); cells: inf-2, 12-12, 12-inf/);
});

test('with the OT bound on N sequences, every cell sets Theorem 3.2\'s optimum and the assignment decoder beside its learned 0-PLF-FMD decoder; only evaluations are redone', async () => {
  const results = join(tmp(), 'results');
  const code = await runTable1({
    mode: 'train', tiny: true, jobs: 1, runs: first.runs, results, backend: 'wasm', pollMs: 10, say: () => {},
    settings: { samples: 4, ditherSeeds: 2, judgeSteps: 0, batch: 64, otBound: 8 },
  });
  assert.equal(code, 0);
  assert.deepEqual(started(join(results, 'table1.log.jsonl')), tinyJobs.filter((id) => id.startsWith('eval-')));
  const t = readTable(join(results, 'table1.json'));
  assert.deepEqual(numbers(t), numbers(readTable(join(first.results, 'table1.json'))), 'the bound adds columns, it changes no number');
  for (const c of t.cells) {
    const b = c.ot_bound!;
    assert.deepEqual([b.samples, b.bootstrap], [8, 20], c.cell);
    assert.ok(b.bound.paired.value <= 2 * b.d_mmse + 1e-12, `${c.cell}: the paired estimate keeps the factor of two sample by sample`);
    assert.ok(b.bound.paired.value >= b.d_mmse && b.bound.paired.std >= 0 && b.oracle_mse >= 0, c.cell);
    assert.equal(b.fmd_over_paired, b.bound.paired.value > 0 ? b.fmd_mse / b.bound.paired.value : null);
  }
  const md = readFileSync(join(results, 'table1.md'), 'utf8');
  assert.match(md, /## Theorem 3\.2: the best 0-PLF-FMD decoder of each cell's encoder \(frame 2, 8 sequences, dither seed 1, 20 bootstrap resamples\)/);
  assert.equal(md.match(/^\| (∞|12) \| (2|12|∞) \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d ± \d+\.\d\d \| -?\d+\.\d\d ± \d+\.\d\d \| (\d+\.\d\d|—) \| \d+\.\d\d \|$/gm)?.length, t.cells.length);
  assert.equal(readTable(join(first.results, 'table1.json')).cells[0]!.ot_bound, undefined, 'no bound unless asked');
});

test('--shard 0/2 and --shard 1/2 together run each job exactly once, and merged they give the one-run table', async () => {
  const dir = tmp();
  const runs = join(dir, 'runs');
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  // The first shard runs its jobs as child processes (rdpv train / rdpv repro table1 --only), the second in this process.
  const r0 = await table1(runs, a, '--shard', '0/2', '--jobs', '2');
  const r1 = await table1(runs, b, '--shard', '1/2');
  assert.equal(r0.code, 0, r0.err.join('\n'));
  assert.equal(r1.code, 0, r1.err.join('\n'));
  const [s0, s1] = [started(join(a, 'table1.shard-0-of-2.log.jsonl')), started(join(b, 'table1.shard-1-of-2.log.jsonl'))];
  assert.deepEqual([...s0, ...s1].sort(), [...tinyJobs].sort());
  assert.deepEqual(s0.filter((id) => s1.includes(id)), []);
  assert.equal(readTable(join(a, 'table1.shard-0-of-2.json')).shard, '0/2');
  const merged = await runCli(['repro', 'merge', a, b, '--results', join(dir, 'merged')]);
  assert.equal(merged.code, 0, merged.err.join('\n'));
  const t = readTable(join(dir, 'merged', 'table1.json'));
  assert.equal(t.shard, null);
  assert.deepEqual(numbers(t), numbers(readTable(join(first.results, 'table1.json'))));
  const lone = await runCli(['repro', 'merge', a, '--results', join(dir, 'merged')]);
  assert.equal(lone.code, 2);
  assert.match(lone.err.join('\n'), /shard\(s\) 1\/2 missing/);
});

test('an interrupted training job resumes from its checkpoint and ends with the weights of an uninterrupted run', async () => {
  const runs = join(tmp(), 'runs');
  const preset = 'tiny-pframe-inf-2-mse';
  const out = join(runs, preset);
  // A run killed after its checkpoint at step 3: the checkpoint and the log, no model.
  await runTraining({ preset, config: { ...presets[preset]!, steps: 3 }, out, resume: false, say: () => {} });
  for (const f of [MODEL, 'result.json']) rmSync(join(out, f));
  assert.ok(existsSync(join(out, CHECKPOINT)));
  const marked = readFileSync(join(out, LOG), 'utf8').trim().split('\n').map((l) => JSON.stringify({ ...JSON.parse(l), before_kill: true }));
  writeFileSync(join(out, LOG), marked.join('\n') + '\n');
  const results = join(tmp(), 'results');
  const r = await table1(runs, results, '--shard', '0/3');
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.deepEqual(started(join(results, 'table1.shard-0-of-3.log.jsonl')), [preset, 'tiny-pframe-inf-2-perception', 'eval-tiny-pframe-inf-2']);
  const log = readFileSync(join(out, LOG), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; before_kill?: boolean });
  assert.deepEqual(log.map((l) => l.step), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(log.map((l) => l.before_kill === true), [true, true, true, false, false, false], 'the resumed run kept the log up to its checkpoint');
  const weights = (path: string) => decodeTensorFile(readFileSync(path), path).arrays;
  const [got, want] = [weights(join(out, MODEL)), weights(join(first.runs, preset, MODEL))];
  assert.deepEqual([...got.keys()], [...want.keys()]);
  for (const [name, { data }] of want) assert.deepEqual(got.get(name)!.data, data, name);
});

test('--replicas 2 trains every job of the grid on 2 data-parallel replicas, in this process and as child processes, bit for bit whatever --threads splits over them', async () => {
  const dir = tmp();
  const reference = join(dir, 'reference');
  const alone = spawnSync(process.execPath, [CLI, 'train', '--preset', 'tiny-pframe-inf-2-mse,tiny-pframe-inf-2-perception', '--replicas', '2', '--out', reference], { encoding: 'utf8' });
  assert.equal(alone.status, 0, alone.stderr);
  for (const jobs of ['1', '2']) {
    const runs = join(dir, `runs-${jobs}`);
    // With --jobs 2, 4 threads give each child 2 (its evaluation runs on 2, its replicas 1 each); this
    // test process's own engine already runs on 1.
    const r = await table1(runs, join(dir, `results-${jobs}`), '--shard', '0/3', '--replicas', '2', '--jobs', jobs, '--threads', jobs === '1' ? '1' : '4');
    assert.equal(r.code, 0, r.err.join('\n'));
    for (const preset of ['tiny-pframe-inf-2-mse', 'tiny-pframe-inf-2-perception']) {
      const weights = (d: string) => decodeTensorFile(readFileSync(join(d, preset, MODEL)), d).arrays;
      const [got, want] = [weights(runs), weights(reference)];
      for (const [name, { data }] of want) assert.deepEqual(got.get(name)!.data, data, `--jobs ${jobs}: ${preset} ${name}`);
    }
  }
});

test('bad flags exit with code 2 and one line', async () => {
  const runs = join(tmp(), 'runs');
  for (const args of [['--shard', '3/2'], ['--shard', 'x'], ['--shard', '1/0'], ['--shard', 'k8s'], ['--train', '--pretrained'], ['--jobs', '0'], ['--samples', 'many'], ['--pretrained', '--replicas', '2'], ['--replicas', '0'], ['--threads', '0']]) {
    const r = await runCli(['repro', 'table1', '--tiny', '--runs', runs, ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.err.length, 1, `${args.join(' ')}: ${r.err.join(' / ')}`);
    assert.ok(!r.err[0]!.includes('\n'));
  }
  assert.ok(!existsSync(runs), 'nothing ran');
  const unknown = await runCli(['repro', 'table9']);
  assert.equal(unknown.code, 2);
});

test('--pretrained fails in one line naming the zoo entries that are not shipped', async () => {
  const shipped = new Set((await zooManifest(folderStore())).map((e) => e.name));
  const missing = table1Cells(false).map((c) => c.name).filter((n) => !shipped.has(n));
  assert.ok(missing.includes('pframe-inf-1'), 'the test needs a cell that is not shipped');
  const r = await runCli(['repro', 'table1', '--pretrained', '--results', join(tmp(), 'results')]);
  assert.equal(r.code, 2);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0]!, new RegExp(`manifest\\.json has no entry for ${missing.join(', ').replaceAll('.', '\\.')} \\(shipped: `));
  const one = await runCli(['repro', 'table1', '--pretrained', '--cells', 'inf-1', '--results', join(tmp(), 'results')]);
  assert.match(one.err[0]!, /manifest\.json has no entry for pframe-inf-1 \(shipped: /);
});
