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
const args = (out: string, more: string[]) => [CLI, 'train', '--preset', 'tiny-pframe-inf-2-mse', '--out', out, ...more];
const train = (out: string, ...more: string[]) => spawnSync(process.execPath, args(out, more), { encoding: 'utf8' });
const weights = (dir: string) => decodeTensorFile(readFileSync(join(dir, MODEL)), dir).arrays;

function assertSameWeights(a: string, b: string): void {
  const [wa, wb] = [weights(a), weights(b)];
  assert.deepEqual([...wb.keys()], [...wa.keys()]);
  for (const [name, { data }] of wa) assert.deepEqual(wb.get(name)!.data, data, name);
}

/** Start a run, and once it has a checkpoint and a few logged steps call `act` (a kill, a fault). */
function runUntilCheckpoint(out: string, more: string[], env: NodeJS.ProcessEnv, act: (child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, args(out, more), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b) => (stderr += b));
  let acted = false;
  const poll = setInterval(() => {
    const lines = existsSync(join(out, LOG)) ? readFileSync(join(out, LOG), 'utf8').split('\n').length - 1 : 0;
    if (!acted && existsSync(join(out, CHECKPOINT)) && lines > 3) {
      acted = true;
      act(child);
    }
  }, 10);
  return new Promise<{ acted: boolean; signal: NodeJS.Signals | null; code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => (clearInterval(poll), resolve({ acted, signal, code, stderr }))));
}

test('a run on 2 threads ends with exactly the weights of a run on 1 thread', () => {
  const [one, two] = [join(tmp(), 'one'), join(tmp(), 'two')];
  for (const [dir, n] of [[one, 1], [two, 2]] as const) assert.equal(train(dir, '--threads', String(n)).status, 0);
  assertSameWeights(one, two);
});

test('a run on 2 data-parallel replicas ends with the same weights every time, whatever the thread count', () => {
  const [a, b] = [join(tmp(), 'a'), join(tmp(), 'b')];
  const r = train(a, '--replicas', '2', '--threads', '2');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(train(b, '--replicas', '2', '--threads', '1').status, 0);
  assertSameWeights(a, b);
});

for (const [what, more] of [['2-thread', ['--threads', '2']], ['2-replica', ['--replicas', '2', '--threads', '2']]] as const) {
  test(`a ${what} run killed with SIGKILL resumes to the weights of an uninterrupted ${what} run`, async () => {
    const [whole, killed] = [join(tmp(), 'whole'), join(tmp(), 'killed')];
    assert.equal(train(whole, ...more, '--steps', '60').status, 0);
    const run = await runUntilCheckpoint(killed, [...more, '--steps', '60'], {}, (child) => child.kill('SIGKILL'));
    assert.ok(run.acted, `the run finished before it could be killed: ${run.stderr}`);
    assert.ok(!existsSync(join(killed, MODEL)));
    assert.equal(train(killed, ...more, '--steps', '60', '--resume').status, 0);
    assertSameWeights(whole, killed);
  });
}

/**
 * A thread that dies with no code of its own running (terminated from outside): the run must stop
 * at once with one line, never wait for it, and its last checkpoint resume to the uninterrupted weights.
 */
for (const [what, more, fault, line, signal] of [
  // The supervisor sees a pthread worker die; the main thread, blocked in the pool, cannot.
  ['a wasm worker thread', ['--threads', '2'], 'RDPV_FAULT_KILL_WASM_THREAD_WHEN',
    /^rdpv: a wasm worker thread died \(exit code 1\); the process stops, .* a training run continues with --resume\.$/m, 'SIGKILL'],
  // The coordinator sees a replica's thread die and wakes the replicas waiting for it.
  ['a data-parallel replica', ['--replicas', '2', '--threads', '2'], 'RDPV_FAULT_KILL_REPLICA_WHEN',
    /^rdpv train: training thread 2 of 2 stopped \(exit code 1\); the last checkpoint is kept: continue with --resume$/m, null],
] as const) {
  test(`${what} that dies stops the run at once with one clear line, and its last checkpoint resumes to the uninterrupted weights`, async () => {
    const [whole, broken] = [join(tmp(), 'whole'), join(tmp(), 'broken')];
    assert.equal(train(whole, ...more, '--steps', '60').status, 0);
    const trigger = join(tmp(), 'kill-a-thread');
    const run = await runUntilCheckpoint(broken, [...more, '--steps', '60'], { [fault]: trigger }, () => writeFileSync(trigger, ''));
    assert.ok(run.acted, `the run ended before its first checkpoint: ${run.stderr}`);
    assert.equal(run.signal, signal, run.stderr);
    if (signal === null) assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, line);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.ok(!existsSync(join(broken, MODEL)), 'the run did not finish');
    assert.equal(train(broken, ...more, '--steps', '60', '--resume').status, 0);
    assertSameWeights(whole, broken);
  });
}
