import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTensorFile, encodeTensorFile, fromHalf, toHalf, type NamedArrays } from '../src/models/tensor-file.ts';
import { Rng } from '../src/rng.ts';

test('every float16 value survives float16 -> number -> float16 bit for bit (NaN stays NaN)', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = fromHalf(h);
    if (Number.isNaN(v)) assert.ok(Number.isNaN(fromHalf(toHalf(v))), `NaN ${h}`);
    else assert.equal(toHalf(v), h, `0x${h.toString(16)} -> ${v}`);
  }
});

test('float32 values round to the nearest float16, ties to even, overflow to infinity, underflow through subnormals to zero', () => {
  const rng = new Rng(7);
  for (let i = 0; i < 20000; i++) {
    const v = Math.fround((rng.uniform() - 0.5) * 2 ** (rng.int(-30, 17)));
    const h = toHalf(v);
    const got = fromHalf(h);
    if (!Number.isFinite(got)) {
      assert.ok(Math.abs(v) >= 65520, `${v} overflowed`);
      continue;
    }
    // No other float16 (the neighbours of the result) is nearer.
    for (const other of [h - 1, h + 1]) {
      const o = fromHalf(other & 0xffff);
      if (Number.isFinite(o) && (other & 0x7fff) !== 0x7fff) assert.ok(Math.abs(o - v) >= Math.abs(got - v), `${v}: ${got} but ${o} is nearer`);
    }
  }
  assert.equal(fromHalf(toHalf(1 + 2 ** -11)), 1, 'a tie goes to the even mantissa (down)');
  assert.equal(fromHalf(toHalf(1 + 3 * 2 ** -11)), 1 + 2 ** -9, 'a tie goes to the even mantissa (up)');
  assert.equal(fromHalf(toHalf(65504)), 65504);
  assert.equal(fromHalf(toHalf(65520)), Infinity);
  assert.equal(fromHalf(toHalf(2 ** -24)), 2 ** -24, 'the smallest subnormal');
  assert.equal(fromHalf(toHalf(2 ** -26)), 0);
  assert.ok(Object.is(fromHalf(toHalf(-0)), -0));
});

test('an F16 tensor file is half the data of an F32 one and reads back as the rounded values, checksum included', () => {
  const rng = new Rng(3);
  const arrays: NamedArrays = new Map([
    ['a.w', { shape: [3, 5], data: Float32Array.from({ length: 15 }, () => rng.normal()) }],
    ['b', { shape: [4], data: Float32Array.from([1e-5, -2.5, 70000, 0]) }],
  ]);
  const f32 = encodeTensorFile(arrays, { name: 'x' }, { checksum: true });
  const f16 = encodeTensorFile(arrays, { name: 'x' }, { checksum: true, dtype: 'F16' });
  const data = (bytes: Uint8Array) => bytes.length - 8 - Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  assert.equal(data(f16) * 2, data(f32));
  const back = decodeTensorFile(f16, 'f16');
  assert.equal(back.metadata.name, 'x');
  for (const [name, { shape, data: d }] of arrays) {
    assert.deepEqual(back.arrays.get(name)!.shape, shape);
    assert.deepEqual([...back.arrays.get(name)!.data], [...d].map((v) => Math.fround(fromHalf(toHalf(v)))), name);
  }
  f16[f16.length - 1]! ^= 1;
  assert.throws(() => decodeTensorFile(f16, 'f16'), /checksum mismatch/);
});
