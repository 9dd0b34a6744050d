// The wasm backend's threaded SIMD build (XNNPACK on a pthreadpool) in Node. The package
// ships it, but as shipped it cannot start in Node, for four reasons:
// 1. flags_wasm.ts answers WASM_HAS_MULTITHREAD_SUPPORT = false whenever IS_NODE, so the
//    backend picks the single-threaded SIMD binary;
// 2. forced on, the emscripten glue fills its pool of 8 pthread workers with
//    `new Worker(locateFile('tfjs-backend-wasm-threaded-simd.worker.js'))`, and the
//    backend's locateFile answers a blob: URL, which worker_threads rejects (ERR_WORKER_PATH);
// 3. each worker is then told to importScripts() the main glue from a Blob of the bundle's
//    rewritten factory, which Node cannot read synchronously and whose free variables
//    (require$$0, commonjsGlobal, tslib helpers) exist only inside the bundle;
// 4. backend.cc caps the pool at emscripten_num_logical_cores() / 2, which is
//    os.cpus().length / 2 in Node (and at 8): on a 2-core machine every request gives 1.
// So, for the one call that creates the backend: the flag is set, os.cpus() reports
// 2 * threads, and the global `Worker` the glue constructs is our adapter, which runs the
// shipped worker script on worker_threads and points it at the shipped standalone glue
// (wasm-out/). node_modules is not modified and nothing is fetched.
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker as NodeWorker, type TransferListItem } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

/** backend.cc caps XNNPACK's pool at 8 threads (the glue's pool of workers is 8 too). */
export const MAX_WASM_THREADS = 8;

const require = createRequire(import.meta.url);
const wasmOut = (file: string) => require.resolve(`@tensorflow/tfjs-backend-wasm/wasm-out/${file}`);
/** The standalone emscripten glue of the threaded build: a plain script each worker evaluates. */
const mainGlue = wasmOut('tfjs-backend-wasm-threaded-simd.js');
/** emscripten's pthread worker script, exported as a string from a template literal. */
const { wasmWorkerContents } = require(wasmOut('tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
// The template literal turned its `\n` escapes into raw newlines inside string literals; put
// them back (the backend does the same before making its Blob).
const workerScript = wasmWorkerContents.replace(/\n/g, '\\n');

type Message = { cmd?: string } | undefined;

/**
 * A pthread worker that dies (an uncaught error, a wasm trap, a kill) leaves the main thread
 * blocked in the pthreadpool forever, and a blocked thread runs no event handlers. So the pthread
 * workers are owned by a supervisor thread that only relays messages: it sees a death, says so on
 * stderr and kills the process. Files are written atomically, so a checkpoint or an output is
 * whole or absent, and a training run continues with --resume.
 * RDPV_FAULT_KILL_WASM_THREAD_WHEN=PATH (tests): the first pthread worker is terminated once PATH exists.
 */
const SUPERVISOR = `
const { parentPort, workerData, Worker } = require('node:worker_threads');
const { existsSync, writeSync } = require('node:fs');
const { script, closing, faultFile } = workerData;
const exiting = new Int32Array(closing);
const threads = new Map();
const ending = new Set();
parentPort.on('message', ({ id, message, transfer, terminate }) => {
  if (terminate) {
    ending.add(id);
    threads.get(id)?.terminate();
    return;
  }
  (threads.get(id) ?? start(id)).postMessage(message, transfer);
});
function start(id) {
  const t = new Worker(script, { eval: true, execArgv: [] });
  t.on('message', (message) => parentPort.postMessage({ id, message }));
  t.on('error', (e) => died((e && e.message) || String(e)));
  t.on('exit', (code) => { if (!ending.has(id)) died('exit code ' + code); });
  threads.set(id, t);
  if (faultFile && threads.size === 1) {
    const poll = setInterval(() => existsSync(faultFile) && (clearInterval(poll), t.terminate()), 20);
  }
  return t;
}
function died(why) {
  if (Atomics.load(exiting, 0) !== 0) return;
  writeSync(2, 'rdpv: a wasm worker thread died (' + why + '); the process stops, since the work waiting on it can never finish. ' +
    'Files are written atomically: checkpoints and outputs are whole or absent; a training run continues with --resume.\\n');
  process.kill(process.pid, 'SIGKILL');
}
`;

type Envelope = { id: number; message?: Message; transfer?: readonly TransferListItem[]; terminate?: true };

/** The supervisor of this process's pthread workers and the adapters they answer to. */
let supervisor: { thread: NodeWorker; adapters: Map<number, PthreadWorker> } | undefined;

function startSupervisor(): NonNullable<typeof supervisor> {
  if (supervisor) return supervisor;
  const closing = new SharedArrayBuffer(4);
  const faultFile = process.env.RDPV_FAULT_KILL_WASM_THREAD_WHEN;
  const thread = new NodeWorker(SUPERVISOR, { eval: true, execArgv: [], workerData: { script: workerScript, closing, faultFile } });
  const adapters = new Map<number, PthreadWorker>();
  thread.on('message', ({ id, message }: Envelope) => adapters.get(id)?.deliver(message));
  // pthreadpool's threads live as long as the process; they must not keep it from exiting, nor
  // their end at exit read as a death.
  thread.unref();
  process.on('exit', () => Atomics.store(new Int32Array(closing), 0, 1));
  return (supervisor = { thread, adapters });
}

/**
 * A pthread worker as the glue expects it; the thread itself runs under the supervisor. The glue
 * pre-spawns 8 and waits for each to load the module; XNNPACK uses threads - 1 of them. So the
 * thread is started only when the glue first runs a pthread on it, and 'loaded' is answered here.
 */
class PthreadWorker extends EventEmitter {
  private static count = 0;
  private readonly id = PthreadWorker.count++;
  private readonly sup = startSupervisor();
  private load: Message;
  private started = false;
  private loaded = false;

  constructor() {
    super();
    this.sup.adapters.set(this.id, this);
  }

  postMessage(message: Message, transfer: readonly TransferListItem[] = []): void {
    if (!this.started && message?.cmd === 'load') {
      // The load message carries the glue as a Blob of bundle code: send the standalone glue's path.
      this.load = { ...message, urlOrBlob: mainGlue } as Message;
      setImmediate(() => this.emit('message', { cmd: 'loaded' }));
      return;
    }
    if (!this.started) this.send({ id: this.id, message: this.load });
    this.started = true;
    this.send({ id: this.id, message, transfer }, transfer);
  }

  deliver(message: Message): void {
    if (!this.loaded && message?.cmd === 'loaded') this.loaded = true; // already answered
    else this.emit('message', message);
  }

  private send(envelope: Envelope, transfer: readonly TransferListItem[] = []): void {
    this.sup.thread.postMessage(envelope, transfer);
  }

  // The glue refs a worker while it runs a pthread; the main thread blocks on their work anyway.
  ref(): void {}
  unref(): void {}

  terminate(): Promise<number> {
    this.send({ id: this.id, terminate: true });
    return Promise.resolve(0);
  }
}

/** Threads of the initialised wasm backend, or undefined before it exists. */
export function wasmThreadsInUse(): number | undefined {
  try {
    return getThreadsCount();
  } catch {
    return undefined; // "WASM backend not initialized."
  }
}

/**
 * Creates the wasm backend on the threaded SIMD build with `threads` threads (2..8) and
 * makes it current. Call before anything else initialises the wasm backend.
 */
export async function setWasmThreadedBackend(threads: number): Promise<void> {
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) {
    throw new Error(`wasm threads must be an integer in [2, ${MAX_WASM_THREADS}], got ${threads}`);
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  const cpus = os.cpus;
  const cpu = cpus()[0];
  const worker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  // The glue assigns globalThis.Worker = worker_threads.Worker itself; keep ours in place.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PthreadWorker, set: () => {} });
  os.cpus = () => Array.from({ length: 2 * threads }, () => cpu);
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs backend wasm (threaded SIMD) failed to initialise');
  } finally {
    os.cpus = cpus;
    if (worker === undefined) delete (globalThis as { Worker?: unknown }).Worker;
    else Object.defineProperty(globalThis, 'Worker', worker);
  }
  const got = getThreadsCount();
  if (got !== threads) throw new Error(`wasm backend started ${got} threads, asked for ${threads}`);
}
