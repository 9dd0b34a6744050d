import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mnistDigits } from '../src/data/mnist.ts';
import {
  CANVAS,
  DIGIT,
  MAX_POS,
  MAX_STEP,
  movingMnistBatch,
  movingMnistTrajectory,
  resizeDigit,
  resizedDigit,
  type MovingMnistOptions,
} from '../src/data/moving-mnist.ts';

const FRAME = CANVAS * CANVAS;
const bytes = (data: Float32Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

test('the same seed gives the same bytes, another seed or split different ones', () => {
  for (const mode of ['paper', 'bounce'] as const) {
    const opts: MovingMnistOptions = { split: 'train', seed: 7, frames: 5, mode };
    const a = movingMnistBatch(opts, 0, 4);
    const b = movingMnistBatch(opts, 0, 4);
    assert.deepEqual(bytes(a.data), bytes(b.data));
    assert.deepEqual(a.labels, b.labels);
    assert.notDeepEqual(bytes(movingMnistBatch({ ...opts, seed: 8 }, 0, 4).data), bytes(a.data));
    assert.notDeepEqual(bytes(movingMnistBatch({ ...opts, split: 'test' }, 0, 4).data), bytes(a.data));
  }
});

test('a sequence depends only on its index, not on the batch it is generated in', () => {
  const opts: MovingMnistOptions = { split: 'test', seed: 3, frames: 4 };
  const whole = movingMnistBatch(opts, 0, 6);
  const part = movingMnistBatch(opts, 2, 3);
  const size = 4 * FRAME;
  assert.deepEqual(bytes(part.data), bytes(whole.data.subarray(2 * size, 5 * size)));
  assert.deepEqual(part.labels, whole.labels.subarray(2, 5));
});

test('batches have shape [B, T, 64, 64, 1], values in [0, 1] and the first digit label', () => {
  for (const digits of [1, 3]) {
    const opts: MovingMnistOptions = { split: 'train', seed: 1, frames: 6, digits };
    const batch = movingMnistBatch(opts, 10, 5);
    assert.deepEqual(batch.shape, [5, 6, 64, 64, 1]);
    assert.equal(batch.data.length, 5 * 6 * FRAME);
    let max = 0;
    for (const v of batch.data) {
      assert.ok(v >= 0 && v <= 1, `pixel ${v} out of range`);
      if (v > max) max = v;
    }
    assert.ok(max > 0.9);
    for (let b = 0; b < 5; b++) {
      const first = movingMnistTrajectory(opts, 10 + b).digitIndex[0]!;
      assert.equal(batch.labels[b], mnistDigits('train').labels[first]);
    }
  }
});

test('paper mode moves at most 4 px per axis per frame, covers the whole step range and stays inside the canvas', () => {
  const opts: MovingMnistOptions = { split: 'train', seed: 11, frames: 20 };
  const steps = new Set<number>();
  for (let i = 0; i < 300; i++) {
    const { x, y } = movingMnistTrajectory(opts, i);
    for (let t = 0; t < 20; t++) {
      for (const p of [x[t]!, y[t]!]) assert.ok(p >= 0 && p <= MAX_POS, `position ${p} leaves the canvas`);
      if (t === 0) continue;
      for (const d of [x[t]! - x[t - 1]!, y[t]! - y[t - 1]!]) {
        assert.ok(Math.abs(d) <= MAX_STEP, `step ${d} larger than ${MAX_STEP}`);
        steps.add(d);
      }
    }
  }
  assert.deepEqual([...steps].sort((a, b) => a - b), [-4, -3, -2, -1, 0, 1, 2, 3, 4]);
});

test('every frame shows the whole resized digit at its trajectory position', () => {
  for (const mode of ['paper', 'bounce'] as const) {
    const opts: MovingMnistOptions = { split: 'test', seed: 5, frames: 12, mode };
    const batch = movingMnistBatch(opts, 0, 20);
    for (let b = 0; b < 20; b++) {
      const traj = movingMnistTrajectory(opts, b);
      const digit = resizedDigit('test', traj.digitIndex[0]!);
      const digitMass = digit.reduce((s, v) => s + v, 0);
      for (let t = 0; t < 12; t++) {
        const frame = batch.data.subarray((b * 12 + t) * FRAME, (b * 12 + t + 1) * FRAME);
        // Nothing is cut off at the border: the frame's mass is the digit's mass.
        assert.ok(Math.abs(frame.reduce((s, v) => s + v, 0) - digitMass) < 1e-3);
        const [x, y] = [traj.x[t]!, traj.y[t]!];
        for (const [r, c] of [[0, 0], [DIGIT / 2, DIGIT / 2], [DIGIT - 1, 7]] as const) {
          assert.equal(frame[(y + r) * CANVAS + x + c], digit[r * DIGIT + c]);
        }
      }
    }
  }
});

test('bounce mode keeps a constant speed between walls and stays inside the canvas', () => {
  const opts: MovingMnistOptions = { split: 'train', seed: 2, frames: 30, mode: 'bounce' };
  let reflections = 0;
  for (let i = 0; i < 100; i++) {
    const { x, y } = movingMnistTrajectory(opts, i);
    for (const p of [...x, ...y]) assert.ok(p >= 0 && p <= MAX_POS);
    for (const axis of [x, y]) {
      for (let t = 2; t < 30; t++) {
        const [p0, p1, p2] = [axis[t - 2]!, axis[t - 1]!, axis[t]!];
        const nearWall = [p0, p1, p2].some((p) => p <= MAX_STEP || p >= MAX_POS - MAX_STEP);
        const [d1, d2] = [p1 - p0, p2 - p1];
        if (Math.sign(d1) * Math.sign(d2) < 0) {
          reflections++;
          assert.ok(nearWall, `direction reversed at ${p1}, away from the walls`);
        } else if (!nearWall) {
          assert.ok(Math.abs(d2 - d1) <= 1, `speed changed from ${d1} to ${d2} away from the walls`);
        }
      }
    }
  }
  assert.ok(reflections > 0, 'some digits hit a wall');
});

test('several digits overlap with pixels clipped at 1', () => {
  const batch = movingMnistBatch({ split: 'train', seed: 0, frames: 10, digits: 4 }, 0, 8);
  assert.ok(batch.data.some((v) => v === 1), 'some pixels saturate');
  assert.ok(batch.data.every((v) => v <= 1));
});

test('bilinear resize keeps constant images constant and ramps monotone', () => {
  const flat = resizeDigit(new Float32Array(28 * 28).fill(0.7));
  assert.equal(flat.length, 32 * 32);
  for (const v of flat) assert.ok(Math.abs(v - 0.7) < 1e-6);
  const ramp = resizeDigit(Float32Array.from({ length: 28 * 28 }, (_, i) => (i % 28) / 27));
  for (let c = 1; c < 32; c++) assert.ok(ramp[5 * 32 + c]! > ramp[5 * 32 + c - 1]!);
  assert.equal(ramp[0], 0);
  assert.ok(Math.abs(ramp[31]! - 1) < 1e-6);
});

test('invalid options are rejected with a message naming the option', () => {
  assert.throws(() => movingMnistBatch({ split: 'train', seed: 0, frames: 0 }, 0, 1), /frames/);
  assert.throws(() => movingMnistBatch({ split: 'train', seed: 0.5, frames: 2 }, 0, 1), /seed/);
  assert.throws(() => movingMnistBatch({ split: 'train', seed: 0, frames: 2, digits: 0 }, 0, 1), /digits/);
  assert.throws(() => movingMnistBatch({ split: 'train', seed: 0, frames: 2 }, -1, 1), /start/);
});

test('generation speed is printed (requirement: 10,000 frames/s)', (t) => {
  const opts: MovingMnistOptions = { split: 'train', seed: 0, frames: 20 };
  movingMnistBatch(opts, 0, 1);
  const t0 = performance.now();
  const batch = movingMnistBatch(opts, 0, 250);
  const seconds = (performance.now() - t0) / 1000;
  t.diagnostic(`moving-mnist paper: ${Math.round((250 * 20) / seconds)} frames/s`);
  assert.equal(batch.data.length, 250 * 20 * FRAME);
});
