/**
 * `rdpv repro permanence`: error permanence measured on GOP-3 models. The shipped digit
 * classifier reads every frame each decoder reconstructs (src/eval/permanence.ts) and the
 * command tabulates, per model, decoder and frame, how often the digit is wrong, and how often a
 * wrong frame 1 is still wrong (and still the same wrong digit) in frames 2 and 3. The paper's
 * claim: the 0-PLF-JD decoder keeps a wrong first frame's digit, the 0-PLF-FMD decoder corrects it.
 * Writes permanence.json, permanence.md and a bar chart (permanence.svg, permanence.png).
 */
import { join } from 'node:path';
import { initEngine } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { movingMnistSource } from '../data/source.ts';
import type { Split } from '../data/types.ts';
import { classifierFn, DIGIT_CLASSIFIER_NAME, loadShippedClassifier } from '../eval/classifier.ts';
import { errorPermanence, permanenceMarkdown, type ErrorCounts, type PermanenceResult } from '../eval/permanence.ts';
import { DECODERS, type DecoderName } from '../models/decoders.ts';
import { disposeModel, type LoadedModel } from '../models/model-file.ts';
import { disposeParams } from '../models/params.ts';
import { folderStore, isModelPath, loadModelArg, readModelPath } from '../models/weights-io.ts';
import { loadZooModel, MANIFEST, zooManifest, type WeightStore } from '../models/zoo.ts';
import { presets } from '../train/presets.ts';
import { MODEL } from '../train/run.ts';
import { EVAL_DATA_SEED } from './cell-eval.ts';
import { renderChart, type ChartSpec } from './chart.ts';
import { fig3Cells } from './fig3.ts';
import { trainingFinished, writeResults } from './runs.ts';

/** One model to read: a label for tables and charts (default: the model's name), where it comes from, and how to load it. */
export interface PermanenceModel {
  label?: string;
  from: string;
  load(): Promise<LoadedModel>;
}

/** The GOP-3 cells read: Figure 3's (R1 = 12, src/repro/fig3.ts), named as their perception preset's cell. */
export const gop3Cells = (tiny: boolean): { cell: string; preset: string }[] => fig3Cells(tiny).map((c) => ({ cell: c.name, preset: c.preset }));

export type ModelChoice = { kind: 'files'; specs: string[] } | { kind: 'pretrained' } | { kind: 'runs'; runs: string };

/**
 * The models a choice names, and the cells it lacks: `--model` specs as given (files or zoo
 * names); `--pretrained` every GOP-3 cell from the zoo (one line naming the entries not shipped);
 * `--runs` every GOP-3 cell whose perception run is finished there (the others come back as missing).
 */
export async function permanenceModels(choice: ModelChoice, tiny: boolean, zoo: WeightStore = folderStore()): Promise<{ models: PermanenceModel[]; missing: string[] }> {
  if (choice.kind === 'files') {
    // Checked up front: a wrong name found at its turn would come after the models before it had run.
    const shipped = (await zooManifest(zoo)).filter((e) => e.kind === undefined).map((e) => e.name);
    const unknown = choice.specs.find((spec) => !isModelPath(spec) && !shipped.includes(spec));
    if (unknown !== undefined) throw new UserError(`--model ${unknown}: neither a model file nor a shipped model; shipped: ${shipped.join(', ')}`);
    return { models: choice.specs.map((spec) => ({ from: spec, load: () => loadModelArg(spec) })), missing: [] };
  }
  const cells = gop3Cells(tiny);
  if (cells.length === 0) throw new UserError(`no GOP-3 presets (${tiny ? 'tiny-' : ''}pframe-12-R2-R3-perception) in the preset registry`);
  if (choice.kind === 'pretrained') {
    const entries = await zooManifest(zoo);
    const absent = cells.filter((c) => !entries.some((e) => e.name === c.cell)).map((c) => c.cell);
    if (absent.length) throw new UserError(`--pretrained: ${zoo.where(MANIFEST)} has no entry for ${absent.join(', ')}; train them (rdpv train --preset ${cells[0]!.preset}) and pass --runs, or pass --model FILE`);
    return { models: cells.map((c) => ({ label: c.cell, from: `zoo:${c.cell}`, load: () => loadZooModel(zoo, c.cell) })), missing: [] };
  }
  const done = cells.filter((c) => trainingFinished(join(choice.runs, c.preset), presets[c.preset]!.steps));
  const missing = cells.filter((c) => !done.includes(c)).map((c) => c.cell);
  if (done.length === 0) {
    throw new UserError(`--runs ${choice.runs}: no finished GOP-3 run (${cells.map((c) => join(choice.runs, c.preset, MODEL)).join(', ')}); train one with rdpv train --preset ${cells[0]!.preset} --out ${join(choice.runs, cells[0]!.preset)}`);
  }
  return {
    models: done.map((c) => {
      const path = join(choice.runs, c.preset, MODEL);
      return { label: c.cell, from: path, load: async () => readModelPath(path, `model of ${c.cell}`) };
    }),
    missing,
  };
}

export interface PermanenceRow {
  label: string;
  model: { from: string; id: string; sha256: string };
  result: PermanenceResult;
  seconds: number;
}

export interface PermanenceTable {
  experiment: 'permanence';
  what: string;
  classifier: { name: string; sha256: string };
  source: string;
  /** The test split, or training sequences from `first` on (held out from training, to choose settings by). */
  split: Split;
  first: number;
  samples: number;
  dither_seeds: number[];
  models: PermanenceRow[];
  /** GOP-3 cells without a finished run (with --runs). */
  missing: string[];
}

const sequencesRead = (t: { split: Split; first: number }) => (t.split === 'test' ? 'test sequences' : `held-out training sequences from ${t.first}`);

export interface PermanenceOptions {
  models: PermanenceModel[];
  missing: string[];
  samples: number;
  ditherSeeds: number;
  results: string;
  threads?: number;
  batch?: number;
  /** Read training sequences from this index on instead of the test split (far past what training reads). */
  heldOut?: number;
  /** Where the classifier (and zoo models) are read (default: models/ of the package). */
  zoo?: WeightStore;
  say?: (line: string) => void;
}

const ROWS = (r: PermanenceResult): [string, ErrorCounts][] => [
  ['ground truth', r.truth],
  ...(Object.entries(r.decoders) as [DecoderName, ErrorCounts][]).map(([d, c]): [string, ErrorCounts] => [DECODERS[d].title, c]),
];

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${(100 * v).toFixed(1)}%`);

/** One bar per model, reader (ground truth or decoder) and frame, for both measures; a conditional rate without a wrong frame 1 draws no bar. */
export function permanenceChartRows(t: PermanenceTable): { model: string; measure: string; frame: string; reader: string; value: number }[] {
  return t.models.flatMap((m) => ROWS(m.result).flatMap(([reader, c]) => [
    ...c.wrong.map((value, k) => ({ model: m.label, measure: 'digit wrong', frame: `frame ${k + 1}`, reader, value })),
    ...c.later.filter((l) => l.still_wrong !== null).map((l) => ({ model: m.label, measure: 'still wrong, given frame 1 wrong', frame: `frame ${l.frame}`, reader, value: l.still_wrong! })),
  ]));
}

export function permanenceChartSpec(t: PermanenceTable): ChartSpec {
  const readers = ['ground truth', ...Object.values(DECODERS).map((d) => d.title)];
  return {
    title: { text: 'Error permanence: the digit classifier on each decoder\'s frames', subtitle: `${t.samples} ${sequencesRead(t)} x ${t.dither_seeds.length} dither seed(s)` },
    data: { values: permanenceChartRows(t) },
    facet: { row: { field: 'measure', type: 'nominal', title: null }, column: { field: 'model', type: 'nominal', title: null } },
    spec: {
      width: 180, height: 120, mark: 'bar',
      encoding: {
        x: { field: 'frame', type: 'ordinal', title: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'reader', type: 'nominal', sort: readers },
        y: { field: 'value', type: 'quantitative', title: 'share', axis: { format: '.0%' }, scale: { domain: [0, 1] } },
        color: { field: 'reader', type: 'nominal', sort: readers, title: 'frames read' },
      },
    },
  };
}

/** The table for people: the claim in one table (frame 1 wrong, then still wrong and the same digit kept at the last frame), then each model's full counts. */
export function permanenceTableMarkdown(t: PermanenceTable): string {
  const lines = [
    '# Error permanence: a digit classifier reads every reconstructed frame',
    '',
    `${t.samples} ${sequencesRead(t)} of ${t.source} x dither seeds ${t.dither_seeds.join(', ')}; the shipped classifier ${t.classifier.name} (sha256 ${t.classifier.sha256.slice(0, 12)}). ` +
      '"Still wrong": of the groups whose frame 1 is read wrong, the share read wrong at that frame; "same digit": still showing frame 1\'s wrong digit. ' +
      'The paper\'s claim: 0-PLF-JD keeps the error (high), 0-PLF-FMD corrects it (low). The ground-truth row is the classifier\'s own floor.',
    '',
    '| model | rates | decoder | frame 1 wrong | still wrong at the last frame | same digit at the last frame | wrong throughout |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of t.models) {
    for (const [reader, c] of ROWS(m.result)) {
      const last = c.later.at(-1);
      lines.push(`| ${m.label} | ${m.result.rates.join('-')} | ${reader} | ${pct(c.wrong[0])} (${c.wrong_first}/${c.count}) | ${pct(last?.still_wrong)} | ${pct(last?.same_wrong)} | ${pct(c.wrong_throughout)} |`);
    }
  }
  for (const m of t.models) lines.push('', `## ${m.label} (rates ${m.result.rates.join(', ')}; ${m.model.from}, sha256 ${m.model.sha256.slice(0, 16)})`, '', permanenceMarkdown(m.result).trimEnd());
  if (t.missing.length) lines.push('', `Not measured (no finished run): ${t.missing.join(', ')}.`);
  return lines.join('\n') + '\n';
}

/** Read every model's frames with the classifier, write the table and the chart; returns them and the files written. */
export async function runPermanence(o: PermanenceOptions): Promise<{ table: PermanenceTable; files: string[] }> {
  const say = o.say ?? ((l: string) => process.stderr.write(l + '\n'));
  await initEngine({ threads: o.threads ?? 1 });
  const zoo = o.zoo ?? folderStore();
  const classifier = await loadShippedClassifier(zoo);
  const seeds = Array.from({ length: o.ditherSeeds }, (_, i) => i + 1);
  const source = movingMnistSource({ seed: EVAL_DATA_SEED });
  const t0 = performance.now();
  const rows: PermanenceRow[] = [];
  const split: Split = o.heldOut === undefined ? 'test' : 'train';
  const first = o.heldOut ?? 0;
  say(`[repro] permanence: ${o.models.length} model(s), ${o.samples} ${sequencesRead({ split, first })} x ${seeds.length} dither seed(s)${o.missing.length ? `; not trained yet: ${o.missing.join(', ')}` : ''}`);
  try {
    for (const [i, m] of o.models.entries()) {
      const started = performance.now();
      say(`[repro] start ${m.label ?? m.from} (${i + 1}/${o.models.length}): ${m.from}`);
      const lm = await m.load();
      const label = m.label ?? lm.id;
      try {
        const result = errorPermanence(lm.model, source, classifierFn(classifier.params), { samples: o.samples, ditherSeeds: seeds, batch: o.batch, split, first });
        const seconds = (performance.now() - started) / 1000;
        rows.push({ label, model: { from: m.from, id: lm.id, sha256: lm.sha256 }, result, seconds: Number(seconds.toFixed(2)) });
        say(`[repro] done ${label} in ${seconds.toFixed(1)}s (total ${((performance.now() - t0) / 1000).toFixed(1)}s)`);
      } finally {
        disposeModel(lm.model);
      }
    }
  } finally {
    disposeParams(classifier.params);
  }
  // Labels name the bars' facets: two models given under one label would share a facet.
  const seen = new Map<string, number>();
  for (const r of rows) {
    const k = (seen.get(r.label) ?? 0) + 1;
    seen.set(r.label, k);
    if (k > 1) r.label = `${r.label} (${k})`;
  }
  const table: PermanenceTable = {
    experiment: 'permanence',
    what: 'the digit classifier on every frame of every decoder: per frame the share read wrong; per later frame, of the groups whose frame 1 is wrong, the share still wrong and still showing the same digit (src/eval/permanence.ts)',
    classifier: { name: DIGIT_CLASSIFIER_NAME, sha256: classifier.sha256 }, source: source.name, split, first, samples: o.samples, dither_seeds: seeds,
    models: rows, missing: o.missing,
  };
  const chart = await renderChart(permanenceChartSpec(table));
  const files = writeResults(o.results, split === 'test' ? 'permanence' : 'permanence-heldout', { json: JSON.stringify(table, null, 2) + '\n', md: permanenceTableMarkdown(table), svg: chart.svg, png: chart.png });
  return { table, files };
}
