import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.ts';
import { writeRdpv, type RdpvHeader } from '../src/codec/container.ts';
import { packPayload } from '../src/codec/payload.ts';

const dir = mkdtempSync(join(tmpdir(), 'rdpv-info-'));
const header: RdpvHeader = { modelId: 'mmnist-i12', weightsSha256: 'ab'.repeat(32), width: 8, height: 8, frameCount: 3, gop: 3, rates: ['12', '4', 'inf'], ditherSeed: 77 };
const file = join(dir, 'clip.rdpv');
const bytes = writeRdpv(header, packPayload(header, [{ symbols: new Uint32Array(12) }, { symbols: new Uint32Array(4) }, { symbols: new Uint32Array(0), pixels: new Uint8Array(64) }]));
writeFileSync(file, bytes);


test('info describes the header in words', async () => {
  const { code, out } = await runCli(['info', file]);
  assert.equal(code, 0);
  const text = out.join('\n');
  assert.match(text, /mmnist-i12, weights sha256 (ab){32}/);
  assert.match(text, /3 of 8x8 8-bit grayscale, GOP 3/);
  assert.match(text, /I-frames at 12 bits: 1; P-frames at 4 bits: 1; P-frames at rate inf \(raw pixels\): 1/);
  assert.match(text, /seed 77/);
  assert.match(text, /66 bytes: 16 bits of symbols in 2 bytes, 1 raw frames in 64 bytes/);
});

test('info --json prints the header as one JSON object', async () => {
  const { code, out } = await runCli(['info', file, '--json']);
  assert.equal(code, 0);
  assert.equal(out.length, 1);
  const parsed = JSON.parse(out[0]!);
  assert.deepEqual(parsed.header, header);
  assert.equal(parsed.fileBytes, bytes.length);
  assert.equal(parsed.payload.bytes, 66);
});

test('a bad or missing file is one line and exit code 2', async () => {
  const bad = join(dir, 'bad.rdpv');
  const damaged = bytes.slice();
  damaged[damaged.length - 10] ^= 1;
  writeFileSync(bad, damaged);
  for (const [args, pattern] of [
    [['info', bad], /^rdpv info: CRC mismatch/],
    [['info', join(dir, 'missing.rdpv')], /^rdpv info: cannot read .*missing\.rdpv: ENOENT$/],
    [['info'], /usage: rdpv info FILE/],
  ] as const) {
    const { code, out, err } = await runCli([...args]);
    assert.equal(code, 2);
    assert.deepEqual(out, []);
    assert.equal(err.length, 1);
    assert.match(err[0]!, pattern);
  }
});
