import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GrayImage } from '../src/data/frames-io.ts';
import { gridLayout, labelledGrid } from '../src/repro/labelled-grid.ts';

const SIZE = 8;
/** A tile whose every pixel says where it is from: no two tiles or pixels of a small grid alike. */
const tile = (r: number, c: number) => Uint8Array.from({ length: SIZE * SIZE }, (_, p) => (r * 64 + c * 16 + p) % 200);
const tiles = (rows: number, cols: number) => Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => tile(r, c)));
const at = (img: GrayImage, x: number, y: number) => img.pixels[y * img.width + x]!;
/** Dark pixels (text) in a rectangle. */
function dark(img: GrayImage, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(img.height, y1); y++) for (let x = Math.max(0, x0); x < Math.min(img.width, x1); x++) if (at(img, x, y) < 128) n++;
  return n;
}

test('tiles land pixel-exact at the layout\'s offsets, enlarged nearest-neighbour, with background in the gaps', () => {
  const o = { columns: ['A', 'B', 'C'], rows: ['one', 'two'], title: 'grid', scale: 3, gap: 4 };
  const img = labelledGrid(tiles(2, 3), SIZE, o);
  const L = gridLayout(2, 3, SIZE, o);
  assert.equal(L.tile, 24);
  assert.equal(L.step, 28);
  assert.deepEqual([img.width, img.height], [L.width, L.height]);
  assert.equal(img.pixels.length, img.width * img.height);
  assert.ok(L.left > 0 && L.top > 0, 'room for the row labels and the title and column labels');
  assert.equal(L.height, L.top + 2 * 28 - 4, 'no band below the last row');
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 3; c++) {
      const t = tile(r, c);
      for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) {
        assert.equal(at(img, L.left + c * 28 + x, L.top + r * 28 + y), t[Math.floor(y / 3) * SIZE + Math.floor(x / 3)], `tile ${r},${c} pixel ${x},${y}`);
      }
      // The gap right of and below each tile is background.
      if (c < 2) for (let y = 0; y < 24; y++) for (let g = 0; g < 4; g++) assert.equal(at(img, L.left + c * 28 + 24 + g, L.top + r * 28 + y), 255);
      if (r < 1) for (let x = 0; x < 24; x++) for (let g = 0; g < 4; g++) assert.equal(at(img, L.left + c * 28 + x, L.top + r * 28 + 24 + g), 255);
    }
  }
});

test('without row labels, a title or wide column labels the first tile sits at the left edge; scale and gap default to 1 and 2', () => {
  const img = labelledGrid(tiles(1, 2), SIZE, { columns: ['', ''] });
  const L = gridLayout(1, 2, SIZE, { columns: ['', ''] });
  assert.deepEqual([L.left, L.step, L.tile], [0, SIZE + 2, SIZE]);
  assert.equal(img.width, 2 * SIZE + 2);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) assert.equal(at(img, x, L.top + y), tile(0, 0)[y * SIZE + x]);
});

test('labels are real text: dark pixels over each column, left of each row and in the title band; empty labels leave the bands blank', () => {
  const o = { columns: ['X1', 'JD 2', 'MMSE 3'], rows: ['#12 (7)', '#3 (1)'], title: 'Figure', scale: 4 };
  const img = labelledGrid(tiles(2, 3), SIZE, o);
  const L = gridLayout(2, 3, SIZE, o);
  const bandTop = L.top - 22; // the column-label band (the title band lies above it)
  for (let c = 0; c < 3; c++) assert.ok(dark(img, L.left + c * L.step, bandTop, L.left + c * L.step + L.tile, L.top) > 10, `column label ${c}`);
  for (let r = 0; r < 2; r++) assert.ok(dark(img, 0, L.top + r * L.step, L.left, L.top + r * L.step + L.tile) > 10, `row label ${r}`);
  assert.ok(dark(img, 0, 0, img.width, bandTop) > 10, 'title');
  // The same grid with empty labels: the bands hold no ink, so the ink above came from the text.
  const blank = labelledGrid(tiles(2, 3), SIZE, { columns: ['', '', ''], rows: ['', ''], scale: 4 });
  const B = gridLayout(2, 3, SIZE, { columns: ['', '', ''], rows: ['', ''], scale: 4 });
  assert.equal(dark(blank, 0, 0, blank.width, B.top), 0);
  assert.equal(dark(blank, 0, 0, B.left, blank.height), 0);
});

test('a label wider than its tile stays whole: the image grows margins on both sides', () => {
  const o = { columns: ['a long column label', 'b'] };
  const L = gridLayout(1, 2, SIZE, o);
  assert.ok(L.left > 0 && L.width > L.left + 2 * L.step - 2, 'margins left and right');
  const img = labelledGrid(tiles(1, 2), SIZE, o);
  // No ink touches the image's left or right edge.
  assert.equal(dark(img, 0, 0, 1, L.top), 0);
  assert.equal(dark(img, img.width - 1, 0, img.width, L.top), 0);
});

test('bad input is refused: ragged rows, tiles of the wrong size, row labels that do not match, a zero scale', () => {
  assert.throws(() => labelledGrid([[tile(0, 0)], []], SIZE, { columns: ['a'] }), RangeError);
  assert.throws(() => labelledGrid([[new Uint8Array(3)]], SIZE, { columns: ['a'] }), RangeError);
  assert.throws(() => labelledGrid(tiles(2, 1), SIZE, { columns: ['a'], rows: ['x'] }), RangeError);
  assert.throws(() => labelledGrid(tiles(1, 1), SIZE, { columns: ['a'], scale: 0 }), RangeError);
});
