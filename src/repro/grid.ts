/**
 * An experiment grid as jobs with stable ids, sliced into shards and run with dependencies.
 *
 * - A job trains one preset (id: the preset name) or evaluates one cell (id: `eval-<cell>`);
 *   its `deps` are ids of jobs of the same grid that must be finished first.
 * - The job list is in a stable order grouped by cell: each cell's jobs come after the jobs of
 *   the cells before it, and a training job is listed with the first cell that needs it. A shard
 *   `i/n` takes the i-th of n contiguous slices of the cells (so whole cells, with the chain of
 *   training jobs they were first to need). Every job is in exactly one shard.
 * - A job whose dependency lies in another shard waits for that dependency to be finished on
 *   disk (the runs folder is shared), polling, with a line saying what it waits for. Because a
 *   shared dependency belongs to the earliest cell that needs it, a shard only ever waits for a
 *   lower-numbered shard, so shards started in index order (as Slurm and Kubernetes do) never
 *   wait on each other in a cycle. A job that fails leaves a marker beside its outputs; a shard
 *   waiting on it stops that job with a message instead of waiting forever. A run clears the
 *   markers of the jobs it is about to try, so rerunning the failed shard (before or with the
 *   shards that wait on it) starts clean.
 * - Finished jobs are not redone; the runner asks the store, which looks at files.
 */
import { UserError } from '../errors.ts';

export type JobKind = 'train' | 'eval';

export interface Job {
  id: string;
  kind: JobKind;
  /** Ids of jobs of the same grid that must be finished before this one starts. */
  deps: string[];
  /** The cell the job is listed with (the unit of sharding). */
  cell: string;
}

export interface Grid {
  name: string;
  /** Cell ids in table order. */
  cells: string[];
  /** Every job, grouped by cell in table order, dependencies before dependents. */
  jobs: Job[];
}

export interface Shard {
  index: number;
  count: number;
}

/** The environment variable that holds the number of shards for `--shard k8s` (Kubernetes sets only the index). */
export const K8S_COUNT_VAR = 'RDPV_SHARD_COUNT';

function shardNumbers(what: string, index: string | undefined, count: string | undefined): Shard {
  const [i, n] = [Number(index), Number(count)];
  if (!/^\d+$/.test(index ?? '') || !/^\d+$/.test(count ?? '') || n < 1 || i >= n) {
    throw new UserError(`--shard ${what}: expected i/n with integers 0 <= i < n, got '${index ?? ''}/${count ?? ''}'`);
  }
  return { index: i, count: n };
}

/**
 * `--shard` as written: `i/n` (0-based, i < n), `slurm` (SLURM_ARRAY_TASK_ID minus
 * SLURM_ARRAY_TASK_MIN, over SLURM_ARRAY_TASK_COUNT) or `k8s` (JOB_COMPLETION_INDEX over
 * RDPV_SHARD_COUNT). A bad value is a one-line UserError.
 */
export function parseShard(spec: string, env: Record<string, string | undefined> = process.env): Shard {
  if (spec === 'k8s') {
    if (env.JOB_COMPLETION_INDEX === undefined) throw new UserError('--shard k8s: JOB_COMPLETION_INDEX is not set (an Indexed Job sets it)');
    if (env[K8S_COUNT_VAR] === undefined) throw new UserError(`--shard k8s: set ${K8S_COUNT_VAR} to the Job's completions`);
    return shardNumbers('k8s', env.JOB_COMPLETION_INDEX, env[K8S_COUNT_VAR]);
  }
  if (spec === 'slurm') {
    const { SLURM_ARRAY_TASK_ID: id, SLURM_ARRAY_TASK_MIN: min = '0', SLURM_ARRAY_TASK_COUNT: count } = env;
    if (id === undefined || count === undefined) throw new UserError('--shard slurm: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not set (run it inside sbatch --array)');
    return shardNumbers('slurm', /^\d+$/.test(id) && /^\d+$/.test(min) ? String(Number(id) - Number(min)) : id, count);
  }
  const m = /^([^/]*)\/([^/]*)$/.exec(spec);
  if (!m) throw new UserError(`--shard must be i/n (0 <= i < n), slurm or k8s, got '${spec}'`);
  return shardNumbers(spec, m[1], m[2]);
}

export const shardName = (s: Shard) => `${s.index}/${s.count}`;

/** The cells of shard s: the s.index-th of s.count contiguous slices (sizes differ by at most one). */
export function shardCells(cells: string[], s: Shard): string[] {
  const at = (k: number) => Math.floor((k * cells.length) / s.count);
  return cells.slice(at(s.index), at(s.index + 1));
}

/** The jobs of shard s, in the grid's order; without a shard, every job. */
export function shardJobs(grid: Grid, s: Shard | undefined): Job[] {
  if (!s) return grid.jobs;
  const mine = new Set(shardCells(grid.cells, s));
  return grid.jobs.filter((j) => mine.has(j.cell));
}

/** The shard that runs a job (for messages). */
export function shardOfJob(grid: Grid, id: string, count: number): Shard | undefined {
  const cell = grid.jobs.find((j) => j.id === id)?.cell;
  for (let index = 0; index < count && cell !== undefined; index++) if (shardCells(grid.cells, { index, count }).includes(cell)) return { index, count };
  return undefined;
}

/** What the runner needs of the place jobs write to (the runs folder). */
export interface JobStore {
  /** The job's outputs are complete (a training job's model and result, an evaluation's result for the current settings). */
  finished(job: Job): boolean;
  /** Where the runner waits, for messages (the file that appears when the job is finished). */
  describe(job: Job): string;
  /** Record that the job failed (for shards waiting on it). */
  markFailed(job: Job, code: number): void;
  /** Forget a failure (the job is about to be tried again). */
  clearFailed(job: Job): void;
  /** The job's failure marker (its path), if one is there. */
  failed(job: Job): string | undefined;
}

export interface RunGridOptions {
  /** Jobs side by side, at most. */
  jobs: number;
  store: JobStore;
  /** Runs one job to its end; the exit code (0: done). */
  execute(job: Job): Promise<number>;
  /** How often to look for a dependency that another shard makes. */
  pollMs: number;
  /** Human-readable progress lines. */
  say(line: string): void;
  /** One JSON object per event (the JSON-lines log). */
  log(event: Record<string, unknown>): void;
  /** For messages: where a job of the grid that is not among `mine` runs. */
  elsewhere?(id: string): string;
  /** The wait message is repeated this often while the wait lasts (default 10 minutes). */
  remindMs?: number;
}

export interface GridReport {
  /** Jobs run here to completion. */
  ran: string[];
  /** Jobs already finished before the run. */
  skipped: string[];
  failed: { id: string; code: number }[];
  /** Jobs not run because a dependency failed. */
  blocked: string[];
  /** Exit code of an interrupted job (SIGINT/SIGTERM: 130/143), when the run stopped early. */
  interrupted?: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * Run `mine` (jobs of `grid`, in the grid's order) with at most `o.jobs` at a time, each once its
 * dependencies are finished: those in `mine` when they ran here (or were already finished),
 * the others when the store finds them finished on disk (made by another shard).
 */
export async function runGrid(grid: Grid, mine: Job[], o: RunGridOptions): Promise<GridReport> {
  const t0 = Date.now();
  const byId = new Map(grid.jobs.map((j) => [j.id, j]));
  const local = new Set(mine.map((j) => j.id));
  type State = 'pending' | 'running' | 'done' | 'failed' | 'blocked';
  const state = new Map<string, State>();
  const report: GridReport = { ran: [], skipped: [], failed: [], blocked: [] };
  for (const job of mine) {
    if (o.store.finished(job)) {
      state.set(job.id, 'done');
      report.skipped.push(job.id);
      o.log({ event: 'skip', job: job.id, kind: job.kind, reason: 'finished' });
      o.say(`[repro] ${job.id}: already finished, not redone`);
    } else {
      state.set(job.id, 'pending');
      // This run will try the job: a failure recorded by an earlier attempt no longer holds.
      o.store.clearFailed(job);
    }
  }
  const waiting = new Map<string, number>(); // dependency id -> when its last wait line was said
  const running = new Map<string, Promise<void>>();
  const remind = o.remindMs ?? 600_000;
  let stop: number | undefined;

  /** 'ok', 'wait' or a reason the job cannot run. */
  const depStatus = (job: Job): 'ok' | 'wait' | string => {
    let result: 'ok' | 'wait' = 'ok';
    for (const d of job.deps) {
      if (local.has(d)) {
        const s = state.get(d)!;
        if (s === 'failed' || s === 'blocked') return `dependency ${d} ${s === 'failed' ? 'failed' : 'did not run'}`;
        if (s !== 'done') result = 'wait';
        continue;
      }
      const dep = byId.get(d);
      if (!dep) throw new Error(`job ${job.id} depends on ${d}, which is not in grid ${grid.name}`);
      if (o.store.finished(dep)) continue;
      const marker = o.store.failed(dep);
      if (marker) return `dependency ${d} (${o.elsewhere?.(d) ?? 'another shard'}) failed (${marker}): run its shard again first`;
      const said = waiting.get(d);
      if (said === undefined || Date.now() - said >= remind) {
        waiting.set(d, Date.now());
        o.say(`[repro] ${job.id} waits for ${d} (${o.elsewhere?.(d) ?? 'another shard'}): ${o.store.describe(dep)} does not exist yet; polling every ${seconds(o.pollMs)}`);
        o.log({ event: 'wait', job: job.id, for: d, file: o.store.describe(dep) });
      }
      result = 'wait';
    }
    return result;
  };

  const start = (job: Job) => {
    state.set(job.id, 'running');
    const started = Date.now();
    const n = mine.indexOf(job) + 1;
    o.say(`[repro] start ${job.id} (${job.kind}, ${n}/${mine.length}) at ${seconds(started - t0)}`);
    o.log({ event: 'start', job: job.id, kind: job.kind });
    const run = (async () => {
      let code: number;
      try {
        code = await o.execute(job);
      } catch (e) {
        o.say(`[repro] ${job.id}: ${e instanceof Error ? e.message : String(e)}`);
        code = typeof (e as { exitCode?: unknown }).exitCode === 'number' ? (e as { exitCode: number }).exitCode : 1;
      }
      const elapsed = (Date.now() - started) / 1000;
      if (code === 0 && !o.store.finished(job)) {
        o.say(`[repro] ${job.id} exited 0 but ${o.store.describe(job)} is missing`);
        code = 1;
      }
      if (code === 0) {
        state.set(job.id, 'done');
        report.ran.push(job.id);
        o.say(`[repro] done ${job.id} in ${elapsed.toFixed(1)}s (total ${seconds(Date.now() - t0)})`);
        o.log({ event: 'done', job: job.id, kind: job.kind, elapsed_s: Number(elapsed.toFixed(2)) });
      } else {
        state.set(job.id, 'failed');
        report.failed.push({ id: job.id, code });
        o.store.markFailed(job, code);
        o.say(`[repro] FAILED ${job.id} with exit code ${code} after ${elapsed.toFixed(1)}s`);
        o.log({ event: 'fail', job: job.id, kind: job.kind, code, elapsed_s: Number(elapsed.toFixed(2)) });
        // An interrupted job (Ctrl-C, a scheduler's SIGTERM) stops the grid: its checkpoint is saved.
        if (code === 130 || code === 143) stop ??= code;
      }
      running.delete(job.id);
    })();
    running.set(job.id, run);
  };

  for (;;) {
    let externalWait = false;
    for (const job of mine) {
      if (state.get(job.id) !== 'pending') continue;
      if (stop !== undefined) {
        state.set(job.id, 'blocked');
        report.blocked.push(job.id);
        continue;
      }
      const s = depStatus(job);
      if (s === 'ok') {
        if (running.size < o.jobs) start(job);
      } else if (s === 'wait') {
        if (job.deps.some((d) => !local.has(d) && !o.store.finished(byId.get(d)!))) externalWait = true;
      } else {
        state.set(job.id, 'blocked');
        report.blocked.push(job.id);
        o.say(`[repro] ${job.id} not run: ${s}`);
        o.log({ event: 'blocked', job: job.id, reason: s });
      }
    }
    if (running.size === 0 && ![...state.values()].includes('pending')) break;
    if (running.size === 0 && !externalWait) throw new Error(`grid ${grid.name}: pending jobs with nothing running and nothing to wait for (a dependency cycle?)`);
    const tick = externalWait ? [new Promise<void>((r) => setTimeout(r, o.pollMs))] : [];
    await Promise.race([...running.values(), ...tick]);
  }
  if (stop !== undefined) report.interrupted = stop;
  o.log({ event: 'end', ran: report.ran.length, skipped: report.skipped.length, failed: report.failed.length, blocked: report.blocked.length, elapsed_s: Number(((Date.now() - t0) / 1000).toFixed(2)) });
  return report;
}
