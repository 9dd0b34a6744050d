import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KTH_ACTIONS, loadKth } from '../src/data/kth.ts';
import { UserError } from '../src/errors.ts';
import { hasFfmpeg } from './support/tools.ts';

const FRAME = 64 * 64;
const skip = hasFfmpeg ? false : 'ffmpeg is not installed (apt-get install ffmpeg); the KTH loader needs it';

let dir = '';
/** The real files' size and rate. */
const KTH_LIKE = 'size=160x120:rate=25';

/** A KTH-named raw AVI from an ffmpeg lavfi test source. */
function makeAvi(name: string, source: string, seconds: number) {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-t', String(seconds), '-c:v', 'rawvideo', '-pix_fmt', 'yuv420p', join(dir, name)]);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rdpv-kth-'));
  if (!hasFfmpeg) return;
  makeAvi('person01_walking_d1_uncomp.avi', `testsrc=${KTH_LIKE}`, 1);
  mkdirSync(join(dir, 'boxing'));
  makeAvi('boxing/person02_boxing_d3_uncomp.avi', `testsrc2=${KTH_LIKE}`, 0.6);
  makeAvi('person21_running_d2_uncomp.avi', `color=c=white:${KTH_LIKE}`, 0.4);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (data: Float32Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

test('KTH round trip: a generated AVI loads as 64x64 grayscale clips of T frames', { skip }, async () => {
  const whole = await loadKth(dir, { split: 'train', actions: ['walking'], frames: 25 });
  assert.equal(whole.count, 1);
  const video = whole.batch(0, 1);
  assert.deepEqual(video.shape, [1, 25, 64, 64, 1]);
  assert.deepEqual([...video.labels], [KTH_ACTIONS.indexOf('walking')]);
  const frames = Array.from({ length: 25 }, (_, t) => bytes(video.data.subarray(t * FRAME, (t + 1) * FRAME)));
  assert.ok(video.data.every((v) => v >= 0 && v <= 1), 'values in [0, 1]');
  assert.ok(Math.max(...video.data) - Math.min(...video.data) > 0.5, 'the test pattern has contrast');
  assert.notDeepEqual(frames[0], frames[24], 'testsrc moves, so frames differ');

  // Each 10-frame clip is a contiguous window of the decoded video.
  const clips = await loadKth(dir, { split: 'train', actions: ['walking'], frames: 10, seed: 4 });
  const batch = clips.batch(0, 6);
  const starts = new Set<number>();
  for (let b = 0; b < 6; b++) {
    const first = bytes(batch.data.subarray(b * 10 * FRAME, (b * 10 + 1) * FRAME));
    const s = frames.findIndex((f) => f.equals(first));
    assert.ok(s >= 0 && s <= 15, `clip ${b} starts at a frame of the video`);
    starts.add(s);
    for (let t = 0; t < 10; t++) {
      assert.ok(bytes(batch.data.subarray((b * 10 + t) * FRAME, (b * 10 + t + 1) * FRAME)).equals(frames[s + t]!));
    }
  }
  assert.ok(starts.size > 1, 'clip starts are sampled, not fixed');
});

test('KTH splits by person: 1-20 train, 21-25 test', { skip }, async () => {
  const train = await loadKth(dir, { split: 'train', frames: 10 });
  assert.equal(train.count, 2);
  const labels = new Set(train.batch(0, 2).labels);
  assert.deepEqual([...labels].sort(), [KTH_ACTIONS.indexOf('boxing'), KTH_ACTIONS.indexOf('walking')].sort());
  const test = await loadKth(dir, { split: 'test', frames: 10 });
  assert.equal(test.count, 1);
  const batch = test.batch(0, 2);
  assert.deepEqual([...batch.labels], [KTH_ACTIONS.indexOf('running'), KTH_ACTIONS.indexOf('running')]);
  assert.ok(batch.data.every((v) => v > 0.95), 'a white video decodes to white');
});

test('KTH same seed same bytes; every count consecutive indices cover each video once', { skip }, async () => {
  const a = await loadKth(dir, { split: 'train', frames: 8, seed: 9 });
  const b = await loadKth(dir, { split: 'train', frames: 8, seed: 9 });
  assert.deepEqual(bytes(a.batch(0, 6).data), bytes(b.batch(0, 6).data));
  assert.deepEqual(bytes(a.batch(3, 2).data), bytes(b.batch(0, 6).data.subarray(3 * 8 * FRAME, 5 * 8 * FRAME)));
  for (let epoch = 0; epoch < 4; epoch++) {
    assert.deepEqual([...a.batch(epoch * 2, 2).labels].sort(), [0, 5], `epoch ${epoch}`);
  }
});

test('KTH decodes once: later loads read the cache without running ffmpeg', { skip }, async () => {
  const cacheDir = join(dir, 'cache-test');
  const first = await loadKth(dir, { split: 'train', frames: 5, cacheDir });
  assert.equal(readdirSync(cacheDir).length, 2);
  const path = process.env.PATH;
  process.env.PATH = join(dir, 'no-such-bin'); // ffmpeg cannot be found now
  try {
    await assert.rejects(loadKth(dir, { split: 'test', frames: 5, cacheDir }), /ffmpeg not found/);
    const second = await loadKth(dir, { split: 'train', frames: 5, cacheDir });
    assert.deepEqual(bytes(second.batch(0, 4).data), bytes(first.batch(0, 4).data));
  } finally {
    process.env.PATH = path;
  }
});

const namesPath = (path: string, pattern = /./) => (e: Error) => e instanceof UserError && e.message.includes(path) && pattern.test(e.message) && !e.message.includes('\n');

test('KTH missing folder or folder without AVI files gives a UserError naming the path', async () => {
  const missing = join(dir, 'missing');
  await assert.rejects(loadKth(missing, { split: 'train', frames: 4 }), namesPath(missing, /KTH folder not found/));
  const empty = mkdtempSync(join(tmpdir(), 'rdpv-kth-empty-'));
  try {
    writeFileSync(join(empty, 'notes.txt'), 'no videos here');
    await assert.rejects(loadKth(empty, { split: 'train', frames: 4 }), namesPath(empty, /no KTH AVI files/));
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('KTH corrupt file, unknown action or too few frames give one-line UserErrors', { skip }, async () => {
  const bad = mkdtempSync(join(tmpdir(), 'rdpv-kth-bad-'));
  try {
    const corrupt = join(bad, 'person03_jogging_d1_uncomp.avi');
    writeFileSync(corrupt, Buffer.from('RIFF this is not a video'));
    await assert.rejects(loadKth(bad, { split: 'train', frames: 4 }), namesPath(corrupt, /cannot decode/));
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
  await assert.rejects(loadKth(dir, { split: 'train', frames: 4, actions: ['dancing'] }), /unknown KTH action 'dancing'/);
  await assert.rejects(loadKth(dir, { split: 'train', frames: 1000 }), namesPath(dir, /has 1000 frames/));
});
