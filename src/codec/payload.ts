/**
 * The payload of an .rdpv file: the symbols of all frames packed as one mixed-radix
 * integer (exactly ceil(total bits / 8) bytes), then every frame at rate inf as
 * width*height 8-bit pixels, row-major, in frame order.
 */
import { frameSpecs, payloadLayout, RdpvFormatError, type RdpvHeader } from './container.ts';
import { packSymbols, unpackSymbols } from './packing.ts';
import { frameRadices } from './rates.ts';

export interface FramePayload {
  /** The frame's symbols in send order (motion latent, then content latent); empty at rate inf. */
  symbols: Uint32Array;
  /** width*height 8-bit pixels, only for frames at rate inf. */
  pixels?: Uint8Array;
}

export function packPayload(header: RdpvHeader, frames: FramePayload[]): Uint8Array {
  if (frames.length !== header.frameCount) throw new RangeError(`${frames.length} frames for a header of ${header.frameCount}`);
  const layout = payloadLayout(header);
  const frameSize = header.width * header.height;
  const specs = frameSpecs(header);
  const raws = frames.flatMap((f, j) => {
    const count = frameRadices(specs[j]!).length;
    if (f.symbols.length !== count) throw new RangeError(`frame ${j} has ${f.symbols.length} symbols, its rate needs ${count}`);
    if (header.rates[j] !== 'inf') return [];
    if (f.pixels?.length !== frameSize) throw new RangeError(`frame ${j} at rate inf needs ${frameSize} pixels`);
    return [f.pixels];
  });
  const out = new Uint8Array(layout.totalBytes);
  out.set(packSymbols(frames.flatMap((f) => Array.from(f.symbols)), layout.radices), 0);
  raws.forEach((p, i) => out.set(p, layout.symbolBytes + i * frameSize));
  return out;
}

export function unpackPayload(header: RdpvHeader, payload: Uint8Array): FramePayload[] {
  const layout = payloadLayout(header);
  if (payload.length !== layout.totalBytes) throw new RdpvFormatError(`payload length mismatch: header implies ${layout.totalBytes} bytes, found ${payload.length}`);
  const all = unpackSymbols(payload.subarray(0, layout.symbolBytes), layout.radices);
  const frameSize = header.width * header.height;
  let next = 0;
  let raw = layout.symbolBytes;
  return frameSpecs(header).map((spec) => {
    const count = frameRadices(spec).length;
    const frame: FramePayload = { symbols: all.slice(next, next + count) };
    next += count;
    if (spec.rate === 'inf') {
      frame.pixels = payload.slice(raw, raw + frameSize);
      raw += frameSize;
    }
    return frame;
  });
}

/** A frame in [0, 1] as the 8-bit pixels a rate-inf frame carries: round(255 x), clamped. */
export function toPixels(frame: ArrayLike<number>): Uint8Array {
  return Uint8Array.from({ length: frame.length }, (_, i) => Math.round(255 * Math.min(1, Math.max(0, frame[i]!))));
}

/** The decoder's view of a rate-inf frame: pixels / 255. */
export function fromPixels(pixels: Uint8Array): Float32Array {
  return Float32Array.from(pixels, (p) => p / 255);
}
