// One replica of test/train-replicas.test.ts: reduces its own deterministic numbers (or gives up first).
import { parentPort, workerData } from 'node:worker_threads';
import { AllReduce } from '../../src/train/replica.ts';

const { buffer, index, count, weight, length, failing } = workerData as { buffer: SharedArrayBuffer; index: number; count: number; weight: number; length: number; failing?: number };
const flat = Float32Array.from({ length }, (_, i) => Math.sin(0.001 * i * (index + 1)) + index);
try {
  if (failing === index) AllReduce.fail(buffer, `replica ${index + 1} gave up`);
  // Three arrays read as one run, their borders off the chunk borders.
  const parts = [flat.subarray(0, 700), flat.subarray(700, 1800), flat.subarray(1800)];
  const outs = parts.map((p) => new Float32Array(p.length));
  new AllReduce(buffer, index, count, weight).reduceArrays(parts, outs);
  parentPort!.postMessage({ flat: Float32Array.from(outs.flatMap((o) => [...o])) });
} catch (e) {
  parentPort!.postMessage({ error: (e as Error).message });
}
