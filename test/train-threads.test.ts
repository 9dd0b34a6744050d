import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
  // Once a checkpoint exists, the test asks the supervisor to terminate the first pthread worker:
  // a death the main thread, blocked in the thread pool, cannot see.
  const trigger = join(tmp(), 'kill-a-worker');
  const child = spawn(process.execPath, [CLI, 'train', '--preset', 'tiny-pframe-inf-2-mse', '--threads', '2', '--steps', '60', '--out', broken], {
    env: { ...process.env, RDPV_FAULT_KILL_WASM_THREAD_WHEN: trigger }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  const poll = setInterval(() => existsSync(join(broken, CHECKPOINT)) && (clearInterval(poll), writeFileSync(trigger, '')), 10);
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_, s) => resolve(s)));
  clearInterval(poll);
  assert.ok(existsSync(trigger), `the run ended before its first checkpoint: ${stderr}`);
  assert.equal(signal, 'SIGKILL', `stopped by the supervisor: ${stderr}`);
  assert.match(stderr, /^rdpv: a wasm worker thread died \(exit code 1\); the process stops, .* a training run continues with --resume\.$/m);
  assert.ok(!existsSync(join(broken, MODEL)), 'the run did not finish');
  assert.equal(train(broken, 2, '--steps', '60', '--resume').status, 0);
  assertSameWeights(whole, broken);
});
