/**
 * Data-parallel training on worker threads: `replicas` workers, each with its own engine (wasm or
 * cpu, one process) and a slice of every batch, joined by an all-reduce in shared memory
 * (replica.ts). The main thread only coordinates: it keeps the model that checkpoints and the final
 * evaluation read (copied from replica 0 on sync()), and its event loop stays free, so a thread that
 * dies is seen at once and stops the run with one line instead of leaving the others waiting.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { tf } from '../engine/index.ts';
import type { BackendName } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import type { Model } from '../models/model-file.ts';
import { assignParams, flattenParams, paramArrays, type ParamTree } from '../models/params.ts';
import type { NamedArrays } from '../models/tensor-file.ts';
import type { FrameSource } from '../data/source.ts';
import type { TrainConfig } from './presets.ts';
import { AllReduce, allReduceBuffer } from './replica.ts';
import { TRAINERS, type LossTensors, type Trainer } from './trainer.ts';

/** What a replica worker is started with. */
export interface ReplicaWorkerData {
  config: TrainConfig;
  index: number;
  buffer: SharedArrayBuffer;
  backend: BackendName;
  threads: number;
}

/** Messages from a replica worker. */
export type ReplicaReply = { ready: true } | { losses: Record<string, number> } | { state: Record<string, NamedArrays> };

export type GroupArrays = Record<string, NamedArrays>;

/** Every checkpoint group's variables as host arrays. */
export const groupArrays = (groups: Record<string, ParamTree>): GroupArrays =>
  Object.fromEntries(Object.entries(groups).map(([name, tree]) => [name, paramArrays(tree)]));

export function assignGroups(groups: Record<string, ParamTree>, arrays: GroupArrays, source: string): void {
  for (const [name, tree] of Object.entries(groups)) assignParams(tree, arrays[name] ?? new Map(), source);
}

/** A worker thread running a module: a TypeScript one through tsx (a checkout), JavaScript as it is (built). */
export function startModuleWorker(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const boot = `import(${tsx}).then((t) => { t.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

// Beside this module with its extension: .ts in a checkout, .js when built, .mjs where a bundle
// (../shared/tools/remote-bundle.sh) has this code inlined and the worker bundled as its own entry.
const replicaWorker = new URL(`./replica-worker${/\.[cm]?[jt]s$/.exec(import.meta.url)?.[0] ?? '.js'}`, import.meta.url);
const startWorker = (data: ReplicaWorkerData) => startModuleWorker(replicaWorker, data);

/**
 * RDPV_FAULT_KILL_REPLICA_WHEN=PATH (tests): the last replica's thread is terminated once PATH exists,
 * a death no code of its own sees.
 */
const FAULT = process.env.RDPV_FAULT_KILL_REPLICA_WHEN;

class ParallelTrainer implements Trainer {
  private readonly local: Trainer;
  private workers: Worker[] = [];
  private readonly buffer: SharedArrayBuffer;
  private failure: UserError | undefined;
  private waiting: { resolve: (r: ReplicaReply[]) => void; reject: (e: Error) => void; replies: (ReplicaReply | undefined)[] } | undefined;

  constructor(private readonly config: TrainConfig, source: FrameSource, private readonly replicas: number, private readonly backend: BackendName, private readonly threads: number) {
    this.local = TRAINERS[config.model.kind](config, source);
    // A slot holds the largest reduce whole (all the model's variables), up to 64 MB a replica.
    const elements = Object.entries(this.local.checkpointGroups()).filter(([k]) => !k.startsWith('opt.')).flatMap(([, t]) => flattenParams(t)).reduce((n, [, v]) => n + v.size, 0);
    this.buffer = allReduceBuffer(replicas, Math.min(elements + 1024, 1 << 24));
  }

  model(): Model {
    return this.local.model();
  }

  checkpointGroups(): Record<string, ParamTree> {
    return this.local.checkpointGroups();
  }

  start(from: Model | undefined): void {
    this.local.start(from);
  }

  /** The first step starts the replicas with the state run.ts set up (fresh, from a model, or resumed). */
  async step(step: number): Promise<LossTensors> {
    if (this.workers.length === 0) {
      const state = groupArrays(this.local.checkpointGroups());
      this.workers = Array.from({ length: this.replicas }, (_, index) => this.watch(startWorker({ config: this.config, index, buffer: this.buffer, backend: this.backend, threads: this.threads }), index));
      await this.all((w) => w.postMessage({ state }));
    }
    if (FAULT && existsSync(FAULT)) void this.workers.at(-1)!.terminate();
    const replies = await this.all((w) => w.postMessage({ step }));
    const { losses } = replies[0] as { losses: Record<string, number> };
    return Object.fromEntries(Object.entries(losses).map(([k, v]) => [k, tf.scalar(v)]));
  }

  async sync(): Promise<void> {
    if (this.workers.length === 0) return;
    const [reply] = await this.all((w, i) => i === 0 && w.postMessage({ save: true }), 1);
    assignGroups(this.local.checkpointGroups(), (reply as { state: GroupArrays }).state, 'replica 1');
  }

  async close(): Promise<void> {
    AllReduce.fail(this.buffer, 'the run ended');
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }

  /** Send to every worker (or the first `count`) and wait for each one's reply. */
  private all(send: (w: Worker, i: number) => unknown, count = this.workers.length): Promise<ReplicaReply[]> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject, replies: new Array(count).fill(undefined) };
      this.workers.forEach(send);
    });
  }

  private watch(w: Worker, index: number): Worker {
    w.on('message', (reply: ReplicaReply) => {
      const waiting = this.waiting;
      if (!waiting) return;
      waiting.replies[index] = reply;
      if (waiting.replies.every((r) => r !== undefined)) {
        this.waiting = undefined;
        waiting.resolve(waiting.replies as ReplicaReply[]);
      }
    });
    const die = (why: string) => {
      if (this.failure) return;
      // Wake the replicas waiting for this one: they stop too.
      AllReduce.fail(this.buffer, `training thread ${index + 1} of ${this.replicas} ${why}`);
      this.failure = new UserError(`${AllReduce.failure(this.buffer)}; the last checkpoint is kept: continue with --resume`, 1);
      this.waiting?.reject(this.failure);
      this.waiting = undefined;
    };
    w.on('error', (e) => die(`failed: ${e.message.split('\n')[0]}`));
    w.on('exit', (code) => die(`stopped (exit code ${code})`));
    return w;
  }
}

/**
 * `config` on `replicas` data-parallel replicas (unchanged when not given). One replica is the
 * config without the field, so that its checkpoints resume either way.
 */
export const withReplicas = (config: TrainConfig, replicas?: number): TrainConfig =>
  replicas === undefined ? config : { ...config, replicas: replicas > 1 ? replicas : undefined };

/**
 * The trainer for a config: one in this thread, or `config.replicas` data-parallel ones on worker
 * threads with `threads` wasm threads each.
 */
export function createTrainer(config: TrainConfig, source: FrameSource, o: { backend?: BackendName; threads?: number } = {}): Trainer {
  const replicas = config.replicas ?? 1;
  if (replicas === 1) return TRAINERS[config.model.kind](config, source);
  const backend = o.backend ?? (tf.getBackend() as BackendName);
  checkReplicas(config, backend);
  return new ParallelTrainer(config, source, replicas, backend, o.threads ?? 1);
}

/** A replica count the config and backend allow, or a UserError. */
export function checkReplicas(config: TrainConfig, backend: BackendName): void {
  const replicas = config.replicas ?? 1;
  if (replicas === 1) return;
  if (backend === 'webgpu') throw new UserError('--replicas splits a batch over CPU threads (wasm, cpu backends), not over a GPU');
  if (replicas > config.batch) throw new UserError(`--replicas ${replicas} cannot split a batch of ${config.batch}`);
}
