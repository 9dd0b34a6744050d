/**
 * Data-parallel training: a trainer's share of each batch, and the all-reduce that makes the
 * replicas' updates one. Every batch mean (a loss, a gradient, a BatchNorm statistic) of the whole
 * batch is the replicas' means weighted by their row counts, so each replica scales its values by
 * n / batch and the reduce sums them in replica order: the same bits reach every replica, and their
 * weights, optimizer moments and running statistics stay identical without ever being sent.
 */
import { tf } from '../engine/index.ts';

export interface Replica {
  index: number;
  count: number;
  /** The weighted sum over the replicas of each tensor (the identity for one replica). */
  reduce(ts: tf.Tensor[]): tf.Tensor[];
}

/** The whole batch in one trainer: today's single-process path, bit for bit. */
export const WHOLE: Replica = { index: 0, count: 1, reduce: (ts) => ts };

/** Rows [lo, lo + n) of a batch of `batch` rows: replicas differ by at most one row. */
export function replicaRows(batch: number, index: number, count: number): { lo: number; n: number } {
  const lo = Math.floor((index * batch) / count);
  return { lo, n: Math.floor(((index + 1) * batch) / count) - lo };
}

/** Where step `step`'s rows for this replica start in the training sequences, and how many. */
export function stepRows(replica: Pick<Replica, 'index' | 'count'>, batch: number, step: number): { start: number; n: number } {
  const { lo, n } = replicaRows(batch, replica.index, replica.count);
  return { start: step * batch + lo, n };
}

/**
 * A replica's rows of a batch of random draws, `width` per row: the whole batch is drawn, so every
 * replica count sees the same numbers as the single-process run in the same rows.
 */
export function drawRows(replica: Pick<Replica, 'index' | 'count'>, batch: number, width: number, draw: () => number): Float32Array {
  const all = Float32Array.from({ length: batch * width }, draw);
  if (replica.count === 1) return all;
  const { lo, n } = replicaRows(batch, replica.index, replica.count);
  return all.subarray(lo * width, (lo + n) * width);
}

// The shared buffer: control words, an error message, then one slot per replica and the result.
const GEN = 0;
const ARRIVED = 1;
const FAILED = 2;
const MESSAGE_LENGTH = 3;
const CONTROL_BYTES = 16;
const MESSAGE_BYTES = 1024;
const HEADER_BYTES = CONTROL_BYTES + MESSAGE_BYTES;

/** The buffer `count` replicas share, with slots of `slot` floats (larger inputs are reduced in chunks of that size). */
export function allReduceBuffer(count: number, slot: number): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + (count + 1) * slot * 4);
}

/** Raised in every replica once one has failed; its message is the failed replica's. */
export class ReplicaFailure extends Error {}

/**
 * One replica's end of an all-reduce over worker threads. Each round: write the weighted chunk to
 * this replica's slot; barrier; sum this replica's part of the chunk over the slots, in replica order,
 * into the result; barrier; read the result. Barriers wait in short slices and give up as soon as
 * any replica (or the coordinator, which sees a thread die) marks the buffer failed: never a hang.
 */
export class AllReduce {
  private readonly control: Int32Array;
  private readonly slots: Float32Array[];
  private readonly result: Float32Array;
  private readonly slot: number;

  constructor(private readonly buffer: SharedArrayBuffer, readonly index: number, readonly count: number, private readonly weight: number) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    const slot = (this.slot = (buffer.byteLength - HEADER_BYTES) / 4 / (count + 1));
    this.slots = Array.from({ length: count }, (_, k) => new Float32Array(buffer, HEADER_BYTES + k * slot * 4, slot));
    this.result = new Float32Array(buffer, HEADER_BYTES + count * slot * 4, slot);
  }

  reduce(ts: tf.Tensor[]): tf.Tensor[] {
    const ins = ts.map((t) => t.dataSync() as Float32Array);
    const outs = ins.map((a) => new Float32Array(a.length));
    this.reduceArrays(ins, outs);
    return ts.map((t, i) => tf.tensor(outs[i]!, t.shape));
  }

  /** `outs` (shaped as `ins`, which may be the same arrays) receive the weighted sums of `ins` over the replicas, read as one run. */
  reduceArrays(ins: Float32Array[], outs: Float32Array[]): void {
    const total = ins.reduce((n, a) => n + a.length, 0);
    const mine = this.slots[this.index]!;
    const w = this.weight;
    for (let off = 0; off < total; off += this.slot) {
      const len = Math.min(this.slot, total - off);
      overlaps(ins, off, len, (src, from, at, n) => {
        for (let i = 0; i < n; i++) mine[at + i] = src[from + i]! * w;
      });
      this.barrier();
      const { lo, n } = replicaRows(len, this.index, this.count);
      for (let i = lo; i < lo + n; i++) {
        let sum = 0;
        for (const slot of this.slots) sum += slot[i]!;
        this.result[i] = sum;
      }
      this.barrier();
      overlaps(outs, off, len, (dst, from, at, n) => dst.set(this.result.subarray(at, at + n), from));
    }
  }

  /** Mark the reduce failed (by replica `index`, with `message`) and wake every waiting replica. */
  static fail(buffer: SharedArrayBuffer, message: string): void {
    const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    if (Atomics.compareExchange(control, FAILED, 0, 1) !== 0) return;
    const bytes = new TextEncoder().encode(message).subarray(0, MESSAGE_BYTES);
    new Uint8Array(buffer, CONTROL_BYTES, MESSAGE_BYTES).set(bytes);
    Atomics.store(control, MESSAGE_LENGTH, bytes.length);
    Atomics.add(control, GEN, 1);
    Atomics.notify(control, GEN);
  }

  /** The first failure's message, or undefined. */
  static failure(buffer: SharedArrayBuffer): string | undefined {
    const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    if (Atomics.load(control, FAILED) === 0) return undefined;
    const bytes = new Uint8Array(buffer, CONTROL_BYTES, Atomics.load(control, MESSAGE_LENGTH));
    return new TextDecoder().decode(bytes.slice());
  }

  private barrier(): void {
    const c = this.control;
    const gen = Atomics.load(c, GEN);
    this.check();
    if (Atomics.add(c, ARRIVED, 1) === this.count - 1) {
      Atomics.store(c, ARRIVED, 0);
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
    } else {
      while (Atomics.load(c, GEN) === gen) Atomics.wait(c, GEN, gen, 250);
    }
    this.check();
  }

  private check(): void {
    const failure = AllReduce.failure(this.buffer);
    if (failure !== undefined) throw new ReplicaFailure(failure);
  }
}

/** For each array's part of [off, off + len) of the arrays read as one run: (array, its start, the position in the run minus off, count). */
function overlaps(arrays: Float32Array[], off: number, len: number, each: (a: Float32Array, from: number, at: number, n: number) => void): void {
  let start = 0;
  for (const a of arrays) {
    const lo = Math.max(off, start);
    const hi = Math.min(off + len, start + a.length);
    if (lo < hi) each(a, lo - start, lo - off, hi - lo);
    start += a.length;
  }
}
