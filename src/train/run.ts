/**
 * The training loop every model uses: JSON-lines log, progress bar on a terminal (a plain progress
 * line every few seconds otherwise), atomic checksummed checkpoints (every N steps, at the end, on
 * SIGINT/SIGTERM), exact resume, NaN guard.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.ts';
import { formatSeconds } from '../duration.ts';
import { evalProgress, evaluate, flatMetrics } from '../eval/evaluate.ts';
import { disposeModel, encodeModelFile, sha256Hex, type Model } from '../models/model-file.ts';
import { decodeParamsInto, encodeParams, fetchParams } from '../models/params.ts';
import { withDataChecksum } from '../models/tensor-file.ts';
import { folderStore, readFileOrFail, readModelPath, writeFileAtomic } from '../models/weights-io.ts';
import { loadZooModel } from '../models/zoo.ts';
import { sourceFor, type TrainConfig } from './presets.ts';
import { createTrainer } from './parallel.ts';
import { readLosses, type Losses } from './trainer.ts';

export interface RunOptions {
  preset: string;
  config: TrainConfig;
  out: string;
  resume: boolean;
  /** Perception stage: the model file to start from (default: <out>/../<config.from>/model.safetensors). */
  from?: string;
  /** Where human-readable lines go (stderr by default). */
  say?: (line: string) => void;
  /** When stderr is not a terminal: a progress line through `say` every this many seconds (default 30; 0: none). */
  progressSeconds?: number;
  /** wasm threads of each data-parallel replica (config.replicas > 1; default 1). */
  replicaThreads?: number;
}

export interface RunResult {
  exitCode: number;
  step: number;
  modelPath?: string;
  sha256?: string;
  metrics?: Record<string, number>;
}

/** The judge critics' seed offset from the run's seed. */
const JUDGE_SEED = 1000;

export const CHECKPOINT = 'checkpoint.safetensors';
export const MODEL = 'model.safetensors';
export const LOG = 'log.jsonl';

/** The configuration a checkpoint records. */
const resumeKey = (c: TrainConfig) => JSON.stringify({ ...c, steps: undefined });
/** What must match for a checkpoint to be resumed: all but the step budget and the final evaluation's settings. */
const trainingKey = (key: string) => JSON.stringify({ ...JSON.parse(key), steps: undefined, evalSamples: undefined, judgeSteps: undefined });

/**
 * An MSE stage that gained a hardening step still ahead of its checkpoint continues it: the
 * checkpoint is where the hardened run would have been (a finished stage 1 extended by its
 * hardened steps).
 */
const hardenedLater = (key: string, c: TrainConfig, step: number) =>
  c.stage === 'mse' && c.harden !== undefined && c.harden.at >= step && trainingKey(key) === trainingKey(resumeKey({ ...c, harden: undefined }));

function progressBar(preset: string, step: number, total: number, stepsPerS: number, batch: number, losses: Losses): string {
  const width = 24;
  const filled = Math.round((width * step) / total);
  const eta = (total - step) / stepsPerS;
  const loss = losses.mse !== undefined ? ` mse ${losses.mse.toFixed(4)}` : '';
  const w1 = losses.w1 !== undefined ? ` W1 ${losses.w1.toFixed(3)}` : '';
  return `\r${preset} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${step}/${total} ${(stepsPerS * batch).toFixed(1)} samples/s ETA ${formatSeconds(eta)}${loss}${w1}  `;
}

/** One plain progress line (for logs, CI and pipes): step, losses, rate and ETA. */
function progressLine(preset: string, step: number, total: number, stepsPerS: number, batch: number, losses: Losses): string {
  const loss = Object.entries(losses).map(([k, v]) => ` ${k} ${Number(v).toPrecision(4)}`).join('');
  return `${preset}: step ${step}/${total} (${((100 * step) / total).toFixed(1)}%)${loss}, ${(stepsPerS * batch).toFixed(1)} samples/s, ETA ${formatSeconds((total - step) / stepsPerS)}`;
}

/** An atomic write whose failure (a full disk, a folder made read-only) is one line naming the file, leaving no temporary file. */
function save(path: string, bytes: Uint8Array): void {
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot write '${path}': ${code ?? (e as Error).message}`);
  }
}

/** The step of a log line, or Infinity for a line torn by a kill. */
function lineStep(line: string): number {
  try {
    return (JSON.parse(line) as { step: number }).step;
  } catch {
    return Infinity;
  }
}

/** Keep the log lines up to `step` (a resumed run redoes what came after its checkpoint). */
function truncateLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8').split('\n').filter((l) => l && lineStep(l) <= step);
  save(path, new TextEncoder().encode(kept.map((l) => l + '\n').join('')));
}

/**
 * The model a fresh run starts from: `--from FILE` (a shipped difference completed from the zoo),
 * else `zoo:NAME` (a shipped model), else the model of preset `from` trained beside this run
 * (<out>/../<from>/model.safetensors).
 */
async function startModel(from: string, file: string | undefined, out: string): Promise<Model> {
  if (file === undefined && from.startsWith('zoo:')) return (await loadZooModel(folderStore(), from.slice(4))).model;
  const path = file ?? join(dirname(out), from, MODEL);
  return (await readModelPath(path, `model to start from (train preset '${from}' first, or pass --from)`)).model;
}

export async function runTraining(o: RunOptions): Promise<RunResult> {
  const say = o.say ?? ((l: string) => process.stderr.write(l + '\n'));
  const c = o.config;
  try {
    mkdirSync(o.out, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create the run folder '${o.out}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const ckptPath = join(o.out, CHECKPOINT);
  const logPath = join(o.out, LOG);
  const source = sourceFor(c);
  const trainer = createTrainer(c, source, { threads: o.replicaThreads });
  let step = 0;
  let trainSeconds = 0;
  if (existsSync(ckptPath) && !o.resume) {
    throw new UserError(`${o.out} already holds a checkpoint: pass --resume to continue it, or choose another --out`);
  }
  if (o.resume && existsSync(ckptPath)) {
    const meta = decodeParamsInto(readFileOrFail(ckptPath, 'checkpoint'), trainer.checkpointGroups(), ckptPath);
    step = Number(meta.step);
    if (trainingKey(meta.config!) !== trainingKey(resumeKey(c)) && !hardenedLater(meta.config!, c, step)) throw new UserError(`${ckptPath} was written by a different configuration than preset '${o.preset}'`);
    trainSeconds = Number(meta.train_seconds);
    truncateLog(logPath, step);
    say(`resuming ${o.preset} at step ${step}/${c.steps}`);
  } else {
    if (o.resume) say(`no checkpoint in ${o.out}: starting ${o.preset} from step 0`);
    const from = c.from === undefined ? undefined : await startModel(c.from, o.from, o.out);
    trainer.start(from);
    if (from) disposeModel(from);
    writeFileSync(logPath, '');
  }

  const saveCheckpoint = async () => {
    await trainer.sync?.();
    await fetchParams(trainer.checkpointGroups());
    save(ckptPath, encodeParams(trainer.checkpointGroups(), {
      preset: o.preset, config: resumeKey(c), step: String(step), train_seconds: String(trainSeconds),
    }));
  };

  let signal: NodeJS.Signals | null = null;
  const onSignal = (s: NodeJS.Signals) => (signal = s);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const tty = process.stderr.isTTY;
  const every = tty ? 0 : (o.progressSeconds ?? 30) * 1000;
  try {
    let mark = performance.now();
    let markStep = step;
    let said = mark;
    let saidStep = step;
    while (step < c.steps) {
      const t0 = performance.now();
      const losses = await readLosses(trainer.step(step));
      const bad = Object.entries(losses).find(([, v]) => !Number.isFinite(v));
      if (bad) {
        if (tty) process.stderr.write('\n');
        const kept = existsSync(ckptPath) ? `the last good checkpoint (${ckptPath}) is kept` : 'no checkpoint had been written yet';
        throw new UserError(`loss '${bad[0]}' became ${bad[1]} at step ${step + 1}: training stopped; ${kept}`, 3);
      }
      step++;
      trainSeconds += (performance.now() - t0) / 1000;
      const now = performance.now();
      if (step % c.logEvery === 0 || step === c.steps) {
        const samplesPerS = ((step - markStep) * c.batch) / ((now - mark) / 1000);
        writeFileSync(logPath, JSON.stringify({ step, ...losses, samples_per_s: Number(samplesPerS.toFixed(2)), train_s: Number(trainSeconds.toFixed(1)) }) + '\n', { flag: 'a' });
        if (tty) process.stderr.write(progressBar(o.preset, step, c.steps, (step - markStep) / ((now - mark) / 1000), c.batch, losses));
        mark = now;
        markStep = step;
      }
      if (every > 0 && now - said >= every) {
        say(progressLine(o.preset, step, c.steps, (step - saidStep) / ((now - said) / 1000), c.batch, losses));
        said = now;
        saidStep = step;
      }
      if (step % c.checkpointEvery === 0) await saveCheckpoint();
      // Let signal handlers run between steps.
      await new Promise((r) => setImmediate(r));
      if (signal) {
        await saveCheckpoint();
        if (tty) process.stderr.write('\n');
        say(`${signal}: checkpoint saved at step ${step}/${c.steps}; continue with --resume`);
        return { exitCode: signal === 'SIGINT' ? 130 : 143, step };
      }
    }
    if (tty) process.stderr.write('\n');
    await saveCheckpoint();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await trainer.close?.();
  }

  // The final evaluation's judges train for minutes (a GOP-3 stage: half an hour on one core).
  const evalLine = (line: string) => `${o.preset}: final evaluation: ${line}`;
  const report = tty ? evalProgress(1, (line, last) => process.stderr.write(`\r${evalLine(line)}\x1b[K${last ? '\n' : ''}`))
    : every > 0 ? evalProgress(1, (line) => say(evalLine(line)), every) : {};
  // A GOP stage's judges score the frame it trained; the frames before it were judged by their own runs.
  const metrics = flatMetrics(await evaluate(trainer.model(), source, {
    ...report, samples: c.evalSamples, ditherSeeds: [c.seed], batch: c.batch,
    ...(c.judgeSteps > 0 ? { judge: { ...c.critic, steps: c.judgeSteps, batch: c.batch, seed: c.seed + JUDGE_SEED, optimizer: c.criticOptimizer } } : {}),
    ...(c.frame !== undefined ? { judgeFrames: [c.frame] } : {}),
  }));
  // The data section's sha256 in the metadata: a later --from or shipping checks it on read.
  await fetchParams(trainer.checkpointGroups());
  const bytes = withDataChecksum(encodeModelFile(trainer.model(), o.preset, {
    config: JSON.stringify(c), steps: String(step), train_seconds: trainSeconds.toFixed(1), metrics: JSON.stringify(metrics),
  }));
  const modelPath = join(o.out, MODEL);
  save(modelPath, bytes);
  const sha256 = await sha256Hex(bytes);
  const result = { preset: o.preset, steps: step, train_seconds: Number(trainSeconds.toFixed(1)), eval_samples: c.evalSamples, metrics, model: modelPath, sha256 };
  save(join(o.out, 'result.json'), new TextEncoder().encode(JSON.stringify(result, null, 2) + '\n'));
  say(`${o.preset}: ${step} steps in ${formatSeconds(trainSeconds)}; ${Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(5)}`).join(', ')}; ${modelPath} sha256 ${sha256}`);
  return { exitCode: 0, step, modelPath, sha256, metrics };
}
