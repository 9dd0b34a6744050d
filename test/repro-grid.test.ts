import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../src/errors.ts';
import { parseShard, runGrid, shardJobs, type Grid, type Job, type JobStore } from '../src/repro/grid.ts';
import { table1Cells, table1Grid } from '../src/repro/table1.ts';

const quiet = () => {};

test('shards i/n of every n together hold each job of the table1 grids exactly once, in the grid order', () => {
  for (const tiny of [false, true]) {
    for (const pretrained of [false, true]) {
      const grid = table1Grid(table1Cells(tiny), pretrained);
      for (let n = 1; n <= 9; n++) {
        const parts = Array.from({ length: n }, (_, i) => shardJobs(grid, { index: i, count: n }).map((j) => j.id));
        assert.deepEqual(parts.flat(), grid.jobs.map((j) => j.id), `tiny ${tiny} pretrained ${pretrained} n ${n}`);
      }
    }
  }
});

test('the table1 grid has a training job per preset after the preset it starts from, and an evaluation per cell after its model', () => {
  const grid = table1Grid(table1Cells(false), false);
  assert.deepEqual(grid.cells, ['pframe-inf-1', 'pframe-inf-2', 'pframe-inf-3.17', 'pframe-12-4', 'pframe-12-8', 'pframe-12-12', 'pframe-12-inf']);
  const byId = new Map(grid.jobs.map((j) => [j.id, j]));
  assert.deepEqual(byId.get('pframe-12-12-perception')!.deps, ['pframe-12-12-mse']);
  assert.deepEqual(byId.get('pframe-12-12-mse')!.deps, [], 'zoo: models are not jobs');
  assert.deepEqual(byId.get('eval-pframe-12-inf')!.deps, ['pframe-12-inf-perception']);
  assert.ok(!byId.has('pframe-12-inf-mse'), 'R2 = inf has no MSE stage');
  const seen = new Set<string>();
  for (const j of grid.jobs) {
    for (const d of j.deps) assert.ok(seen.has(d), `${j.id} listed before its dependency ${d}`);
    seen.add(j.id);
  }
  const tiny = table1Grid(table1Cells(true), false);
  assert.deepEqual(tiny.cells, ['tiny-pframe-inf-2', 'tiny-pframe-12-12', 'tiny-pframe-12-inf']);
  assert.deepEqual(tiny.jobs.filter((j) => j.id === 'tiny-mse' || j.id === 'tiny-perception').map((j) => j.cell), ['tiny-pframe-12-12', 'tiny-pframe-12-12'], 'a shared I-frame chain goes with the first cell that needs it');
  assert.deepEqual(table1Grid(table1Cells(false), true).jobs.map((j) => j.deps.length), Array(7).fill(0), 'pretrained: evaluations only');
});

test('--shard accepts i/n, slurm and k8s forms and rejects the rest in one line', () => {
  assert.deepEqual(parseShard('1/3'), { index: 1, count: 3 });
  assert.deepEqual(parseShard('slurm', { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_MIN: '4', SLURM_ARRAY_TASK_COUNT: '3' }), { index: 1, count: 3 });
  assert.deepEqual(parseShard('k8s', { JOB_COMPLETION_INDEX: '2', RDPV_SHARD_COUNT: '4' }), { index: 2, count: 4 });
  for (const [spec, env] of [['3/2', {}], ['x', {}], ['1/0', {}], ['-1/2', {}], ['1.5/2', {}], ['0/2/3', {}], ['k8s', { JOB_COMPLETION_INDEX: '0' }], ['k8s', {}], ['slurm', {}]] as const) {
    assert.throws(() => parseShard(spec, env), (e: unknown) => e instanceof UserError && !e.message.includes('\n'), spec);
  }
});

/** A store over an in-memory set of finished ids, with failure markers. */
function memoryStore(finished: Set<string>, failed = new Map<string, number>()): JobStore {
  return {
    finished: (j) => finished.has(j.id), describe: (j) => `${j.id}/model`,
    markFailed: (j, code) => failed.set(j.id, code), clearFailed: (j) => failed.delete(j.id),
    failed: (j) => (failed.has(j.id) ? `${j.id}/failed` : undefined),
  };
}
const job = (id: string, deps: string[], cell = id): Job => ({ id, kind: 'train', deps, cell });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the runner starts a job only after its dependencies, at most N at a time, and skips finished ones', async () => {
  const grid: Grid = { name: 't', cells: ['a', 'b', 'c'], jobs: [job('a1', [], 'a'), job('a2', ['a1'], 'a'), job('b1', [], 'b'), job('c1', ['a1'], 'c'), job('c2', ['c1', 'b1'], 'c')] };
  const finished = new Set(['b1']);
  const order: string[] = [];
  let live = 0;
  let most = 0;
  const report = await runGrid(grid, grid.jobs, {
    jobs: 2, store: memoryStore(finished), pollMs: 10, say: quiet, log: quiet,
    async execute(j) {
      for (const d of j.deps) assert.ok(finished.has(d), `${j.id} started before ${d}`);
      order.push(j.id);
      most = Math.max(most, ++live);
      await sleep(20);
      live--;
      finished.add(j.id);
      return 0;
    },
  });
  assert.deepEqual(report.skipped, ['b1']);
  assert.deepEqual(order, ['a1', 'a2', 'c1', 'c2']);
  assert.equal(most, 2, 'a2 and c1 ran side by side');
  assert.deepEqual(report.failed, []);
});

test('a job whose dependency is in another shard waits for it to be finished, saying so once', async () => {
  const grid: Grid = { name: 't', cells: ['a', 'b'], jobs: [job('a1', [], 'a'), job('b1', ['a1'], 'b')] };
  const finished = new Set<string>();
  const said: string[] = [];
  const events: Record<string, unknown>[] = [];
  setTimeout(() => finished.add('a1'), 80); // another shard finishes a1
  const report = await runGrid(grid, shardJobs(grid, { index: 1, count: 2 }), {
    jobs: 1, store: memoryStore(finished), pollMs: 10, say: (l) => said.push(l), log: (e) => events.push(e), elsewhere: () => 'job of shard 0/2',
    execute: async (j) => (finished.add(j.id), 0),
  });
  assert.deepEqual(report.ran, ['b1']);
  assert.equal(said.filter((l) => l.includes('b1 waits for a1 (job of shard 0/2): a1/model does not exist yet')).length, 1, said.join('\n'));
  assert.deepEqual(events.filter((e) => e.event === 'wait').map((e) => e.for), ['a1']);
});

test('a dependency that fails in another shard stops the waiting job instead of waiting forever; rerunning that shard clears the failure', async () => {
  const grid: Grid = { name: 't', cells: ['a', 'b'], jobs: [job('a1', [], 'a'), job('b1', ['a1'], 'b'), job('b2', [], 'b')] };
  const failed = new Map<string, number>();
  const finished = new Set(['b2']);
  setTimeout(() => failed.set('a1', 1), 50); // shard 0/2 fails a1 while shard 1/2 waits
  const said: string[] = [];
  const report = await runGrid(grid, shardJobs(grid, { index: 1, count: 2 }), {
    jobs: 1, store: memoryStore(finished, failed), pollMs: 10, say: (l) => said.push(l), log: quiet, execute: async () => 0,
  });
  assert.deepEqual(report.blocked, ['b1']);
  assert.deepEqual(report.ran, []);
  assert.ok(said.some((l) => l.includes('dependency a1') && l.includes('a1/failed')), said.join('\n'));
  const rerun = await runGrid(grid, shardJobs(grid, { index: 0, count: 2 }), {
    jobs: 1, store: memoryStore(finished, failed), pollMs: 10, say: quiet, log: quiet,
    execute: async (j) => (assert.ok(!failed.has('a1'), 'the marker is cleared before the job runs again'), finished.add(j.id), 0),
  });
  assert.deepEqual(rerun.ran, ['a1']);
});

test('a failed job blocks its dependents and leaves a marker; an interrupted one stops the grid', async () => {
  const grid: Grid = { name: 't', cells: ['a', 'b'], jobs: [job('a1', [], 'a'), job('a2', ['a1'], 'a'), job('b1', [], 'b')] };
  const failed = new Map<string, number>();
  const finished = new Set<string>();
  const report = await runGrid(grid, grid.jobs, {
    jobs: 1, store: memoryStore(finished, failed), pollMs: 10, say: quiet, log: quiet, execute: async (j) => (j.id === 'a1' ? 3 : (finished.add(j.id), 0)),
  });
  assert.deepEqual(report.failed, [{ id: 'a1', code: 3 }]);
  assert.deepEqual(report.blocked, ['a2']);
  assert.deepEqual(report.ran, ['b1']);
  assert.ok(failed.has('a1'));
  const stopped = await runGrid(grid, grid.jobs, {
    jobs: 1, store: memoryStore(new Set(), new Map()), pollMs: 10, say: quiet, log: quiet, execute: async () => 130,
  });
  assert.equal(stopped.interrupted, 130);
  assert.deepEqual(stopped.blocked, ['a2', 'b1']);
});
