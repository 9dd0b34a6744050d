/**
 * Charts for the reproduction's figures: a Vega-Lite spec compiled and rendered headless by
 * Vega to SVG, and the SVG rasterised to PNG by resvg (no browser, no canvas). Text in the PNG
 * uses the system's fonts (Debian: fonts-dejavu-core); the SVG carries its text as text.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type ChartSpec = TopLevelSpec;

export interface RenderedChart {
  svg: string;
  png: Uint8Array;
}

/** Renders a Vega-Lite spec (data inline) to SVG and to a PNG at `scale` times the SVG's size. */
export async function renderChart(spec: ChartSpec, scale = 2): Promise<RenderedChart> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, { font: { loadSystemFonts: true }, fitTo: { mode: 'zoom', value: scale }, background: 'white' }).render().asPng();
    return { svg, png: new Uint8Array(png.buffer, png.byteOffset, png.byteLength) };
  } finally {
    view.finalize();
  }
}
