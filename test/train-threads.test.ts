import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTensorFile } from '../src/models/tensor-file.ts';
import { CHECKPOINT, LOG, MODEL } from '../src/train/run.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'rdpv.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'rdpv-threads-'));
const train = (out: string, threads: number, ...more: string[]) =>
  spawnSync(process.execPath, [CLI, 'train', '--preset', 'tiny-pframe-inf-2-mse', '--threads', String(threads), '--out', out, ...more], { encoding: 'utf8' });
const weights = (dir: string) => decodeTensorFile(readFileSync(join(dir, MODEL)), dir).arrays;

function assertSameWeights(a: string, b: string): void {
  const [wa, wb] = [weights(a), weights(b)];
  assert.deepEqual([...wb.keys()], [...wa.keys()]);
  for (const [name, { data }] of wa) assert.deepEqual(wb.get(name)!.data, data, name);
}

test('a run on 2 threads ends with exactly the weights of a run on 1 thread', () => {
  const [one, two] = [join(tmp(), 'one'), join(tmp(), 'two')];
  for (const [dir, n] of [[one, 1], [two, 2]] as const) assert.equal(train(dir, n).status, 0);
  assertSameWeights(one, two);
});

test('a 2-thread run killed with SIGKILL resumes to the weights of an uninterrupted 2-thread run', async () => {
  const [whole, killed] = [join(tmp(), 'whole'), join(tmp(), 'killed')];
  assert.equal(train(whole, 2).status, 0);
  const child = spawn(process.execPath, [CLI, 'train', '--preset', 'tiny-pframe-inf-2-mse', '--threads', '2', '--out', killed], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      const lines = existsSync(join(killed, LOG)) ? readFileSync(join(killed, LOG), 'utf8').split('\n').length - 1 : 0;
      if (existsSync(join(killed, CHECKPOINT)) && lines > 3) {
        clearInterval(poll);
        child.kill('SIGKILL');
        resolve();
      }
    }, 10);
    child.on('exit', () => { clearInterval(poll); reject(new Error('the run finished before it could be killed')); });
  });
  await new Promise((r) => child.on('close', r));
  assert.ok(!existsSync(join(killed, MODEL)));
  assert.equal(train(killed, 2, '--resume').status, 0);
  assertSameWeights(whole, killed);
});

test('a wasm worker thread that dies stops the run at once with one clear line, and its last checkpoint resumes to the uninterrupted weights', async () => {
  const [whole, broken] = [join(tmp(), 'whole'), join(tmp(), 'broken')];
  assert.equal(train(whole, 2, '--steps', '60').status, 0);
  // The first pthread worker is terminated 2.5 s into the run (a death the main thread, blocked in the thread pool, cannot see).
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'train', '--preset', 'tiny-pframe-inf-2-mse', '--threads', '2', '--steps', '60', '--out', broken], {
    encoding: 'utf8', env: { ...process.env, RDPV_FAULT_KILL_WASM_THREAD_MS: '2500' }, timeout: 120_000,
  });
  assert.equal(r.signal, 'SIGKILL', `stopped by the supervisor, not by the test's timeout (${Date.now() - started} ms): ${r.stderr}`);
  assert.match(r.stderr, /^rdpv: a wasm worker thread died \(exit code 1\); the process stops, .* a training run continues with --resume\.$/m);
  assert.ok(existsSync(join(broken, CHECKPOINT)), 'a checkpoint was written before the death');
  assert.ok(!existsSync(join(broken, MODEL)), 'the run did not finish');
  assert.equal(train(broken, 2, '--steps', '60', '--resume').status, 0);
  assertSameWeights(whole, broken);
});
