import gifenc from 'gifenc';
import { PNG } from 'pngjs';
import type { VideoBatch } from './types.ts';

/** Pixels between tiles, drawn mid-gray so black frames stay distinguishable. */
const GAP = 2;
const GAP_VALUE = 128;

interface GrayImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** Tiles of a batch laid out on a gray canvas; tile(b, t) gives the grid cell (row, col) of frame t of sequence b. */
function layout(batch: VideoBatch, rows: number, cols: number, frames: number[], cell: (b: number, t: number) => [number, number]): GrayImage {
  const [B, T, H, W] = batch.shape;
  const width = cols * (W + GAP) - GAP;
  const height = rows * (H + GAP) - GAP;
  const pixels = new Uint8Array(width * height).fill(GAP_VALUE);
  for (let b = 0; b < B; b++) {
    for (const t of frames) {
      const [row, col] = cell(b, t);
      const src = (b * T + t) * H * W;
      for (let y = 0; y < H; y++) {
        const dst = (row * (H + GAP) + y) * width + col * (W + GAP);
        for (let x = 0; x < W; x++) pixels[dst + x] = Math.round(255 * Math.min(1, Math.max(0, batch.data[src + y * W + x]!)));
      }
    }
  }
  return { width, height, pixels };
}

/** A PNG grid: one row per sequence, one column per frame. */
export function previewPng(batch: VideoBatch): Buffer {
  const [B, T] = batch.shape;
  const frames = Array.from({ length: T }, (_, t) => t);
  const img = layout(batch, B, T, frames, (b, t) => [b, t]);
  const png = new PNG({ width: img.width, height: img.height });
  for (let p = 0; p < img.pixels.length; p++) {
    png.data.fill(img.pixels[p]!, 4 * p, 4 * p + 3);
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 0 });
}

/** An animated GIF: the sequences side by side, one animation frame per video frame. */
export function previewGif(batch: VideoBatch, delayMs = 100): Uint8Array {
  const [B, T] = batch.shape;
  const gif = gifenc.GIFEncoder();
  const palette = Array.from({ length: 256 }, (_, v) => [v, v, v]);
  for (let t = 0; t < T; t++) {
    const img = layout(batch, 1, B, [t], (b) => [0, b]);
    // The global palette (first frame) is the identity on gray levels, so pixel values are its indices.
    gif.writeFrame(img.pixels, img.width, img.height, { palette: t === 0 ? palette : undefined, delay: delayMs });
  }
  gif.finish();
  return gif.bytes();
}
