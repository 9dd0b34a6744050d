/**
 * A runs folder as the beyond-the-paper commands use it (the layout of `rdpv repro table1`: one
 * folder per job id under --runs, `result.json` when done, a failure marker beside it): JSON
 * files, when a training run is finished, a JobStore over it, and the results' files written
 * atomically.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { decodeTensorFile } from '../models/tensor-file.ts';
import { writeFileAtomic } from '../models/weights-io.ts';
import { MODEL } from '../train/run.ts';
import type { Job, JobStore } from './grid.ts';

/** A finished job's record, and the marker of a failed one, in its folder. */
export const RESULT = 'result.json';
export const FAILED = 'repro-failed.json';

export const jsonBytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** What is known of a file while its size and mtime stay the same (its sha256, its metadata): model files are read once, not at every check. */
function cachedByStat<T>(cache: Map<string, { key: string; value: T }>, path: string, compute: (bytes: Buffer) => T): T | undefined {
  if (!existsSync(path)) return undefined;
  const st = statSync(path);
  const key = `${st.size}:${st.mtimeMs}`;
  const hit = cache.get(path);
  if (hit?.key === key) return hit.value;
  const value = compute(readFileSync(path));
  cache.set(path, { key, value });
  return value;
}

const shas = new Map<string, { key: string; value: string }>();
/** sha256 of a file (undefined when it is not there). */
export const fileSha = (path: string) => cachedByStat(shas, path, (b) => createHash('sha256').update(b).digest('hex'));

const configs = new Map<string, { key: string; value: string | undefined }>();
/** The training config a model file records (run.ts writes it under the metadata key `config`). */
export const modelTrainConfig = (path: string) => cachedByStat(configs, path, (b) => decodeTensorFile(b, path).metadata.config);

/** A training run is finished when its model and result.json are there and the result records at least `steps` (as `rdpv repro table1` decides). */
export function trainingFinished(dir: string, steps: number): boolean {
  const r = readJson<{ steps?: number }>(join(dir, RESULT));
  return existsSync(join(dir, MODEL)) && r !== undefined && (r.steps ?? 0) >= steps;
}

/** A JobStore over `runs/<job id>/`: `finished` and `describe` are the command's; failures are marked as table1 marks them. */
export function runsJobStore(runs: string, finished: (job: Job) => boolean, describe: (job: Job) => string): JobStore {
  const marker = (job: Job) => join(runs, job.id, FAILED);
  return {
    finished,
    describe,
    markFailed(job, code) {
      mkdirSync(join(runs, job.id), { recursive: true });
      writeFileAtomic(marker(job), jsonBytes({ job: job.id, code, host: hostname(), pid: process.pid, time: new Date().toISOString() }));
    },
    clearFailed: (job) => rmSync(marker(job), { force: true }),
    failed: (job) => (existsSync(marker(job)) ? marker(job) : undefined),
  };
}

/** Write `<results>/<base>.<ext>` for each output, each atomically; returns the paths. */
export function writeResults(results: string, base: string, outputs: Record<string, string | Uint8Array>): string[] {
  mkdirSync(results, { recursive: true });
  return Object.entries(outputs).map(([ext, data]) => {
    const path = join(results, `${base}.${ext}`);
    writeFileAtomic(path, typeof data === 'string' ? new TextEncoder().encode(data) : data);
    return path;
  });
}
