/**
 * Golden files in test/expected/: a test compares what it computes with the stored file, and
 * RDPV_UPDATE_GOLDEN=1 rewrites the file instead (then review the diff before committing).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../expected/', import.meta.url));
export const updating = process.env.RDPV_UPDATE_GOLDEN === '1';

function golden(name: string, bytes: Uint8Array): Uint8Array {
  const path = DIR + name;
  if (updating || !existsSync(path)) {
    if (!updating) throw new Error(`golden file ${path} is missing: run the test with RDPV_UPDATE_GOLDEN=1 to write it`);
    writeFileSync(path, bytes);
  }
  return new Uint8Array(readFileSync(path));
}

/** Float32 values stored little-endian. */
export function goldenFloats(name: string, values: Float32Array): Float32Array {
  const b = golden(name, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** A JSON value, stored pretty-printed. */
export function goldenJson<T>(name: string, value: T): T {
  return JSON.parse(new TextDecoder().decode(golden(name, new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n')))) as T;
}
