/**
 * The .rdpv container (byte layout in docs/format.md): magic "RDPV", format version,
 * header length, header, payload, CRC-32 of everything before it. `readRdpv` checks the
 * structure, every header field and the payload length before it allocates anything
 * that the header sizes, and the CRC last.
 */
import { crc32 } from './crc32.ts';
import { RdpvFormatError } from './errors.ts';
import { packedLength } from './packing.ts';
import { RATE_NAMES, frameRadices, isRateName, frameSpec, type FrameSpec, type RateName } from './rates.ts';

export { RdpvFormatError };

export const MAGIC = [0x52, 0x44, 0x50, 0x56]; // "RDPV"
export const FORMAT_VERSION = 1;
/** Magic (4) + version (1) + header length (4). */
const PREAMBLE = 9;
const CRC_BYTES = 4;

export interface RdpvHeader {
  /** Which trained model encoded the file: 1-255 printable ASCII characters, no spaces. */
  modelId: string;
  /** sha256 of the model's weights, 64 lowercase hex digits; decoders refuse other weights. */
  weightsSha256: string;
  /** Frame size in pixels, 1-65535 each; frames are 8-bit grayscale. */
  width: number;
  height: number;
  /** 1 to 2^32-1 frames. */
  frameCount: number;
  /** Group of pictures: frame j is an I-frame when j % gop == 0, else a P-frame. 1 to 2^32-1. */
  gop: number;
  /** The rate of every frame (frameCount entries). */
  rates: RateName[];
  /** Seed of the shared dither (uint32). */
  ditherSeed: number;
}

export function frameKind(header: Pick<RdpvHeader, 'gop'>, frame: number): 'I' | 'P' {
  return frame % header.gop === 0 ? 'I' : 'P';
}

export function frameSpecs(header: Pick<RdpvHeader, 'gop' | 'rates'>): FrameSpec[] {
  return header.rates.map((rate, j) => frameSpec(frameKind(header, j), rate));
}

/** How a header's payload is laid out: the packed symbols of all frames, then raw frames. */
export interface PayloadLayout {
  /** Alphabet size of every symbol of the file, frame by frame in send order. */
  radices: number[];
  /** Exact information content: sum of d log2 L over all frames. */
  symbolBits: number;
  /** ceil(symbolBits / 8) */
  symbolBytes: number;
  /** Frames at rate inf, each carried as width*height bytes after the symbols. */
  rawFrames: number;
  rawBytes: number;
  totalBytes: number;
}

export function payloadLayout(header: Pick<RdpvHeader, 'gop' | 'rates' | 'width' | 'height'>): PayloadLayout {
  const specs = frameSpecs(header);
  const radices = specs.flatMap(frameRadices);
  const symbolBits = specs.reduce((b, s) => b + (s.rate === 'inf' ? 0 : s.bits), 0);
  const symbolBytes = packedLength(radices);
  const rawFrames = specs.filter((s) => s.rate === 'inf').length;
  const rawBytes = rawFrames * header.width * header.height;
  return { radices, symbolBits, symbolBytes, rawFrames, rawBytes, totalBytes: symbolBytes + rawBytes };
}

const fail = (message: string): never => {
  throw new RdpvFormatError(message);
};

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) fail(`header field ${name} = ${value} is out of range [${min}, ${max}]`);
}

const MODEL_ID = /^[\x21-\x7e]{1,255}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** Every header rule, shared by the writer and the reader. */
function validateHeader(h: RdpvHeader): void {
  if (!MODEL_ID.test(h.modelId)) fail('header field modelId must be 1-255 printable ASCII characters without spaces');
  if (!SHA256.test(h.weightsSha256)) fail('header field weightsSha256 must be 64 lowercase hex digits');
  checkRange('width', h.width, 1, 0xffff);
  checkRange('height', h.height, 1, 0xffff);
  checkRange('frameCount', h.frameCount, 1, 0xffffffff);
  checkRange('gop', h.gop, 1, 0xffffffff);
  checkRange('ditherSeed', h.ditherSeed, 0, 0xffffffff);
  if (h.rates.length !== h.frameCount) fail(`header has ${h.rates.length} rates for ${h.frameCount} frames`);
  h.rates.forEach((r, j) => isRateName(r) || fail(`header field rates[${j}] = '${r}' is not a known rate`));
}

function encodeHeader(h: RdpvHeader): Uint8Array {
  const bytes = new Uint8Array(1 + h.modelId.length + 32 + 2 + 2 + 4 + 4 + 4 + h.frameCount);
  const view = new DataView(bytes.buffer);
  let o = 0;
  bytes[o++] = h.modelId.length;
  for (const ch of h.modelId) bytes[o++] = ch.charCodeAt(0);
  for (let i = 0; i < 32; i++) bytes[o++] = parseInt(h.weightsSha256.slice(2 * i, 2 * i + 2), 16);
  view.setUint16(o, h.width, true);
  view.setUint16(o + 2, h.height, true);
  view.setUint32(o + 4, h.frameCount, true);
  view.setUint32(o + 8, h.gop, true);
  view.setUint32(o + 12, h.ditherSeed, true);
  o += 16;
  for (const r of h.rates) bytes[o++] = RATE_NAMES.indexOf(r);
  return bytes;
}

/** Reads the header from exactly `bytes`; reading past its end is truncation. */
function decodeHeader(bytes: Uint8Array): RdpvHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const take = (n: number, what: string): number => {
    if (o + n > bytes.length) fail(`truncated header: ${what} needs ${n} bytes at offset ${PREAMBLE + o}, the header has ${bytes.length}`);
    const at = o;
    o += n;
    return at;
  };
  const idLength = bytes[take(1, 'modelId length')]!;
  const idAt = take(idLength, 'modelId');
  const modelId = String.fromCharCode(...bytes.subarray(idAt, idAt + idLength));
  const shaAt = take(32, 'weightsSha256');
  const weightsSha256 = Array.from(bytes.subarray(shaAt, shaAt + 32), (b) => b.toString(16).padStart(2, '0')).join('');
  const fixed = take(16, 'frame size, frame count, GOP and seed');
  const frameCount = view.getUint32(fixed + 4, true);
  // take() checks that frameCount rate bytes are present before anything of that size exists.
  const ratesAt = take(frameCount, 'per-frame rates');
  const rates = Array.from(bytes.subarray(ratesAt, ratesAt + frameCount), (code, j) => RATE_NAMES[code] ?? fail(`header field rates[${j}] has unknown rate code ${code}`));
  const header: RdpvHeader = {
    modelId,
    weightsSha256,
    width: view.getUint16(fixed, true),
    height: view.getUint16(fixed + 2, true),
    frameCount,
    gop: view.getUint32(fixed + 8, true),
    rates,
    ditherSeed: view.getUint32(fixed + 12, true),
  };
  if (o !== bytes.length) fail(`header length mismatch: fields take ${o} bytes, the header length says ${bytes.length}`);
  validateHeader(header);
  return header;
}

export function writeRdpv(header: RdpvHeader, payload: Uint8Array): Uint8Array {
  validateHeader(header);
  const expected = payloadLayout(header).totalBytes;
  if (payload.length !== expected) fail(`payload length mismatch: header implies ${expected} bytes, got ${payload.length}`);
  const head = encodeHeader(header);
  const out = new Uint8Array(PREAMBLE + head.length + payload.length + CRC_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  view.setUint32(5, head.length, true);
  out.set(head, PREAMBLE);
  out.set(payload, PREAMBLE + head.length);
  const body = out.length - CRC_BYTES;
  view.setUint32(body, crc32(out.subarray(0, body)), true);
  return out;
}

/** Parse and validate a whole file. The payload is a view into `bytes` (no copy). */
export function readRdpv(bytes: Uint8Array): { header: RdpvHeader; payload: Uint8Array } {
  if (bytes.length < MAGIC.length || MAGIC.some((m, i) => bytes[i] !== m)) fail('not an .rdpv file (bad magic)');
  if (bytes.length < 5) fail('truncated file: no format version');
  if (bytes[4] !== FORMAT_VERSION) fail(`unsupported .rdpv format version ${bytes[4]} (this build reads version ${FORMAT_VERSION})`);
  if (bytes.length < PREAMBLE) fail('truncated file: no header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(5, true);
  const available = bytes.length - PREAMBLE - CRC_BYTES;
  if (headerLength > available) fail(`truncated file: header length ${headerLength} but only ${Math.max(0, available)} bytes before the checksum`);
  const header = decodeHeader(bytes.subarray(PREAMBLE, PREAMBLE + headerLength));
  const expected = payloadLayout(header).totalBytes;
  const found = available - headerLength;
  if (found < expected) fail(`truncated file: payload needs ${expected} bytes, found ${found}`);
  if (found > expected) fail(`payload length mismatch: header implies ${expected} bytes, found ${found}`);
  const body = bytes.length - CRC_BYTES;
  const stored = view.getUint32(body, true);
  const actual = crc32(bytes.subarray(0, body));
  if (stored !== actual) fail(`CRC mismatch: stored ${hex32(stored)}, computed ${hex32(actual)} (file corrupt)`);
  return { header, payload: bytes.subarray(PREAMBLE + headerLength, body) };
}

const hex32 = (n: number) => n.toString(16).padStart(8, '0');
