/**
 * A safetensors-compatible single file (pure bytes in, bytes out, so browsers read it too):
 *   8-byte little-endian header length N, N bytes of JSON header, then raw little-endian data.
 * Header: { name: { dtype: "F32" (or "F16"), shape: [...], data_offsets: [begin, end] }, __metadata__: { key: string } }
 * with offsets relative to the start of the data section. See docs/weights.md.
 * Checkpoints and trained models also record the sha256 of the data section under the metadata key
 * `data_sha256`; the reader checks it when present (older files without it still load).
 */
import { UserError } from '../errors.ts';

/** The metadata key holding the sha256 (hex) of the data section. */
export const DATA_SHA256 = 'data_sha256';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/**
 * SHA-256 (FIPS 180-4) of `bytes` as lowercase hex. Synchronous and plain JavaScript, so the
 * reader stays bytes in, bytes out in a browser too (Web Crypto's digest is asynchronous).
 */
export function sha256Sync(bytes: Uint8Array): string {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const full = bytes.length - (bytes.length % 64);
  const tail = new Uint8Array(bytes.length % 64 < 56 ? 64 : 128);
  tail.set(bytes.subarray(full));
  tail[bytes.length % 64] = 0x80;
  const bits = bytes.length * 8;
  const tv = new DataView(tail.buffer);
  tv.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
  tv.setUint32(tail.length - 4, bits >>> 0);
  const block = (src: Uint8Array, at: number) => {
    for (let i = 0; i < 16; i++, at += 4) w[i] = (src[at]! << 24) | (src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!;
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, h[6]!, h[7]!];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a; h[1] = h[1]! + b; h[2] = h[2]! + c; h[3] = h[3]! + d;
    h[4] = h[4]! + e; h[5] = h[5]! + f; h[6] = h[6]! + g; h[7] = h[7]! + hh;
  };
  for (let at = 0; at < full; at += 64) block(bytes, at);
  for (let at = 0; at < tail.length; at += 64) block(tail, at);
  return Array.from(h, (x) => x.toString(16).padStart(8, '0')).join('');
}

export type NamedArrays = Map<string, { shape: number[]; data: Float32Array }>;

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The stored element types: float32, or float16 (half the size: the shipped zoo's choice where outputs allow). */
export type StoredDtype = 'F32' | 'F16';
const BYTES: Record<StoredDtype, number> = { F32: 4, F16: 2 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits of a float32, rounded to nearest even; out of range goes to infinity, tiny values to subnormals or zero. */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: the implicit bit joins the mantissa, shifted down, rounded to nearest even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let out = m >>> shift;
    if (rest > half || (rest === half && out & 1)) out++;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && out & 1)) out++; // a carry into the exponent is still right
  return sign | out;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** `checksum`: record the data section's sha256 under DATA_SHA256 (checkpoints and trained models do). `dtype`: F32 (default) or F16. */
export function encodeTensorFile(arrays: NamedArrays, metadata: Record<string, string>, options: { checksum?: boolean; dtype?: StoredDtype } = {}): Uint8Array {
  const bytes = encodeWith(arrays, metadata, options.dtype ?? 'F32');
  return options.checksum ? withDataChecksum(bytes) : bytes;
}

function encodeWith(arrays: NamedArrays, metadata: Record<string, string>, dtype: StoredDtype): Uint8Array {
  const header: Record<string, Entry | Record<string, string>> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, { shape, data }] of arrays) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + data.length * BYTES[dtype]] };
    offset += data.length * BYTES[dtype];
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
    if (dtype === 'F32') for (let i = 0; i < data.length; i++, at += 4) view.setFloat32(at, data[i]!, true);
    else for (let i = 0; i < data.length; i++, at += 2) view.setUint16(at, toHalf(data[i]!), true);
  }
  return out;
}

/** The 8-byte length, the JSON header (padded so the data starts on 8 bytes) and the data section. */
function headerBytes(header: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(json.length + ((8 - ((8 + json.length) % 8)) % 8)).fill(0x20);
  padded.set(json);
  return padded;
}

/**
 * The same file with the data section's sha256 recorded in its metadata (`DATA_SHA256`); the
 * tensors and their bytes are unchanged (offsets count from the start of the data section).
 */
export function withDataChecksum(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
  const data = bytes.subarray(8 + length);
  header.__metadata__ = { ...(header.__metadata__ as Record<string, string> | undefined), [DATA_SHA256]: sha256Sync(data) };
  const head = headerBytes(header);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
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
    if (e.dtype !== 'F32' && e.dtype !== 'F16') throw new UserError(`${source}: tensor '${name}' has dtype ${String(e.dtype)}, expected F32 or F16`);
    const size = BYTES[e.dtype];
    const [begin, end] = e.data_offsets;
    const count = e.shape.reduce((a: number, b: number) => a * b, 1);
    if (!(Number.isInteger(begin) && Number.isInteger(end) && begin! >= 0 && end === begin! + size * count)) {
      throw corrupt(`entry '${name}' has offsets that do not fit its shape`);
    }
    if (end! > dataLength) throw corrupt(`truncated: tensor '${name}' ends at byte ${dataStart + end!}, file has ${bytes.length}`);
    const data = new Float32Array(count);
    if (size === 4) for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + begin! + 4 * i, true);
    else for (let i = 0; i < count; i++) data[i] = fromHalf(view.getUint16(dataStart + begin! + 2 * i, true));
    arrays.set(name, { shape: e.shape, data });
  }
  // After the structure (a cut file says 'truncated'): the recorded sha256 of the data, if any.
  const recorded = metadata[DATA_SHA256];
  if (recorded !== undefined) {
    const actual = sha256Sync(bytes.subarray(dataStart));
    if (actual !== recorded) throw corrupt(`checksum mismatch: the tensor data's sha256 is ${actual.slice(0, 12)}..., the file records ${String(recorded).slice(0, 12)}...; the file is damaged`);
  }
  return { arrays, metadata };
}
