// Training-step benchmark: samples/s of one stage-1 (MSE) training step, the trainer's own code,
// on the wasm backend, against the same network in PyTorch, both on --threads N (default: every core):
// - I-frame (encoder, dithered quantizer, decoder, Adam) for the `cpu` and `paper` presets, the
//   `paper` network against bench/peers/train_iframe.py;
// - P-frame `pframe-inf-2-mse` (motion encoder, quantizer, flow decoder, scale-space warp,
//   content encoder, quantizer, MMSE decoder, Adam) against bench/peers/train_pframe.py.
// Ours splits each batch over --replicas S data-parallel worker threads (default: one per thread,
// src/train/parallel.ts), each with threads/S wasm threads; --replicas 1 is one trainer on a
// threaded engine. --backend webgpu trains ours on the GPU (one trainer) against the I-frame
// peer on CUDA (the P-frame peer runs on the CPU only, so it is left out); --batch N overrides
// every preset's batch, on both sides.
// Usage: npm run bench:train [-- --steps N] [--threads N] [--replicas S] [--backend B] [--batch N] [--no-peer]
// The next-to-last line is the P-frame's JSON object: preset, ours_samples_per_s,
// peer_samples_per_s, speedup. The last line is the I-frame's (the same four keys) with a
// `pframe` field holding the P-frame's object.
import { benchOptions, runPeer, torchPython } from './common.ts';
import { backendFlag, numberFlag, parseFlags, threadsFlag } from '../src/cli/args.ts';
import { initEngine, type BackendName } from '../src/engine/index.ts';
import { describeModel } from '../src/models/model-file.ts';
import { trainableVariables } from '../src/models/params.ts';
import { presets, sourceFor } from '../src/train/presets.ts';
import { createTrainer, withReplicas } from '../src/train/parallel.ts';
import { readLosses } from '../src/train/trainer.ts';

const { steps, threads, backend, replicas, batchOf, noPeer } = benchOptions((argv) => {
  const { values } = parseFlags(argv, {
    // Replicas may use more threads than the engine's own pool allows (one each).
    steps: { type: 'string' }, threads: { ...threadsFlag, max: 64 }, replicas: { type: 'string' }, backend: backendFlag, batch: { type: 'string' }, 'no-peer': { type: 'boolean' },
  });
  const batch = values.batch === undefined ? undefined : numberFlag('batch', values.batch, 0, 1, 4096);
  return {
    steps: numberFlag('steps', values.steps, 3, 1, 1000),
    // Ours and the peer on the same number of threads: every core by default.
    threads: values.threads,
    backend: values.backend as BackendName,
    replicas: values.backend === 'webgpu' ? 1 : numberFlag('replicas', values.replicas, values.threads, 1, 64),
    batchOf: (preset: string) => batch ?? presets[preset]!.batch,
    noPeer: values['no-peer'] === true,
  };
});
const gpu = backend === 'webgpu';
const replicaThreads = Math.max(1, Math.floor(threads / replicas));

await initEngine({ backend, threads: replicas === 1 ? threads : 1 });

/** Median samples/s over `steps` training steps of a preset's trainer after one warm-up step. */
async function samplesPerSecond(preset: string): Promise<number> {
  const config = withReplicas({ ...presets[preset]!, batch: batchOf(preset) }, replicas);
  const trainer = createTrainer(config, sourceFor(config), { threads: replicaThreads });
  // A fresh run of a preset without `from` (what run.ts does before step 0).
  trainer.start(undefined);
  const params = Object.values(trainer.checkpointGroups()).flatMap(trainableVariables).reduce((n, v) => n + v.size, 0);
  await readLosses(trainer.step(0));
  const times: number[] = [];
  for (let s = 1; s <= steps; s++) {
    const t0 = performance.now();
    await readLosses(trainer.step(s));
    times.push(performance.now() - t0);
  }
  await trainer.close?.();
  times.sort((a, b) => a - b);
  const rate = config.batch / (times[Math.floor(times.length / 2)]! / 1000);
  const how = gpu ? 'the GPU' : replicas === 1 ? `${threads} thread${threads === 1 ? '' : 's'}` : `${replicas} replicas of ${replicaThreads} thread${replicaThreads === 1 ? '' : 's'}`;
  console.log(`ours ${preset} (${describeModel(config.model)}, batch ${config.batch}, ${params} trainable parameters, tfjs ${backend}, ${how}): ${rate.toFixed(1)} samples/s`);
  return rate;
}

await samplesPerSecond('iframe-cpu-mse');
const ours = await samplesPerSecond('iframe-paper-mse');
const oursP = await samplesPerSecond('pframe-inf-2-mse');

const python = torchPython(noPeer);

/** The PyTorch peer's samples/s for a preset's network and batch (null where there is no peer), on the CPU or, against webgpu, CUDA. */
function peerSamplesPerSecond(script: string, preset: string): number | null {
  if (python === undefined) return null;
  if (gpu && script !== 'train_iframe.py') {
    console.log(`peer ${preset}: skipped, its PyTorch peer runs on the CPU only`);
    return null;
  }
  const run = runPeer<{ samples_per_s: number; torch: string; threads: number; device?: string; params?: number }>(python, script, [steps, batchOf(preset), threads, gpu ? 'cuda' : 'cpu']);
  if (!run) return null;
  const { result } = run;
  const params = result.params === undefined ? '' : `, ${result.params} trainable parameters`;
  const where = result.device?.startsWith('cuda') ? result.device : `${result.threads} threads`;
  console.log(`peer ${preset} (PyTorch ${result.torch}, ${where}${params}): ${result.samples_per_s.toFixed(1)} samples/s`);
  return result.samples_per_s;
}

const summary = (preset: string, ourRate: number, peerRate: number | null) => ({
  preset,
  ours_samples_per_s: Number(ourRate.toFixed(2)),
  peer_samples_per_s: peerRate === null ? null : Number(peerRate.toFixed(2)),
  speedup: peerRate === null ? null : Number((ourRate / peerRate).toFixed(2)),
});

const iframe = summary('iframe-paper-mse', ours, peerSamplesPerSecond('train_iframe.py', 'iframe-paper-mse'));
const pframe = summary('pframe-inf-2-mse', oursP, peerSamplesPerSecond('train_pframe.py', 'pframe-inf-2-mse'));
console.log(JSON.stringify(pframe));
// Peak resident memory of this process, worker threads included (the paper I-frame dominates it).
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(JSON.stringify({ ...iframe, backend, threads, replicas, peak_rss_mb: peakRssMb, pframe }));
