import { UserError } from '../errors.ts';
import { optionsHelp, parseFlags, type Flag } from './args.ts';
import type { Command } from './command.ts';
import { prepareOutputFile, writeOutput } from './output.ts';
import { builtins } from '../theory/builtins.ts';
import { analyseFmd, analyseJoint, type FrameReport } from '../theory/discrete.ts';
import { counterexampleClosedForm, counterexampleModel, lowRateSweep } from '../theory/families.ts';
import { discreteModel, parseSpec, readSpec, type DiscreteSource, type TheorySpec } from '../theory/format.ts';
import { analyseGaussian } from '../theory/gaussian.ts';

const MODES = ['fmd', 'jd', 'counterexample', 'low-rate'] as const;
type Mode = (typeof MODES)[number];
const isMode = (s: string | undefined): s is Mode => MODES.includes(s as Mode);
const DEFAULT_MU = [0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.001];

const FLAGS = {
  source: { type: 'string', value: 'FILE.json', help: "a source and encoder spec (docs/theory.md; examples/theory/); default: the built-in one of the mode" },
  json: { type: 'boolean', help: 'print the result as JSON' },
  mu: { type: 'string', value: 'X,Y,...', help: `low-rate only: the values of mu, each in (0, 1] (default ${DEFAULT_MU.join(',')})` },
  out: { type: 'string', short: 'o', value: 'FILE', help: 'also write the JSON result to FILE (atomically: a temporary name, then renamed; its folder is created if need be)' },
} as const satisfies Record<string, Flag>;

const USAGE = `usage: rdpv theory fmd|jd|counterexample|low-rate [--source FILE.json] [--json] [--mu 0.5,0.1,...] [-o FILE.json]
Exact distortions for small sources (paper section 3, appendices A-C), per frame: the MMSE, the
squared W2 distance, the 0-PLF-FMD and the 0-PLF-JD distortion, and whether each is within twice
the MMSE.
  fmd             the 0-PLF-FMD minimum (Theorem 3.2), discrete or Gaussian sources (default: binary Markov)
  jd              the same plus the 0-PLF-JD achievable distortion (Theorem B.1), discrete sources
  counterexample  Appendix B.1 on the source's first two frames, with the closed forms (eqs. 41, 43)
  low-rate        the noisy encoder family of Theorem 3.3 / eq. (44), one table per mu
options:
${optionsHelp(FLAGS)}`;

function discrete(spec: TheorySpec, mode: Mode): DiscreteSource {
  if (spec.source.kind !== 'discrete') throw new UserError(`source: '${mode}' needs a discrete source (support and p)`);
  return spec.source;
}

function parseMus(text: string | undefined): number[] {
  if (text === undefined) return DEFAULT_MU;
  return text.split(',').map((s) => {
    const mu = Number(s);
    if (!(mu > 0 && mu <= 1)) throw new UserError(`--mu values must be numbers in (0, 1], got '${s}'`);
    return mu;
  });
}

const fmt = (x: number | undefined) => (x === undefined ? '-' : Number.isFinite(x) ? x.toPrecision(6) : String(x));

function table(rows: FrameReport[]): string {
  const head = ['frame', 'mmse', 'w2sq', 'fmd', 'fmd<=2mmse', 'jd', 'jd<=2mmse'];
  const body = rows.map((r) => [String(r.frame), fmt(r.mmse), fmt(r.w2sq), fmt(r.fmd), r.fmd_within_factor_two ? 'yes' : 'NO', fmt(r.jd), r.jd_within_factor_two === undefined ? '-' : r.jd_within_factor_two ? 'yes' : 'NO']);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  return [head, ...body].map((r) => r.map((v, c) => v.padStart(widths[c]!)).join('  ')).join('\n');
}

function analyse(spec: TheorySpec, mode: 'fmd' | 'jd'): FrameReport[] {
  if (spec.source.kind === 'gaussian') {
    if (mode === 'jd') throw new UserError('source.gaussian: jd (Theorem B.1) is computed for discrete sources only; use fmd');
    if (!spec.encoder || (spec.encoder.kind !== 'quantizer' && spec.encoder.kind !== 'noisy')) throw new UserError("encoder: a Gaussian source needs 'quantizer' or 'noisy'");
    return analyseGaussian(spec.source, spec.encoder);
  }
  const model = discreteModel(spec.source, spec.encoder);
  return mode === 'fmd' ? analyseFmd(model) : analyseJoint(model);
}

export default {
  summary: 'exact MMSE / 0-PLF-FMD / 0-PLF-JD distortions for small sources (paper sec. 3, app. A-C)',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, FLAGS, true);
    const mode = positionals[0];
    if (positionals.length !== 1 || !isMode(mode)) throw new UserError(`expected one of ${MODES.join('|')}, got '${positionals.join(' ')}' (${USAGE})`);
    if (values.mu !== undefined && mode !== 'low-rate') throw new UserError('--mu applies to low-rate only');
    if (values.out !== undefined) prepareOutputFile(values.out);
    const builtin = mode === 'fmd' || mode === 'jd' ? 'binary-markov' : mode;
    const spec = values.source === undefined ? parseSpec(structuredClone(builtins[builtin])) : readSpec(values.source);
    const from = values.source ?? `built-in '${builtin}'`;

    let result: Record<string, unknown>;
    let text: string;
    if (mode === 'fmd' || mode === 'jd') {
      const frames = analyse(spec, mode);
      result = { mode, source: from, frames };
      text = table(frames);
    } else if (mode === 'counterexample') {
      const source = discrete(spec, mode);
      const frames = analyseJoint(counterexampleModel(source));
      const closed = counterexampleClosedForm(source);
      result = { mode, source: from, frames, closed_form_jd: closed };
      text = `${table(frames)}\nclosed form (eqs. 41, 43): jd_1 = ${fmt(closed[0])}, jd_2 = ${fmt(closed[1])}; M_1 is independent of X_1, M_2 = X_2`;
    } else {
      const points = lowRateSweep(discrete(spec, mode), parseMus(values.mu));
      result = { mode, source: from, points };
      text = points.map((pt) => `mu = ${pt.mu}\n${table(pt.frames)}\njd/mmse: ${pt.frames.map((f) => fmt(f.jd_over_mmse)).join('  ')}`).join('\n\n');
    }
    if (values.out !== undefined) writeOutput(values.out, new TextEncoder().encode(JSON.stringify(result, null, 2) + '\n'));
    console.log(values.json ? JSON.stringify(result, null, 2) : `${mode}, source: ${from}\n${text}`);
    return 0;
  },
} satisfies Command;
