import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { renderChart } from '../src/repro/chart.ts';

test('a Vega-Lite line chart renders headless to an SVG with its data and a PNG of twice its size', async () => {
  const values = [1, 2, 3].flatMap((frame) => [{ frame, decoder: 'fmd', mse: 0.01 * frame }, { frame, decoder: 'jd', mse: 0.02 * frame }]);
  const { svg, png } = await renderChart({
    width: 200, height: 120, data: { values }, mark: { type: 'line', point: true },
    encoding: { x: { field: 'frame', type: 'ordinal' }, y: { field: 'mse', type: 'quantitative' }, color: { field: 'decoder', type: 'nominal' } },
  });
  assert.match(svg, /^<svg/);
  assert.match(svg, />jd</);
  assert.equal((svg.match(/class="mark-line role-mark/g) ?? []).length, 2, 'one line per decoder');
  const widthMatch = /<svg[^>]* width="(\d+(?:\.\d+)?)"/.exec(svg);
  assert.ok(widthMatch, 'the SVG states its width');
  const img = PNG.sync.read(Buffer.from(png));
  assert.equal(img.width, Math.round(2 * Number(widthMatch[1])));
  // Not blank: the lines and axes draw dark pixels on the white background.
  let dark = 0;
  for (let i = 0; i < img.data.length; i += 4) if (img.data[i]! < 128) dark++;
  assert.ok(dark > 100, `only ${dark} dark pixels`);
});
