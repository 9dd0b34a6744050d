import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { initEngine, type BackendName } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { describeModel } from '../models/model-file.ts';
import { presetNames, presets } from '../train/presets.ts';
import { runTraining } from '../train/run.ts';
import { parseFlags } from './args.ts';
import type { Command } from './command.ts';

const USAGE = 'usage: rdpv train --preset NAME[,NAME...] [--steps N] [--lambda X] [--out DIR] [--resume] [--from MODEL] [--jobs N] [--backend wasm|cpu] | --list';

/** Run one preset per child process, at most `jobs` at a time, prefixing their output lines. */
async function runChildren(names: string[], jobs: number, forward: (name: string) => string[]): Promise<number> {
  const cli = fileURLToPath(new URL('../../bin/rdpv.js', import.meta.url));
  let worst = 0;
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const child = spawn(process.execPath, [cli, 'train', '--preset', name, ...forward(name)], { stdio: ['ignore', 'pipe', 'pipe'] });
      for (const [stream, sink] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
        createInterface({ input: stream }).on('line', (l) => sink.write(`[${name}] ${l}\n`));
      }
      const code = await new Promise<number>((resolve) => child.on('close', (c, s) => resolve(c ?? (s ? 1 : 0))));
      if (code !== 0) process.stderr.write(`[${name}] exited with code ${code}\n`);
      worst = Math.max(worst, code);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, names.length) }, worker));
  return worst;
}

export default {
  summary: 'train a preset (I-frame codec: MSE stage, then perception stage); --list shows presets',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, {
      preset: { type: 'string' }, steps: { type: 'int', min: 1 }, lambda: { type: 'number', min: 0 }, out: { type: 'string' }, resume: { type: 'boolean' },
      from: { type: 'string' }, jobs: { type: 'int', min: 1, max: 64, default: 1 }, backend: { type: 'choice', choices: ['wasm', 'cpu'], default: 'wasm' }, list: { type: 'boolean' },
    });
    if (values.list) {
      for (const name of presetNames()) {
        const c = presets[name]!;
        console.log(`${name.padEnd(26)} ${c.stage.padEnd(10)} ${describeModel(c.model)} batch ${c.batch} steps ${c.steps}${c.stage === 'perception' ? ` lambda ${c.lambda} from ${c.from}` : ''}`);
      }
      return 0;
    }
    if (!values.preset) throw new UserError(`--preset is required (${USAGE})`);
    const names = values.preset.split(',');
    for (const n of names) if (!presets[n]) throw new UserError(`unknown preset '${n}' (known: ${presetNames().join(', ')})`);
    const { backend, steps, lambda, jobs } = values;
    if (names.length > 1 && values.from) throw new UserError('--from applies to one preset at a time');
    const outFor = (name: string) => (values.out === undefined ? join('runs', name) : names.length > 1 ? join(values.out, name) : values.out);

    if (names.length > 1 || jobs > 1) {
      return runChildren(names, jobs, (name) => [
        '--out', outFor(name), '--backend', backend,
        ...(steps !== undefined ? ['--steps', String(steps)] : []), ...(lambda !== undefined ? ['--lambda', String(lambda)] : []),
        ...(values.resume ? ['--resume'] : []),
      ]);
    }
    await initEngine({ backend: backend as BackendName });
    const name = names[0]!;
    const config = { ...presets[name]!, ...(steps !== undefined ? { steps } : {}), ...(lambda !== undefined ? { lambda } : {}) };
    const result = await runTraining({ preset: name, config, out: outFor(name), resume: values.resume ?? false, from: values.from });
    if (result.exitCode === 0) console.log(JSON.stringify({ preset: name, steps: result.step, model: result.modelPath, sha256: result.sha256, metrics: result.metrics }));
    return result.exitCode;
  },
} satisfies Command;
