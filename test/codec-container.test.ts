import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { frameSpecs, payloadLayout, readRdpv, RdpvFormatError, writeRdpv, type RdpvHeader } from '../src/codec/container.ts';
import { crc32 } from '../src/codec/crc32.ts';
import { fromPixels, packPayload, toPixels, unpackPayload, type FramePayload } from '../src/codec/payload.ts';
import { frameRadices, RATE_NAMES, type RateName } from '../src/codec/rates.ts';

const headerArb: fc.Arbitrary<RdpvHeader> = fc
  .record({
    modelId: fc.stringMatching(/^[\x21-\x7e]{1,40}$/),
    weightsSha256: fc.stringMatching(/^[0-9a-f]{64}$/),
    width: fc.integer({ min: 1, max: 20 }),
    height: fc.integer({ min: 1, max: 20 }),
    gop: fc.integer({ min: 1, max: 10 }),
    rates: fc.array(fc.constantFrom(...RATE_NAMES), { minLength: 1, maxLength: 30 }),
    ditherSeed: fc.integer({ min: 0, max: 0xffffffff }),
  })
  .map((h) => ({ ...h, frameCount: h.rates.length }));

/** A header with random symbols and pixels for every frame. */
const fileArb = headerArb.chain((header) =>
  fc.tuple(
    fc.constant(header),
    fc.tuple(
      ...frameSpecs(header).map((spec) =>
        fc.record({
          symbols: fc.tuple(...frameRadices(spec).map((r) => fc.integer({ min: 0, max: r - 1 }))).map((s) => Uint32Array.from(s)),
          pixels: fc.uint8Array({ minLength: header.width * header.height, maxLength: header.width * header.height }),
        }).map(({ symbols, pixels }): FramePayload => (spec.rate === 'inf' ? { symbols, pixels } : { symbols })),
      ),
    ),
  ),
);

const valid = (): RdpvHeader => ({ modelId: 'test', weightsSha256: '0'.repeat(64), width: 4, height: 3, frameCount: 3, gop: 2, rates: ['12', '3.17', 'inf'], ditherSeed: 9 });
const validFile = () => {
  const h = valid();
  return writeRdpv(h, packPayload(h, [{ symbols: new Uint32Array(12) }, { symbols: Uint32Array.of(2, 1) }, { symbols: new Uint32Array(0), pixels: new Uint8Array(12).fill(200) }]));
};
/** Rewrite the trailing CRC so that a deliberate edit reaches the checks behind it. */
const fixCrc = (b: Uint8Array) => {
  new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
};
const rejects = (bytes: Uint8Array, pattern: RegExp) =>
  assert.throws(() => readRdpv(bytes), (e: unknown) => e instanceof RdpvFormatError && e.exitCode === 2 && pattern.test(e.message) && !e.message.includes('\n'));

test('random headers, symbols and raw frames round-trip through the container', () => {
  fc.assert(
    fc.property(fileArb, ([header, frames]) => {
      const bytes = writeRdpv(header, packPayload(header, frames));
      const read = readRdpv(bytes);
      assert.deepEqual(read.header, header);
      const back = unpackPayload(read.header, read.payload);
      assert.deepEqual(back.map((f) => Array.from(f.symbols)), frames.map((f) => Array.from(f.symbols)));
      assert.deepEqual(back.map((f) => f.pixels && Array.from(f.pixels)), frames.map((f) => f.pixels && Array.from(f.pixels)));
    }),
    { numRuns: 200 },
  );
});

test('the payload is the exact bits of all frames rounded up once, plus raw frames', () => {
  const rates: RateName[] = new Array(5000).fill('3.17');
  rates[0] = '12';
  const header: RdpvHeader = { ...valid(), frameCount: rates.length, gop: rates.length, rates };
  const layout = payloadLayout(header);
  assert.ok(Math.abs(layout.symbolBits - (12 + 4999 * 2 * Math.log2(3))) < 1e-6);
  assert.equal(layout.symbolBytes, Math.ceil((12 + 4999 * 2 * Math.log2(3)) / 8)); // 1983, not 4999*2*2/8 + 1.5 = 2501
  const withRaw = payloadLayout({ ...valid(), rates: ['inf', 'inf', '4'] });
  assert.deepEqual([withRaw.symbolBytes, withRaw.rawBytes, withRaw.totalBytes], [1, 24, 25]);
});

test('CRC-32 matches the standard check value and zlib', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const bytes = validFile();
  if (typeof zlibCrc32 === 'function') assert.equal(crc32(bytes), zlibCrc32(bytes));
});

test('bad magic, unsupported version and truncation are typed one-line errors', () => {
  const good = validFile();
  rejects(Uint8Array.of(), /bad magic/);
  rejects(new TextEncoder().encode('GIF89a'), /bad magic/);
  const v2 = good.slice();
  v2[4] = 2;
  rejects(v2, /unsupported .rdpv format version 2/);
  for (let n = 0; n < good.length; n++) assert.throws(() => readRdpv(good.subarray(0, n)), RdpvFormatError, `prefix of ${n} bytes`);
  rejects(good.subarray(0, good.length - 1), /truncated file: payload needs 14 bytes, found 13/);
  rejects(good.subarray(0, 20), /truncated/);
});

test('a corrupted payload byte is a CRC mismatch', () => {
  const b = validFile();
  b[b.length - 6] ^= 0x10;
  rejects(b, /CRC mismatch/);
});

test('header fields out of range are rejected by name', () => {
  const at = { width: 9 + 1 + 4 + 32, frameCount: 9 + 1 + 4 + 32 + 4, gop: 9 + 1 + 4 + 32 + 8, rates: 9 + 1 + 4 + 32 + 16 };
  const edit = (f: (v: DataView, b: Uint8Array) => void) => {
    const b = validFile();
    f(new DataView(b.buffer), b);
    return fixCrc(b);
  };
  rejects(edit((v) => v.setUint16(at.width, 0, true)), /width = 0 is out of range/);
  rejects(edit((v) => v.setUint32(at.gop, 0, true)), /gop = 0 is out of range/);
  rejects(edit((_, b) => (b[at.rates + 1] = 7)), /rates\[1\] has unknown rate code 7/);
  rejects(edit((_, b) => (b[10] = 0x20)), /modelId/);
  assert.throws(() => writeRdpv({ ...valid(), width: 70000 }, new Uint8Array(0)), /width = 70000 is out of range/);
  assert.throws(() => writeRdpv({ ...valid(), weightsSha256: 'xyz' }, new Uint8Array(0)), RdpvFormatError);
});

test('a payload longer than the header implies is a length mismatch', () => {
  const good = validFile();
  const longer = new Uint8Array(good.length + 3);
  longer.set(good.subarray(0, good.length - 4));
  rejects(fixCrc(longer), /payload length mismatch: header implies 14 bytes, found 17/);
  assert.throws(() => writeRdpv(valid(), new Uint8Array(5)), /payload length mismatch/);
});

test('a header claiming 2^32-1 frames or huge raw frames fails fast without allocating them', () => {
  const b = validFile();
  new DataView(b.buffer).setUint32(9 + 1 + 4 + 32 + 4, 0xffffffff, true);
  const before = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  rejects(fixCrc(b), /truncated header: per-frame rates needs 4294967295 bytes/);
  const raw = validFile(); // its third frame is at rate inf: claim 65535x65535 pixels per raw frame
  new DataView(raw.buffer).setUint16(9 + 1 + 4 + 32, 0xffff, true);
  new DataView(raw.buffer).setUint16(9 + 1 + 4 + 32 + 2, 0xffff, true);
  rejects(fixCrc(raw), /truncated file: payload needs 4294836227 bytes, found 14/);
  assert.ok(performance.now() - started < 2000);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16e6);
});

test('raw frames carry 8-bit pixels: round(255 x), clamped, read back as p / 255', () => {
  assert.deepEqual(Array.from(toPixels([0, 0.5, 1, 1.2, -0.1, 0.001])), [0, 128, 255, 255, 0, 0]);
  const x = Float32Array.from({ length: 256 }, (_, i) => i / 255);
  const back = fromPixels(toPixels(x));
  x.forEach((v, i) => assert.ok(Math.abs(back[i]! - v) < 1e-7));
});
