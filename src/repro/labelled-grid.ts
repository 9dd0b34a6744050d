/**
 * A grid of gray frames with real text around it: column labels on top, optional row labels at
 * the left and an optional title, for the reproduction's picture figures (and the demo's GIF).
 * The text is an SVG of <text> elements rasterised by resvg (the system's fonts, as the charts'
 * PNGs use), so a PNG reader sees letters, not a caption file beside the image.
 */
import { Resvg } from '@resvg/resvg-js';
import type { GrayImage } from '../data/frames-io.ts';

export interface GridLabels {
  columns: string[];
  rows?: string[];
  title?: string;
  /** Tiles are enlarged this many times, nearest neighbour (default 1). */
  scale?: number;
  /** Pixels between tiles (default 2). */
  gap?: number;
}

const BACKGROUND = 255;
const FONT = 13;
const TITLE_FONT = 15;
/** Band heights: a line of text with room above and below. */
const LABEL_BAND = FONT + 9;
const TITLE_BAND = TITLE_FONT + 11;
const PAD = 6;
/** Room per character: DejaVu Sans (the font CI installs) averages about 0.6 em, capitals up to 0.86; labels get a little more than the average. */
const CHAR_EM = 0.72;

const escape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Where the tiles go: the label bands' sizes and the top-left pixel of tile (row, col). */
export function gridLayout(rows: number, cols: number, size: number, o: GridLabels): { width: number; height: number; left: number; top: number; step: number; tile: number } {
  const scale = o.scale ?? 1;
  const gap = o.gap ?? 2;
  if (!Number.isInteger(scale) || scale < 1 || !Number.isInteger(gap) || gap < 0) throw new RangeError(`labelledGrid: scale must be a positive integer and gap a non-negative one, got ${scale}, ${gap}`);
  const tile = size * scale;
  const textWidth = (s: string, font = FONT) => Math.ceil(s.length * font * CHAR_EM);
  // A column label wider than its tile reaches past the outer tiles: margins on both sides keep it whole.
  const overhang = Math.max(0, ...o.columns.map((c) => Math.ceil((textWidth(c) - tile) / 2)));
  const left = Math.max(overhang, o.rows ? Math.max(0, ...o.rows.map((r) => textWidth(r))) + 2 * PAD : 0);
  const top = (o.title ? TITLE_BAND : 0) + LABEL_BAND;
  const step = tile + gap;
  const titleWidth = o.title ? textWidth(o.title, TITLE_FONT) + 2 * PAD : 0;
  return { width: Math.max(left + cols * step - gap + overhang, titleWidth), height: top + rows * step - gap, left, top, step, tile };
}

/**
 * tiles[row][col]: size x size gray frames (0..255). Column labels on top, optional row labels at
 * the left, optional title above; `scale` enlarges tiles (nearest neighbour), `gap` pixels between them.
 */
export function labelledGrid(tiles: Uint8Array[][], size: number, o: GridLabels): GrayImage {
  const rows = tiles.length;
  const cols = o.columns.length;
  if (rows < 1 || cols < 1) throw new RangeError('labelledGrid: no tiles');
  if (tiles.some((r) => r.length !== cols || r.some((t) => t.length !== size * size))) throw new RangeError(`labelledGrid: every row needs ${cols} tiles of ${size}x${size}`);
  if (o.rows && o.rows.length !== rows) throw new RangeError(`labelledGrid: ${o.rows.length} row labels for ${rows} rows`);
  const { width, height, left, top, step, tile } = gridLayout(rows, cols, size, o);

  // The text first, on the whole canvas (black on white), then the tiles over it.
  const text = [
    ...(o.title ? [`<text x="${width / 2}" y="${TITLE_BAND - 9}" font-size="${TITLE_FONT}" font-weight="bold" text-anchor="middle">${escape(o.title)}</text>`] : []),
    ...o.columns.map((c, j) => `<text x="${left + j * step + tile / 2}" y="${top - 7}" font-size="${FONT}" text-anchor="middle">${escape(c)}</text>`),
    ...(o.rows ?? []).map((r, i) => `<text x="${left - PAD}" y="${top + i * step + tile / 2 + FONT * 0.35}" font-size="${FONT}" text-anchor="end">${escape(r)}</text>`),
  ];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" fill="black">${text.join('')}</svg>`;
  const rgba = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().pixels;
  const pixels = new Uint8Array(width * height).fill(BACKGROUND);
  // Black text on white: every channel carries the coverage; take the green one (the luma's largest weight).
  for (let p = 0; p < pixels.length; p++) pixels[p] = rgba[4 * p + 1]!;

  const scale = o.scale ?? 1;
  tiles.forEach((row, i) => row.forEach((t, j) => {
    const x0 = left + j * step;
    const y0 = top + i * step;
    for (let y = 0; y < tile; y++) {
      const src = Math.floor(y / scale) * size;
      const dst = (y0 + y) * width + x0;
      for (let x = 0; x < tile; x++) pixels[dst + x] = t[src + Math.floor(x / scale)]!;
    }
  }));
  return { width, height, pixels };
}

/** Frames in [0, 1] (one frame of `size * size` values) to 8-bit tiles, rounded as previews round them. */
export function toTile(frame: Float32Array): Uint8Array {
  return Uint8Array.from(frame, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
}
