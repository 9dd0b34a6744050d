import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { runCli } from './run-cli.ts';


function withTempDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rdpv-data-cli-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('data preview writes a PNG grid with a row per sequence and a column per frame', withTempDir(async (dir) => {
  const file = join(dir, 'grid.png');
  const r = await runCli(['data', 'preview', '--dataset', 'moving-mnist', '--count', '3', '--frames', '4', '--seed', '2', '-o', file]);
  assert.equal(r.code, 0, r.err.join('\n'));
  const png = PNG.sync.read(readFileSync(file));
  // 64-pixel tiles with 2-pixel gaps.
  assert.equal(png.width, 4 * 66 - 2);
  assert.equal(png.height, 3 * 66 - 2);
  const tileMax = (row: number, col: number) => {
    let max = 0;
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) max = Math.max(max, png.data[4 * ((row * 66 + y) * png.width + col * 66 + x)]!);
    return max;
  };
  for (let row = 0; row < 3; row++) for (let col = 0; col < 4; col++) assert.ok(tileMax(row, col) > 200, `tile ${row},${col} shows a digit`);
}));

test('data preview is deterministic for a seed', withTempDir(async (dir) => {
  const args = (name: string, seed: string) => ['data', 'preview', '--mode', 'bounce', '--count', '2', '--frames', '3', '--seed', seed, '-o', join(dir, name)];
  for (const [name, seed] of [['a.png', '5'], ['b.png', '5'], ['c.png', '6']] as const) assert.equal((await runCli(args(name, seed))).code, 0);
  const read = (name: string) => readFileSync(join(dir, name));
  assert.ok(read('a.png').equals(read('b.png')));
  assert.ok(!read('a.png').equals(read('c.png')));
}));

test('data preview -o out.gif writes an animated GIF', withTempDir(async (dir) => {
  const file = join(dir, 'anim.gif');
  assert.equal((await runCli(['data', 'preview', '--count', '2', '--frames', '5', '-o', file])).code, 0);
  const gif = readFileSync(file);
  assert.equal(gif.subarray(0, 6).toString('latin1'), 'GIF89a');
  assert.equal(gif.readUInt16LE(6), 2 * 66 - 2, 'logical screen width');
  assert.equal(gif.readUInt16LE(8), 64, 'logical screen height');
  // One image descriptor (0x2c) after each graphic control extension (0x21 0xf9): one per frame.
  let frames = 0;
  for (let i = 0; i + 1 < gif.length; i++) if (gif[i] === 0x21 && gif[i + 1] === 0xf9 && gif[i + 8] === 0x2c) frames++;
  assert.equal(frames, 5);
}));

test('data bench prints a frames/s figure', async () => {
  const r = await runCli(['data', 'bench', '--sequences', '50', '--frames', '4']);
  assert.equal(r.code, 0);
  assert.match(r.out.join('\n'), /^moving-mnist paper: 200 frames in [\d.]+ s = \d+ frames\/s$/);
});

test('data CLI errors exit 2 with one line naming the problem', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['data', 'preview', '--bogus', '-o', 'x.png'], /Unknown option '--bogus'/],
    [['data', 'preview', '--count', 'many', '-o', 'x.png'], /--count/],
    [['data', 'preview', '--mode', 'zigzag', '-o', 'x.png'], /--mode must be one of paper, bounce/],
    [['data', 'preview', '-o', 'x.jpg'], /\.png or \.gif/],
    [['data', 'preview', '--count', '2'], /missing -o/],
    [['data', 'preview', '--dataset', 'kth', '-o', 'x.png'], /--kth-dir/],
    [['data', 'preview', '--dataset', 'kth', '--kth-dir', '/no/such/kth', '-o', 'x.png'], /KTH folder not found: \/no\/such\/kth/],
    [['data', 'preview', '-o', '/dev/null/x.png'], /cannot write '\/dev\/null\/x\.png': '\/dev\/null' exists and is not a folder/],
    [['data', 'shuffle'], /unknown subcommand 'shuffle'/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.err.length, 1, argv.join(' '));
    assert.ok(!r.err[0]!.includes('\n'), 'one line');
    assert.match(r.err[0]!, message);
  }
});
