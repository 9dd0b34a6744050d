import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MNIST_SIZE, mnistDigits } from '../src/data/mnist.ts';

const key = (image: Float32Array) => Buffer.from(image.buffer, image.byteOffset, image.byteLength).toString('base64');

test('MNIST splits hold all 10,000 digits and share no image', () => {
  const train = mnistDigits('train');
  const test = mnistDigits('test');
  assert.equal(train.images.length + test.images.length, 10_000);
  const trainKeys = new Set(train.images.map(key));
  assert.equal(trainKeys.size, train.images.length, 'the training split has no repeated image');
  for (const image of test.images) assert.ok(!trainKeys.has(key(image)), 'a test image also appears in the training split');
});

test('MNIST train split is 80% of every class', () => {
  const counts = (labels: Int32Array) => {
    const c = new Array<number>(10).fill(0);
    for (const l of labels) c[l]!++;
    return c;
  };
  const train = counts(mnistDigits('train').labels);
  const test = counts(mnistDigits('test').labels);
  for (let k = 0; k < 10; k++) {
    assert.ok(test[k]! > 0, `class ${k} has test digits`);
    assert.equal(train[k], Math.floor(0.8 * (train[k]! + test[k]!)), `class ${k}`);
  }
});

test('MNIST images are 28x28 with pixels in [0, 1] and labels in 0..9', () => {
  for (const split of ['train', 'test'] as const) {
    const { images, labels } = mnistDigits(split);
    assert.equal(images.length, labels.length);
    let max = 0;
    for (const image of images) {
      assert.equal(image.length, MNIST_SIZE * MNIST_SIZE);
      for (const v of image) {
        assert.ok(v >= 0 && v <= 1, `pixel ${v} out of range`);
        if (v > max) max = v;
      }
    }
    assert.ok(max > 0.9, 'digits have bright strokes');
    for (const l of labels) assert.ok(l >= 0 && l <= 9);
  }
});
