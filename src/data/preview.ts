import gifenc from 'gifenc';
import { PNG } from 'pngjs';
import { UserError } from '../errors.ts';
import type { VideoBatch } from './types.ts';

/** Pixels between tiles, drawn mid-gray so black frames stay distinguishable. */
const GAP = 2;
/** Extra pixels between groups of wrapped rows (a sequence's rows, or one band of frames). */
const GROUP_GAP = 6;
const GAP_VALUE = 128;

/** Frames per row of a still (and sequences per row of an animation) before the grid wraps. */
export const TILES_PER_ROW = 16;
/** The most frames one preview draws (count x frames): about 70 MB of 64x64 tiles held at once. */
export const MAX_PREVIEW_TILES = 16384;

export interface SheetOptions {
  /** Columns before wrapping (default TILES_PER_ROW). */
  perRow?: number;
  /**
   * How wrapped rows are ordered. 'sequence' (default): each sequence's rows together, as a text
   * reads. 'band': the first `perRow` frames of every sequence, then the next ones: sequences
   * that are meant to be compared (a source and its decodings) stay next to each other.
   */
  order?: 'sequence' | 'band';
}

/**
 * A still grid of `sequences` x `frames` tiles drawn as batches arrive (memory: the 8-bit image,
 * not the batch): one row per sequence and one column per frame, wrapping every `perRow` frames.
 */
export class PreviewSheet {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
  private readonly bands: number;
  private readonly perRow: number;

  constructor(readonly sequences: number, readonly frames: number, readonly tileHeight: number, readonly tileWidth: number, private readonly options: SheetOptions = {}) {
    checkTiles(sequences, frames);
    this.perRow = Math.min(frames, options.perRow ?? TILES_PER_ROW);
    this.bands = Math.ceil(frames / this.perRow);
    const rows = sequences * this.bands;
    this.width = this.perRow * (tileWidth + GAP) - GAP;
    this.height = this.rowY(rows - 1) + tileHeight;
    this.pixels = new Uint8Array(this.width * this.height).fill(GAP_VALUE);
  }

  private rowY(row: number): number {
    const group = this.bands === 1 ? 0 : Math.floor(row / (this.options.order === 'band' ? this.sequences : this.bands));
    return row * (this.tileHeight + GAP) + group * GROUP_GAP;
  }

  /** Draw the sequences of `batch` as sequences first, first + 1, ... of the sheet. */
  draw(batch: VideoBatch, first = 0): void {
    const [B, T, H, W] = batch.shape;
    if (H !== this.tileHeight || W !== this.tileWidth || T !== this.frames || first + B > this.sequences) throw new Error('PreviewSheet.draw: batch does not fit the sheet');
    for (let b = 0; b < B; b++) {
      const s = first + b;
      for (let t = 0; t < T; t++) {
        const band = Math.floor(t / this.perRow);
        const row = this.options.order === 'band' ? band * this.sequences + s : s * this.bands + band;
        tile(batch.data, (b * T + t) * H * W, H, W, this.pixels, this.width, this.rowY(row), (t % this.perRow) * (W + GAP));
      }
    }
  }

  png(): Uint8Array {
    return grayPng(this.width, this.height, this.pixels);
  }
}

function checkTiles(sequences: number, frames: number): void {
  if (sequences * frames > MAX_PREVIEW_TILES) {
    throw new UserError(`a preview holds at most ${MAX_PREVIEW_TILES} frames (sequences x frames), got ${sequences} x ${frames} = ${sequences * frames}: lower the count or the frames`);
  }
}

/** Copy one frame (values in [0, 1]) into an 8-bit canvas at (x, y). */
function tile(data: Float32Array, src: number, H: number, W: number, pixels: Uint8Array, width: number, y0: number, x0: number): void {
  for (let y = 0; y < H; y++) {
    const dst = (y0 + y) * width + x0;
    for (let x = 0; x < W; x++) pixels[dst + x] = Math.round(255 * Math.min(1, Math.max(0, data[src + y * W + x]!)));
  }
}

/** An 8-bit grayscale PNG straight from gray bytes (no RGBA copy). */
function grayPng(width: number, height: number, pixels: Uint8Array): Uint8Array {
  const png = new PNG();
  png.width = width;
  png.height = height;
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

/**
 * An animation of `sequences` side by side (wrapping every `perRow`), one animation frame per video
 * frame, drawn as batches of sequences arrive; `gif()` encodes it.
 */
export class PreviewAnimation {
  readonly width: number;
  readonly height: number;
  private readonly canvases: Uint8Array[];
  private readonly perRow: number;

  constructor(readonly sequences: number, readonly frames: number, readonly tileHeight: number, readonly tileWidth: number, perRow = TILES_PER_ROW) {
    checkTiles(sequences, frames);
    this.perRow = Math.min(sequences, perRow);
    const rows = Math.ceil(sequences / this.perRow);
    this.width = this.perRow * (tileWidth + GAP) - GAP;
    this.height = rows * (tileHeight + GAP) - GAP;
    this.canvases = Array.from({ length: frames }, () => new Uint8Array(this.width * this.height).fill(GAP_VALUE));
  }

  draw(batch: VideoBatch, first = 0): void {
    const [B, T, H, W] = batch.shape;
    if (H !== this.tileHeight || W !== this.tileWidth || T !== this.frames || first + B > this.sequences) throw new Error('PreviewAnimation.draw: batch does not fit');
    for (let b = 0; b < B; b++) {
      const s = first + b;
      const [row, col] = [Math.floor(s / this.perRow), s % this.perRow];
      for (let t = 0; t < T; t++) tile(batch.data, (b * T + t) * H * W, H, W, this.canvases[t]!, this.width, row * (H + GAP), col * (W + GAP));
    }
  }

  gif(delayMs = 100): Uint8Array {
    const gif = gifenc.GIFEncoder();
    const palette = Array.from({ length: 256 }, (_, v) => [v, v, v]);
    // The global palette (first frame) is the identity on gray levels, so pixel values are its indices.
    this.canvases.forEach((c, t) => gif.writeFrame(c, this.width, this.height, { palette: t === 0 ? palette : undefined, delay: delayMs }));
    gif.finish();
    return gif.bytes();
  }
}

/** A PNG grid of a whole batch: one row per sequence, one column per frame (wrapping every TILES_PER_ROW frames). */
export function previewPng(batch: VideoBatch, options?: SheetOptions): Uint8Array {
  const [B, T, H, W] = batch.shape;
  const sheet = new PreviewSheet(B, T, H, W, options);
  sheet.draw(batch);
  return sheet.png();
}

/** An animated GIF of a whole batch: the sequences side by side, one animation frame per video frame. */
export function previewGif(batch: VideoBatch, delayMs = 100): Uint8Array {
  const [B, T, H, W] = batch.shape;
  const anim = new PreviewAnimation(B, T, H, W);
  anim.draw(batch);
  return anim.gif(delayMs);
}
