import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../src/engine/index.ts';
import { UserError } from '../src/errors.ts';
import { decodeTensorFile } from '../src/models/tensor-file.ts';
import { presets, type TrainConfig } from '../src/train/presets.ts';
import { CHECKPOINT, LOG, MODEL, runTraining } from '../src/train/run.ts';

await initEngine({ backend: 'cpu' });

const CLI = join(import.meta.dirname, '..', 'bin', 'rdpv.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'rdpv-train-'));
const quiet = () => {};
const run = (preset: string, out: string, over: Partial<TrainConfig> = {}, resume = false) =>
  runTraining({ preset, config: { ...presets[preset]!, ...over }, out, resume, say: quiet });
const logSteps = (dir: string) => readFileSync(join(dir, LOG), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
const tensors = (path: string) => decodeTensorFile(readFileSync(path), path);

test('training resumed after SIGKILL completes the planned steps with a contiguous log', async () => {
  const out = join(tmp(), 'run');
  const child = spawn(process.execPath, [CLI, 'train', '--preset', 'tiny-mse', '--backend', 'cpu', '--out', out], { stdio: 'ignore' });
  // Kill once a checkpoint exists and training has gone past it.
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      const steps = existsSync(join(out, LOG)) ? readFileSync(join(out, LOG), 'utf8').split('\n').length - 1 : 0;
      if (existsSync(join(out, CHECKPOINT)) && steps > presets['tiny-mse']!.checkpointEvery) {
        clearInterval(poll);
        child.kill('SIGKILL');
        resolve();
      }
    }, 20);
    child.on('exit', () => { clearInterval(poll); reject(new Error('child finished before it could be killed')); });
  });
  await new Promise((r) => child.on('close', r));
  const killedAt = Number(tensors(join(out, CHECKPOINT)).metadata.step);
  assert.ok(killedAt > 0 && killedAt < presets['tiny-mse']!.steps, `checkpoint step ${killedAt}`);
  assert.ok(!existsSync(join(out, MODEL)), 'the killed run must not have finished');
  const result = await run('tiny-mse', out, {}, true);
  assert.equal(result.exitCode, 0);
  assert.equal(result.step, presets['tiny-mse']!.steps);
  assert.deepEqual(logSteps(out), Array.from({ length: presets['tiny-mse']!.steps }, (_, i) => i + 1));
});

test('a resumed run ends with exactly the weights of an uninterrupted run', async () => {
  const [a, b] = [join(tmp(), 'a'), join(tmp(), 'b')];
  await run('tiny-mse', a, { steps: 5 });
  await run('tiny-mse', b, { steps: 2 });
  await run('tiny-mse', b, { steps: 5 }, true);
  const [ta, tb] = [tensors(join(a, MODEL)).arrays, tensors(join(b, MODEL)).arrays];
  assert.deepEqual([...tb.keys()], [...ta.keys()]);
  for (const [name, { data }] of ta) assert.deepEqual(tb.get(name)!.data, data, name);
});

test('NaN in a loss stops training with exit code 3 and keeps the last good checkpoint', async () => {
  const out = join(tmp(), 'nan');
  const c = presets['tiny-nan']!;
  await assert.rejects(run('tiny-nan', out), (e: Error) =>
    e instanceof UserError && e.exitCode === 3 && e.message.includes(`NaN at step ${c.nanAtStep}`) && e.message.includes('checkpoint'));
  const kept = Number(tensors(join(out, CHECKPOINT)).metadata.step);
  assert.equal(kept, Math.floor((c.nanAtStep! - 1) / c.checkpointEvery) * c.checkpointEvery);
  for (const [name, { data }] of tensors(join(out, CHECKPOINT)).arrays) assert.ok(data.every(Number.isFinite), name);
  assert.ok(!existsSync(join(out, MODEL)));
});

test('perception stage keeps the encoder bit-identical, trains a new decoder and logs W1', async () => {
  const root = tmp();
  await run('tiny-mse', join(root, 'tiny-mse'), { steps: 3 });
  const result = await run('tiny-perception', join(root, 'tiny-perception'), { steps: 4 });
  const before = tensors(join(root, 'tiny-mse', MODEL)).arrays;
  const after = tensors(join(root, 'tiny-perception', MODEL)).arrays;
  const enc = [...before.keys()].filter((k) => k.startsWith('enc.'));
  assert.ok(enc.length > 10);
  for (const k of enc) assert.deepEqual(after.get(k)!.data, before.get(k)!.data, k);
  for (const k of [...before.keys()].filter((k) => k.startsWith('mmse.'))) assert.deepEqual(after.get(k)!.data, before.get(k)!.data, k);
  const changed = [...after.keys()].filter((k) => k.startsWith('fmd.') && after.get(k)!.data.some((v, i) => v !== after.get('mmse.' + k.slice(4))!.data[i]));
  assert.ok(changed.length > 0, 'the perception decoder did not move away from the MMSE decoder');
  const lines = readFileSync(join(root, 'tiny-perception', LOG), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.every((l) => Number.isFinite(l.w1)));
  assert.ok(Number.isFinite(result.metrics!.fmd_critic_w1) && Number.isFinite(result.metrics!.mmse_critic_w1));
});

test('off a terminal, the final evaluation reports its scoring and its judges\' training as plain lines', async () => {
  const root = tmp();
  await run('tiny-mse', join(root, 'tiny-mse'), { steps: 2 });
  const lines: string[] = [];
  const r = await runTraining({ preset: 'tiny-perception', config: { ...presets['tiny-perception']!, steps: 2 }, out: join(root, 'tiny-perception'), resume: false, say: (l) => lines.push(l), progressSeconds: 1e-6 });
  assert.equal(r.exitCode, 0);
  const evalLines = lines.filter((l) => l.startsWith('tiny-perception: final evaluation: '));
  assert.ok(evalLines.some((l) => /dither seed 1\/1: scored \d+\/8 sequences/.test(l)), evalLines.join('\n'));
  assert.ok(evalLines.some((l) => /dither seed 1\/1: judges trained \d+\/\d+ steps/.test(l)), evalLines.join('\n'));
  assert.equal(evalLines.at(-1), 'tiny-perception: final evaluation: dither seed 1/1 done');
});

test('a checkpoint from another configuration is not resumed', async () => {
  const out = join(tmp(), 'x');
  await run('tiny-mse', out, { steps: 1 });
  await assert.rejects(run('tiny-mse', out, { steps: 2, lambda: 1 }, true), /different configuration/);
  await assert.rejects(run('tiny-mse', out, { steps: 2 }), /--resume/);
});

test('rdpv train errors are one line with exit code 2; --jobs runs presets as parallel processes', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'train', ...args], { encoding: 'utf8' });
  for (const args of [['--preset', 'nope'], [], ['--preset', 'tiny-mse', '--steps', 'x'], ['--preset', 'tiny-mse', '--lambda', '-1'], ['--preset', 'tiny-perception', '--out', join(tmp(), 'p')]]) {
    const r = cli(...args);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const root = tmp();
  const r = cli('--preset', 'tiny-mse,tiny-nan', '--jobs', '2', '--backend', 'cpu', '--steps', '2', '--out', root);
  assert.equal(r.status, 0, r.stderr);
  for (const name of ['tiny-mse', 'tiny-nan']) {
    assert.deepEqual(logSteps(join(root, name)), [1, 2]);
    assert.match(r.stdout, new RegExp(`^\\[${name}\\] \\{"preset":"${name}"`, 'm'));
  }
});

test('SIGTERM writes a checkpoint at the step reached and exits 143', async () => {
  const out = join(tmp(), 'term');
  const child = spawn(process.execPath, [CLI, 'train', '--preset', 'tiny-mse', '--backend', 'cpu', '--out', out], { stdio: 'ignore' });
  const poll = setInterval(() => {
    if (existsSync(join(out, LOG)) && readFileSync(join(out, LOG), 'utf8').split('\n').length > 2) {
      clearInterval(poll);
      child.kill('SIGTERM');
    }
  }, 20);
  const code = await new Promise((r) => child.on('close', r));
  clearInterval(poll);
  assert.equal(code, 143);
  const steps = logSteps(out);
  assert.equal(Number(tensors(join(out, CHECKPOINT)).metadata.step), steps.at(-1));
  assert.ok(steps.at(-1)! < presets['tiny-mse']!.steps);
});

test('--lambda-joint gives the 0-PLF-JD decoder its own weight, recorded in the model file; it is refused where there is no JD over frames', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'train', ...args], { encoding: 'utf8' });
  const root = tmp();
  assert.equal(cli('--preset', 'tiny-pframe-inf-2-mse', '--out', join(root, 'tiny-pframe-inf-2-mse'), '--threads', '1').status, 0);
  const r = cli('--preset', 'tiny-pframe-inf-2-perception', '--out', join(root, 'tiny-pframe-inf-2-perception'), '--lambda-joint', '0.5', '--threads', '1');
  assert.equal(r.status, 0, r.stderr);
  const path = join(root, 'tiny-pframe-inf-2-perception', MODEL);
  const config = JSON.parse(decodeTensorFile(new Uint8Array(readFileSync(path)), path).metadata.config!) as TrainConfig;
  assert.deepEqual([config.lambda, config.lambdaJoint], [presets['tiny-pframe-inf-2-perception']!.lambda, 0.5]);
  for (const [args, message] of [
    [['--preset', 'tiny-perception', '--lambda-joint', '1'], /^rdpv train: --lambda-joint applies to GOP presets only .*'tiny-perception' codes single frames$/],
    [['--preset', 'tiny-pframe-inf-2-mse', '--lambda-joint', '1'], /^rdpv train: --lambda-joint applies to perception presets only: 'tiny-pframe-inf-2-mse' is an MSE preset$/],
  ] as const) {
    const bad = cli(...args);
    assert.equal(bad.status, 2, args.join(' '));
    assert.match(bad.stderr.trim(), message);
  }
});

test('the final evaluation\'s settings may change on --resume (--judge-steps 0 scores without judges); a training setting may not', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'train', ...args], { encoding: 'utf8' });
  const root = tmp();
  const run = join(root, 'tiny-perception');
  assert.equal(cli('--preset', 'tiny-mse,tiny-perception', '--out', root, '--threads', '1').status, 0);
  const metrics = () => Object.keys((JSON.parse(readFileSync(join(run, 'result.json'), 'utf8')) as { metrics: object }).metrics);
  assert.ok(metrics().some((k) => k.includes('judge')), 'the preset judges');
  for (const f of [MODEL, 'result.json']) rmSync(join(run, f));
  const r = cli('--preset', 'tiny-perception', '--out', run, '--resume', '--judge-steps', '0', '--threads', '1');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /resuming tiny-perception at step 8\/8/);
  assert.ok(metrics().length > 0 && !metrics().some((k) => k.includes('judge')), 'no judge at --judge-steps 0');
  const other = cli('--preset', 'tiny-perception', '--out', run, '--resume', '--lambda', '0.5', '--threads', '1');
  assert.equal(other.status, 2);
  assert.match(other.stderr, /was written by a different configuration than preset 'tiny-perception'/);
});
