/**
 * A safetensors-compatible single file (pure bytes in, bytes out, so browsers read it too):
 *   8-byte little-endian header length N, N bytes of JSON header, then raw little-endian data.
 * Header: { name: { dtype: "F32", shape: [...], data_offsets: [begin, end] }, __metadata__: { key: string } }
 * with offsets relative to the start of the data section. See docs/weights.md.
 */
import { UserError } from '../errors.ts';

export type NamedArrays = Map<string, { shape: number[]; data: Float32Array }>;

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function encodeTensorFile(arrays: NamedArrays, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, Entry | Record<string, string>> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, { shape, data }] of arrays) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // align the data section to 8 bytes
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const { data } of arrays.values()) {
    // Float32Array is host-endian; write element by element so the file is little-endian everywhere.
    for (let i = 0; i < data.length; i++, at += 4) view.setFloat32(at, data[i]!, true);
  }
  return out;
}

export function decodeTensorFile(bytes: Uint8Array, source: string): { arrays: NamedArrays; metadata: Record<string, string> } {
  const corrupt = (why: string) => new UserError(`${source}: not a valid weights file (${why})`);
  if (bytes.length < 8) throw corrupt('shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) throw corrupt(`header length ${headerLength} exceeds the file size ${bytes.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw corrupt('header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw corrupt('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const arrays: NamedArrays = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as Partial<Entry>;
    if (!e || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) throw corrupt(`entry '${name}' lacks shape or data_offsets`);
    if (e.dtype !== 'F32') throw new UserError(`${source}: tensor '${name}' has dtype ${String(e.dtype)}, expected F32`);
    const [begin, end] = e.data_offsets;
    const count = e.shape.reduce((a: number, b: number) => a * b, 1);
    if (!(Number.isInteger(begin) && Number.isInteger(end) && begin! >= 0 && end === begin! + 4 * count)) {
      throw corrupt(`entry '${name}' has offsets that do not fit its shape`);
    }
    if (end! > dataLength) throw corrupt(`truncated: tensor '${name}' ends at byte ${dataStart + end!}, file has ${bytes.length}`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + begin! + 4 * i, true);
    arrays.set(name, { shape: e.shape, data });
  }
  return { arrays, metadata };
}
