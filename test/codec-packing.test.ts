import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { packedLength, packSymbols, unpackSymbols } from '../src/codec/packing.ts';
import { RdpvFormatError } from '../src/codec/container.ts';
import { Rng } from '../src/rng.ts';

/** Symbols with their radices, radix in [1, 300]. */
const symbolsArb = fc
  .array(fc.integer({ min: 1, max: 300 }), { maxLength: 200 })
  .chain((radices) => fc.tuple(fc.constant(radices), fc.tuple(...radices.map((r) => fc.integer({ min: 0, max: r - 1 })))));

const bitsOf = (radices: number[]) => radices.reduce((b, r) => b + Math.log2(r), 0);

test('mixed-radix packing round-trips any symbols in ceil(sum log2 r / 8) bytes', () => {
  fc.assert(
    fc.property(symbolsArb, ([radices, symbols]) => {
      const bytes = packSymbols(symbols, radices);
      // Exact: the product of the radices needs bitlength(P - 1) bits.
      const product = radices.reduce((p, r) => p * BigInt(r), 1n);
      assert.equal(bytes.length, product <= 1n ? 0 : Math.ceil((product - 1n).toString(2).length / 8));
      assert.ok(bytes.length <= Math.ceil(bitsOf(radices) / 8 + 1e-9));
      assert.equal(packedLength(radices), bytes.length);
      assert.deepEqual(Array.from(unpackSymbols(bytes, radices)), symbols);
    }),
  );
});

test('9-level symbols cost log2 9 bits each over a long file', () => {
  const n = 20000;
  const radices = new Array<number>(n).fill(9);
  const rng = new Rng(9);
  const symbols = radices.map(() => rng.int(0, 8));
  const bytes = packSymbols(symbols, radices);
  assert.equal(bytes.length, Math.ceil((n * Math.log2(9)) / 8)); // 7925 bytes, where 4 bits a symbol would take 10000
  assert.deepEqual(Array.from(unpackSymbols(bytes, radices)), symbols);
});

test('a packed value past the alphabet or of the wrong length is a format error', () => {
  // Three ternary symbols: 27 values in one byte; 27..255 are not symbols.
  assert.throws(() => unpackSymbols(Uint8Array.of(27), [3, 3, 3]), RdpvFormatError);
  assert.deepEqual(Array.from(unpackSymbols(Uint8Array.of(26), [3, 3, 3])), [2, 2, 2]);
  assert.throws(() => unpackSymbols(Uint8Array.of(0, 0), [3, 3, 3]), RdpvFormatError);
  assert.throws(() => packSymbols([3], [3]), RangeError);
});

test('the first symbol is the most significant digit, written big-endian', () => {
  assert.deepEqual(Array.from(packSymbols([1, 0, 0, 0, 0, 0, 0, 0, 0], new Array(9).fill(2))), [1, 0]);
  assert.deepEqual(Array.from(packSymbols([2, 1], [3, 3])), [7]);
});
