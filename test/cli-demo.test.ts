import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readRdpv } from '../src/codec/container.ts';
import { movingMnistBatch } from '../src/data/moving-mnist.ts';
import { initEngine } from '../src/engine/index.ts';
import { encodeModelFile } from '../src/models/model-file.ts';
import { folderStore } from '../src/models/weights-io.ts';
import { zooManifest } from '../src/models/zoo.ts';
import { decompress } from '../src/video/codec.ts';
import { runCli } from './run-cli.ts';
import { tinyGopModel } from './support/tiny.ts';

await initEngine();

/** Frames of an animated GIF: one graphic control extension (0x21 0xF9 0x04) per frame. */
function gifFrames(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0x21 && bytes[i + 1] === 0xf9 && bytes[i + 2] === 0x04) n++;
  return n;
}

const perPixel = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length;

test('the demo on the shipped default model writes a file of that model, a GIF and a PNG, and prints each decoder\'s distortion', async () => {
  const entry = (await zooManifest(folderStore())).find((e) => e.default)!;
  const out = mkdtempSync(join(tmpdir(), 'rdpv-demo-'));
  const { code, out: lines } = await runCli(['demo', '--count', '2', '--out', out]);
  assert.equal(code, 0);
  const { header } = readRdpv(readFileSync(join(out, 'demo.rdpv')));
  assert.equal(header.weightsSha256, entry.sha256);
  assert.equal(header.modelId, entry.name);
  assert.equal(gifFrames(readFileSync(join(out, 'demo.gif'))), header.gop);
  PNG.sync.read(readFileSync(join(out, 'demo.png')));
  for (const name of ['MMSE', '0-PLF-FMD']) assert.ok(lines.some((l) => new RegExp(`^${name}\\s+0\\.\\d{5}, [0-2]/2`).test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('What to expect: at 12 bits')), 'says what to expect');
});

test('the demo on a GOP-3 model prints every decoder\'s per-frame distortion of the decoded file, names the clips whose wrong first digit stays, and animates the three frames', async () => {
  const lm = await tinyGopModel(3);
  const dir = mkdtempSync(join(tmpdir(), 'rdpv-demo-gop-'));
  const file = join(dir, 'tiny-gop.safetensors');
  writeFileSync(file, encodeModelFile(lm.model, 'tiny-gop-3'));
  const out = join(dir, 'out');
  const { code, out: lines } = await runCli(['demo', '--model', file, '--count', '3', '--seed', '4', '--out', out]);
  assert.equal(code, 0, lines.join('\n'));
  const bytes = readFileSync(join(out, 'demo.rdpv'));
  assert.equal(readRdpv(bytes).header.gop, 3);
  const source = movingMnistBatch({ split: 'test', seed: 4, frames: 3 }, 0, 3).data;
  const per = 64 * 64;
  for (const [name, title] of [['mmse', 'MMSE'], ['fmd', '0-PLF-FMD'], ['jd', '0-PLF-JD']] as const) {
    const { frames } = await decompress(lm, bytes, name);
    const want = [0, 1, 2].map((t) => {
      const pick = (a: Float32Array) => Float32Array.from({ length: 3 * per }, (_, i) => a[(Math.floor(i / per) * 3 + t) * per + (i % per)]!);
      return perPixel(pick(frames), pick(source)).toFixed(5);
    });
    const line = lines.find((l) => l.startsWith(`${title} `));
    assert.ok(line, `a line for ${title}: ${lines.join('\n')}`);
    assert.deepEqual([...line.matchAll(/(\d\.\d{5}), \d\/3/g)].map((m) => m[1]), want, line);
  }
  // Untrained decoders read as wrong digits: the demo names each clip and what JD and FMD show.
  const clips = lines.filter((l) => /^clip \d \(a \d\): 0-PLF-JD shows \d, \d, \d/.test(l));
  assert.ok(clips.length > 0 || lines.some((l) => l.startsWith('every clip')), lines.join('\n'));
  assert.equal(gifFrames(readFileSync(join(out, 'demo.gif'))), 3);
  const png = PNG.sync.read(readFileSync(join(out, 'demo.png')));
  assert.ok(png.height > 3 * 2 * 64, 'a row per clip at scale 2');
});
