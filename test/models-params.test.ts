import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../src/engine/index.ts';
import { UserError } from '../src/errors.ts';
import { constVar, decodeParamsInto, encodeParams, flattenParams, normalVar, type ParamTree } from '../src/models/params.ts';
import { decodeTensorFile, encodeTensorFile } from '../src/models/tensor-file.ts';

await initEngine({ backend: 'cpu' });

const model = (seed: number): ParamTree => ({
  a: normalVar([2, 3], 1, seed, 1),
  inner: { b: normalVar([4], 1, seed, 2), stats: constVar([4], 0, false) },
});

test('seeded init is reproducible and differs across seeds', () => {
  const [x, y, z] = [model(1), model(1), model(2)];
  assert.deepEqual((x.a as tf.Variable).dataSync(), (y.a as tf.Variable).dataSync());
  assert.notDeepEqual((x.a as tf.Variable).dataSync(), (z.a as tf.Variable).dataSync());
});

test('save then load restores every tensor bit for bit, with metadata', () => {
  const src = model(1);
  const bytes = encodeParams({ m: src }, { preset: 'x' });
  const dst = model(2);
  const meta = decodeParamsInto(bytes, { m: dst }, 'w.safetensors');
  assert.equal(meta.preset, 'x');
  for (const [[na, a], [nb, b]] of flattenParams(src).map((e, i) => [e, flattenParams(dst)[i]!] as const)) {
    assert.equal(na, nb);
    assert.deepEqual(b.dataSync(), a.dataSync());
  }
});

test('file layout is safetensors: LE header length, JSON header with F32 entries, 8-byte aligned data', () => {
  const data = new Float32Array([1.5, -2, 3]);
  const bytes = encodeTensorFile(new Map([['t', { shape: [3], data }]]), { k: 'v' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.t, { dtype: 'F32', shape: [3], data_offsets: [0, 12] });
  assert.deepEqual(header.__metadata__, { k: 'v' });
  assert.equal(new DataView(bytes.buffer).getFloat32(8 + n + 4, true), -2);
});

test('loading into a model with a different shape names the tensor', () => {
  const bytes = encodeParams({ m: model(1) }, {});
  const other: ParamTree = { a: normalVar([3, 2], 1, 1, 1), inner: { b: normalVar([4], 1, 1, 2), stats: constVar([4], 0, false) } };
  assert.throws(() => decodeParamsInto(bytes, { m: other }, 'f'), (e: Error) => e instanceof UserError && /'m\.a' has shape \[2,3\].*\[3,2\]/.test(e.message));
});

test('missing and unexpected tensors are rejected', () => {
  const bytes = encodeParams({ m: model(1) }, {});
  assert.throws(() => decodeParamsInto(bytes, { m: { ...model(1), c: constVar([1], 0) } }, 'f'), /missing tensor 'm\.c'/);
  assert.throws(() => decodeParamsInto(bytes, { m: { a: normalVar([2, 3], 1, 1, 1) } }, 'f'), /unexpected tensor 'm\.inner\.b'/);
});

test('truncated, garbage and wrong-dtype files fail with a UserError', () => {
  const bytes = encodeParams({ m: model(1) }, {});
  const isUser = (re: RegExp) => (e: Error) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n');
  assert.throws(() => decodeTensorFile(bytes.subarray(0, bytes.length - 4), 'f'), isUser(/truncated/));
  assert.throws(() => decodeTensorFile(bytes.subarray(0, 5), 'f'), isUser(/header length/));
  assert.throws(() => decodeTensorFile(new TextEncoder().encode('hello world, not weights'), 'f'), isUser(/not a valid weights file/));
  const one = encodeTensorFile(new Map([['t', { shape: [1], data: new Float32Array(1) }]]), {});
  const text = new TextDecoder().decode(one).replace('"F32"', '"I64"');
  assert.throws(() => decodeTensorFile(new TextEncoder().encode(text), 'f'), isUser(/dtype I64, expected F32 or F16/));
});
