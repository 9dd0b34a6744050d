import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { initEngine, type BackendName } from '../engine/index.ts';
import { UserError } from '../errors.ts';
import { describeModel } from '../models/model-file.ts';
import { presetNames, presets } from '../train/presets.ts';
import { checkReplicas, withReplicas } from '../train/parallel.ts';
import { runTraining } from '../train/run.ts';
import { backendFlag, givenFlags, optionsHelp, parseFlags, threadsFlag, type Flag } from './args.ts';
import type { Command } from './command.ts';
import { ensureFolder } from './output.ts';

/** Presets for tests and smoke runs (tiny networks, fault injection): left out of --list unless --all. */
export const isTestPreset = (name: string) => name.startsWith('tiny-');

/** The most steps a run may ask for: ten million is far beyond any preset (they take 4,500 to 21,000). */
const MAX_STEPS = 10_000_000;

const FLAGS = {
  preset: { type: 'string', value: 'NAME[,NAME...]', help: 'the presets to train (rdpv train --list); a preset that starts from another one in the list runs after it' },
  steps: { type: 'int', min: 1, max: MAX_STEPS, help: "training steps (default: the preset's)" },
  lambda: { type: 'number', min: 0, help: "perception presets: the weight of the critic's W1 in the loss (default: the preset's)" },
  'judge-steps': { type: 'int', min: 0, max: 1_000_000, value: 'N', help: "steps of each fresh judge critic at the end (default: the preset's; 0: none); the final evaluation's settings may change on --resume" },
  'lambda-joint': { type: 'number', min: 0, value: 'X', help: "GOP perception presets: the 0-PLF-JD decoder's own weight of its joint critic's W1 (default: --lambda)" },
  out: { type: 'string', value: 'DIR', help: 'the run folder: checkpoint, log.jsonl, model.safetensors, result.json (default runs/NAME; with several presets DIR/NAME)' },
  resume: { type: 'boolean', help: "continue from the run folder's checkpoint (bit-exact); without one, start from step 0" },
  from: { type: 'string', value: 'FILE', help: 'presets that start from a trained model: the model file to start from (default: the one its preset trained beside this run, or the shipped one)' },
  jobs: { type: 'int', min: 1, max: 64, default: 1, help: 'presets trained at once, one process each; SIGINT/SIGTERM reach every one and are waited for' },
  backend: backendFlag,
  threads: { ...threadsFlag, help: `${threadsFlag.help}; with --jobs J each process gets N/J (at least 1), with --replicas S each replica N/S` },
  replicas: { type: 'int', min: 1, max: 64, value: 'S', help: "data-parallel: each step's batch split over S worker threads, each with a replica of the model, their gradients and BatchNorm statistics averaged (default: the preset's, 1). The fastest way to use many cores; results are bit-identical for a given S, not across S" },
  'progress-every': { type: 'number', min: 1, max: 86_400, default: 30, value: 'S', help: 'when stderr is not a terminal: a progress line (step, loss, rate, ETA) every S seconds' },
  list: { type: 'boolean', help: 'list the presets (with --all: the test presets too) and exit' },
  all: { type: 'boolean', help: 'with --list: also the test presets (tiny-*)' },
} as const satisfies Record<string, Flag>;

const USAGE = `usage: rdpv train --preset NAME[,NAME...] [--steps N] [--lambda X] [--lambda-joint X] [--judge-steps N] [--out DIR] [--resume] [--from FILE] [--jobs N] [--threads N] [--replicas S] [--backend wasm|cpu|webgpu]
       rdpv train --list [--all]
Trains a preset: the I-frame codec (MSE stage, then a perception stage starting from it) and the
P-frame cells of the paper's Table 1. Writes a JSON-lines log, a checkpoint every few hundred steps
and on SIGINT/SIGTERM (atomically; checksummed), and at the end the model and its scores; a progress
bar on a terminal, else a progress line every --progress-every seconds. Prints one JSON line at the end.
options:
${optionsHelp(FLAGS)}`;

interface Job {
  name: string;
  /** The preset of this command that it starts from (it runs once that one succeeded). */
  after?: string;
}

/**
 * Run one preset per child process, at most `jobs` at a time, prefixing their output lines. A
 * preset waits for the one it starts from; SIGINT/SIGTERM are passed to every running child, no
 * new one starts, and the parent returns once all have exited.
 */
async function runChildren(list: Job[], jobs: number, forward: (name: string) => string[]): Promise<number> {
  const cli = fileURLToPath(new URL('../../bin/rdpv.js', import.meta.url));
  const status = new Map<string, number>();
  const running = new Map<string, { child: ChildProcess; done: Promise<void> }>();
  const waiting = [...list];
  let signal: NodeJS.Signals | undefined;
  let worst = 0;
  const onSignal = (s: NodeJS.Signals) => {
    signal ??= s;
    for (const [name, { child }] of running) {
      process.stderr.write(`[${name}] ${s}: passed on, waiting for it to save its checkpoint\n`);
      child.kill(s);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const start = (name: string) => {
    const child = spawn(process.execPath, [cli, 'train', '--preset', name, ...forward(name)], { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const [stream, sink] of [[child.stdout!, process.stdout], [child.stderr!, process.stderr]] as const) {
      createInterface({ input: stream }).on('line', (l) => sink.write(`[${name}] ${l}\n`));
    }
    const done = new Promise<void>((resolve) => {
      child.on('error', (e) => {
        process.stderr.write(`[${name}] could not start: ${e.message}\n`);
        status.set(name, 1);
        resolve();
      });
      child.on('close', (c, s) => {
        const code = c ?? (s === 'SIGINT' ? 130 : s === 'SIGTERM' ? 143 : 1);
        if (code !== 0) process.stderr.write(`[${name}] exited with code ${code}\n`);
        status.set(name, code);
        resolve();
      });
    }).then(() => {
      running.delete(name);
    });
    running.set(name, { child, done });
  };
  try {
    while (waiting.length > 0 || running.size > 0) {
      if (signal === undefined) {
        for (let i = 0; i < waiting.length && running.size < jobs; ) {
          const job = waiting[i]!;
          const dep = job.after === undefined ? 0 : status.get(job.after);
          if (dep === undefined) {
            i++; // its preset has not finished yet
            continue;
          }
          waiting.splice(i, 1);
          if (dep !== 0) {
            process.stderr.write(`[${job.name}] not started: '${job.after}', which it starts from, failed\n`);
            status.set(job.name, 1);
            i = 0; // jobs waiting on this one can be decided now
            continue;
          }
          start(job.name);
        }
      } else {
        for (const job of waiting.splice(0)) status.set(job.name, signal === 'SIGINT' ? 130 : 143);
      }
      if (running.size === 0) {
        if (waiting.length > 0 && signal === undefined) throw new Error('runChildren: presets wait on each other');
        continue;
      }
      await Promise.race([...running.values()].map((r) => r.done));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  for (const code of status.values()) worst = Math.max(worst, code);
  return worst;
}

export default {
  summary: 'train a preset (I-frame codec: MSE stage, then perception stage; P-frame cells); --list shows presets',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, FLAGS);
    const given = givenFlags(args, FLAGS);
    if (values.list) {
      const other = [...given].filter((f) => f !== 'list' && f !== 'all');
      if (other.length > 0) throw new UserError(`--list takes no other flag than --all, got --${other[0]}`);
      for (const name of presetNames()) {
        if (isTestPreset(name) && !values.all) continue;
        const c = presets[name]!;
        console.log(`${name.padEnd(28)} ${c.stage.padEnd(10)} ${describeModel(c.model)} batch ${c.batch} steps ${c.steps}${c.stage === 'perception' ? ` lambda ${c.lambda}` : ''}${c.from ? ` from ${c.from}` : ''}`);
      }
      return 0;
    }
    if (values.all) throw new UserError('--all applies to --list only');
    if (!values.preset) throw new UserError('--preset is required (rdpv train --list shows the presets; rdpv train --help the options)');
    const names = values.preset.split(',').map((n) => n.trim());
    for (const n of names) if (!presets[n]) throw new UserError(`unknown preset '${n}' (rdpv train --list shows the presets)`);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new UserError(`preset '${dup}' is given twice`);
    const { backend, steps, lambda, jobs, replicas } = values;
    const lambdaJoint = values['lambda-joint'];
    for (const [flag, value] of [['--lambda', lambda], ['--lambda-joint', lambdaJoint]] as const) {
      const mse = value === undefined ? undefined : names.find((n) => presets[n]!.stage !== 'perception');
      if (mse) throw new UserError(`${flag} applies to perception presets only: '${mse}' is an MSE preset`);
    }
    const iframe = lambdaJoint === undefined ? undefined : names.find((n) => presets[n]!.model.kind !== 'gop');
    if (iframe) throw new UserError(`--lambda-joint applies to GOP presets only (a 0-PLF-JD decoder over frames): '${iframe}' codes single frames`);
    if (values.from !== undefined) {
      if (names.length > 1) throw new UserError('--from applies to one preset at a time');
      if (presets[names[0]!]!.from === undefined) throw new UserError(`--from applies to presets that start from a trained model: '${names[0]}' starts from scratch`);
    }
    if (values.resume && values.from !== undefined) throw new UserError('--from applies to a fresh run; --resume continues from the checkpoint');
    const outFor = (name: string) => (values.out === undefined ? join('runs', name) : names.length > 1 ? join(values.out, name) : values.out);

    if (names.length > 1 || jobs > 1) {
      if (values.out !== undefined) ensureFolder(values.out, 'run folder');
      const list = names.map((name) => ({ name, ...(names.includes(presets[name]!.from ?? '') ? { after: presets[name]!.from } : {}) }));
      return runChildren(list, jobs, (name) => [
        '--out', outFor(name), '--backend', backend, '--progress-every', String(values['progress-every']),
        '--threads', String(Math.max(1, Math.floor(values.threads / Math.min(jobs, names.length)))),
        ...(steps !== undefined ? ['--steps', String(steps)] : []), ...(lambda !== undefined ? [`--lambda=${lambda}`] : []),
        ...(lambdaJoint !== undefined ? [`--lambda-joint=${lambdaJoint}`] : []),
        ...(values['judge-steps'] !== undefined ? ['--judge-steps', String(values['judge-steps'])] : []),
        ...(replicas !== undefined ? ['--replicas', String(replicas)] : []),
        ...(values.resume ? ['--resume'] : []),
      ]);
    }
    const name = names[0]!;
    const config = withReplicas({ ...presets[name]!, ...(steps !== undefined ? { steps } : {}), ...(lambda !== undefined ? { lambda } : {}), ...(lambdaJoint !== undefined ? { lambdaJoint } : {}), ...(values['judge-steps'] !== undefined ? { judgeSteps: values['judge-steps'] } : {}) }, replicas);
    checkReplicas(config, backend as BackendName);
    ensureFolder(outFor(name), 'run folder');
    await initEngine({ backend: backend as BackendName, threads: values.threads });
    const replicaThreads = Math.max(1, Math.floor(values.threads / (config.replicas ?? 1)));
    const result = await runTraining({ preset: name, config, out: outFor(name), resume: values.resume, from: values.from, progressSeconds: values['progress-every'], replicaThreads });
    if (result.exitCode === 0) console.log(JSON.stringify({ preset: name, steps: result.step, model: result.modelPath, sha256: result.sha256, metrics: result.metrics }));
    return result.exitCode;
  },
} satisfies Command;
