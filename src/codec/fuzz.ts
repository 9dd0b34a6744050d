/**
 * Fuzzing of the .rdpv reader, shared by test/codec-fuzz.test.ts and `npm run fuzz`.
 * Each case writes a random valid file, damages it (bit flips, byte overwrites,
 * insertions, deletions, truncation; sometimes with the CRC recomputed so the damage
 * reaches the header and payload checks behind it) and reads it back. The only
 * acceptable outcomes: an RdpvFormatError, or a file that decodes and re-encodes to
 * exactly the same bytes.
 */
import { Rng } from '../rng.ts';
import { crc32 } from './crc32.ts';
import { frameSpecs, readRdpv, RdpvFormatError, writeRdpv, type RdpvHeader } from './container.ts';
import { packPayload, unpackPayload, type FramePayload } from './payload.ts';
import { frameRadices, RATE_NAMES } from './rates.ts';

export type Outcome = 'typed_error' | 'roundtrip' | 'other_failure';

export interface FuzzReport {
  cases: number;
  typed_errors: number;
  roundtrips: number;
  other_failures: number;
  /** The first few unexpected failures, with the case seed to replay them. */
  failures: string[];
}

/** A random valid file, small enough that thousands of cases take seconds. */
export function randomFile(rng: Rng): { header: RdpvHeader; frames: FramePayload[]; bytes: Uint8Array } {
  const frameCount = rng.int(1, 24);
  const header: RdpvHeader = {
    modelId: Array.from({ length: rng.int(1, 16) }, () => String.fromCharCode(rng.int(0x21, 0x7e))).join(''),
    weightsSha256: Array.from({ length: 64 }, () => rng.int(0, 15).toString(16)).join(''),
    width: rng.int(1, 12),
    height: rng.int(1, 12),
    frameCount,
    gop: rng.int(1, 6),
    rates: Array.from({ length: frameCount }, () => RATE_NAMES[rng.int(0, RATE_NAMES.length - 1)]!),
    ditherSeed: rng.nextU32(),
  };
  const frames = frameSpecs(header).map((spec): FramePayload => {
    const symbols = Uint32Array.from(frameRadices(spec), (r) => rng.int(0, r - 1));
    return spec.rate === 'inf' ? { symbols, pixels: Uint8Array.from({ length: header.width * header.height }, () => rng.int(0, 255)) } : { symbols };
  });
  return { header, frames, bytes: writeRdpv(header, packPayload(header, frames)) };
}

/** One to three random damages; with probability 1/2 the CRC is then made valid again. */
export function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  let b: Uint8Array = bytes.slice();
  for (let n = rng.int(1, 3); n > 0; n--) {
    const at = rng.int(0, Math.max(0, b.length - 1));
    switch (rng.int(0, 4)) {
      case 0: // flip one bit
        if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(0, 7));
        break;
      case 1: // overwrite one byte
        if (b.length > 0) b[at] = rng.int(0, 255);
        break;
      case 2: // insert 1-8 random bytes
        b = concat(b.subarray(0, at), Uint8Array.from({ length: rng.int(1, 8) }, () => rng.int(0, 255)), b.subarray(at));
        break;
      case 3: // delete 1-8 bytes
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 8))));
        break;
      default: // truncate
        b = b.slice(0, rng.int(0, b.length));
    }
  }
  if (rng.uniform() < 0.5 && b.length >= 4) new DataView(b.buffer).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Read damaged bytes; returns the outcome and, for other failures, why. */
export function classify(bytes: Uint8Array): { outcome: Outcome; detail?: string } {
  try {
    const { header, payload } = readRdpv(bytes);
    const again = writeRdpv(header, packPayload(header, unpackPayload(header, payload)));
    return sameBytes(again, bytes) ? { outcome: 'roundtrip' } : { outcome: 'other_failure', detail: 'accepted a file that does not re-encode to the same bytes' };
  } catch (e) {
    if (e instanceof RdpvFormatError && !e.message.includes('\n')) return { outcome: 'typed_error' };
    return { outcome: 'other_failure', detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** Run `cases` cases; case i uses the generator keyed by (seed, i), so any case replays alone. */
export function runFuzz(cases: number, seed: number): FuzzReport {
  const report: FuzzReport = { cases, typed_errors: 0, roundtrips: 0, other_failures: 0, failures: [] };
  for (let i = 0; i < cases; i++) {
    const rng = new Rng(seed, i);
    const { bytes } = randomFile(rng);
    const { outcome, detail } = classify(mutate(rng, bytes));
    if (outcome === 'typed_error') report.typed_errors++;
    else if (outcome === 'roundtrip') report.roundtrips++;
    else {
      report.other_failures++;
      if (report.failures.length < 5) report.failures.push(`case ${i} (seed ${seed}): ${detail}`);
    }
  }
  return report;
}
