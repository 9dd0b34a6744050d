import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { initEngine } from '../src/engine/index.ts';
import { disposeModel, encodeModelFile, readModelFile, sha256Hex } from '../src/models/model-file.ts';
import { decodeTensorFile, encodeTensorFile } from '../src/models/tensor-file.ts';
import { loadZooModel, storedDifference, type WeightStore, type ZooEntry } from '../src/models/zoo.ts';
import { tinyGopModel } from './support/tiny.ts';

/** A zoo in memory: files by name, and the manifest made from `entries`. */
function memoryZoo(files: Map<string, Uint8Array>, entries: () => Partial<ZooEntry>[]): WeightStore {
  return {
    where: (name) => `mem:${name}`,
    read: async (name) => {
      if (name === 'manifest.json') return new TextEncoder().encode(JSON.stringify({ models: entries() }));
      const f = files.get(name);
      if (!f) throw new Error(`no ${name}`);
      return f;
    },
  };
}

const entryOf = async (name: string, bytes: Uint8Array, base?: string): Promise<Partial<ZooEntry>> => ({ name, file: `${name}.safetensors`, sha256: await sha256Hex(bytes), ...(base ? { base } : {}) });

test('a model shipped as its difference from another holds only its own tensors and loads back bit for bit through the zoo', async () => {
  await initEngine({ backend: 'cpu' });
  // The base: a GOP of 3; the derived model keeps its frames 1-2 and has another frame 3 (a later cell on frozen frames).
  const [a, b] = [await tinyGopModel(1), await tinyGopModel(2)];
  const baseBytes = encodeModelFile(a.model, 'base');
  const { arrays, metadata } = decodeTensorFile(encodeModelFile(a.model, 'derived'), 'derived');
  for (const [n, t] of decodeTensorFile(encodeModelFile(b.model, 'b'), 'b').arrays) if (n.startsWith('p3.')) arrays.set(n, t);
  const whole = encodeTensorFile(arrays, metadata, { checksum: true });
  disposeModel(a.model);
  disposeModel(b.model);

  const files = new Map([['base.safetensors', baseBytes]]);
  const entries: Partial<ZooEntry>[] = [await entryOf('base', baseBytes)];
  const zoo = memoryZoo(files, () => entries);
  const { bytes, inherited } = await storedDifference(zoo, whole, 'F32', 'base');
  const own = decodeTensorFile(bytes, 'diff').arrays;
  const baseArrays = decodeTensorFile(baseBytes, 'base').arrays;
  const changed = [...arrays].filter(([n, t]) => !t.data.every((v, i) => v === baseArrays.get(n)!.data[i])).map(([n]) => n);
  assert.ok(changed.length > 0 && changed.every((n) => n.startsWith('p3.')));
  assert.deepEqual([...own.keys()].sort(), changed.sort(), 'only the tensors that differ (frame 3\'s) are stored');
  assert.equal(inherited + own.size, arrays.size);
  assert.ok(bytes.length < whole.length / 2, `${bytes.length} of ${whole.length} bytes`);

  files.set('derived.safetensors', bytes);
  entries.push(await entryOf('derived', bytes, 'base'));
  const back = await loadZooModel(zoo, 'derived');
  assert.equal(back.id, 'derived');
  assert.equal(back.sha256, await sha256Hex(bytes), "the stored bytes name the model in .rdpv headers");
  const got = decodeTensorFile(encodeModelFile(back.model, 'derived'), 'back').arrays;
  disposeModel(back.model);
  assert.equal(got.size, arrays.size);
  for (const [n, t] of arrays) assert.deepEqual(got.get(n)?.data, t.data, n);

  // Read on its own, without the zoo, it says where its other half is.
  await assert.rejects(readModelFile(bytes, 'derived.safetensors'), /derived\.safetensors: holds only what differs from the shipped model 'base'/);
  // A replaced base (another sha256 in the manifest) is refused, not silently combined.
  const other = encodeModelFile((await tinyGopModel(3)).model, 'base');
  files.set('base.safetensors', other);
  entries[0] = await entryOf('base', other);
  await assert.rejects(loadZooModel(zoo, 'derived'), /stored as its difference from the shipped model 'base' \(sha256 [0-9a-f]{12}\.\.\.\), which mem:manifest\.json does not hold/);
});

test('a difference from a model that shares no tensor, or from one not shipped, is refused', async () => {
  await initEngine({ backend: 'cpu' });
  const a = await tinyGopModel(1);
  const baseBytes = encodeModelFile(a.model, 'base');
  disposeModel(a.model);
  const entries = [await entryOf('base', baseBytes)];
  const zoo = memoryZoo(new Map([['base.safetensors', baseBytes]]), () => entries);
  const { arrays, metadata } = decodeTensorFile(baseBytes, 'base');
  for (const t of arrays.values()) t.data = t.data.map((v) => v + 1);
  delete metadata.data_sha256;
  await assert.rejects(storedDifference(zoo, encodeTensorFile(arrays, metadata), 'F32', 'base'), /shares no tensor with 'base'/);
  await assert.rejects(storedDifference(zoo, baseBytes, 'F32', 'nothing'), /no shipped model 'nothing'/);
});

test('the shipped zoo, weights and manifest, stays within the 40 MB the package allows it', () => {
  const dir = new URL('../models/', import.meta.url);
  const bytes = readdirSync(dir).reduce((sum, f) => sum + statSync(new URL(f, dir)).size, 0);
  assert.ok(bytes <= 40e6, `models/ holds ${(bytes / 1e6).toFixed(2)} MB`);
});
