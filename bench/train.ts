// Training-step benchmark: samples/s of one I-frame MSE training step (encoder, dithered
// quantizer, decoder, Adam; the trainer's own code) for the `paper` and `cpu` presets on
// the wasm backend (one core), and of the same `paper` network in PyTorch (2 threads).
// Usage: npm run bench:train [-- --steps N] [--no-peer]
// The last line is a JSON object: preset, ours_samples_per_s, peer_samples_per_s, speedup.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { numberFlag, parseFlags } from '../src/cli/args.ts';
import { initEngine } from '../src/engine/index.ts';
import { describeModel } from '../src/models/model-file.ts';
import { IFrameTrainer } from '../src/train/iframe-trainer.ts';
import { presets, sourceFor } from '../src/train/presets.ts';

const { values } = parseFlags(process.argv.slice(2), { steps: { type: 'string' }, 'no-peer': { type: 'boolean' } });
const steps = numberFlag('steps', values.steps, 3, 1, 1000);

await initEngine({ backend: 'wasm' });

/** Median samples/s over `steps` training steps after one warm-up step. */
function samplesPerSecond(preset: string): number {
  const config = presets[preset]!;
  const trainer = new IFrameTrainer(config, sourceFor(config));
  trainer.step(0);
  const times: number[] = [];
  for (let s = 1; s <= steps; s++) {
    const t0 = performance.now();
    trainer.step(s);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const rate = config.batch / (times[Math.floor(times.length / 2)]! / 1000);
  console.log(`ours ${preset} (${describeModel(config.model)}, batch ${config.batch}, tfjs wasm 1 core): ${rate.toFixed(1)} samples/s`);
  return rate;
}

samplesPerSecond('iframe-cpu-mse');
const ours = samplesPerSecond('iframe-paper-mse');

function findTorchPython(): string | undefined {
  return ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
}

let peer: number | null = null;
const python = values['no-peer'] ? undefined : findTorchPython();
if (values['no-peer']) console.log('peer: skipped (--no-peer)');
else if (python === undefined) console.log('peer: skipped, no Python with torch found (tried /usr/bin/python3, python3)');
else {
  const script = fileURLToPath(new URL('./peers/train_iframe.py', import.meta.url));
  const run = spawnSync(python, [script, String(steps), String(presets['iframe-paper-mse']!.batch)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`PyTorch peer failed: ${run.stderr.trim().split('\n').pop()}`);
  const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { samples_per_s: number; torch: string; threads: number };
  peer = result.samples_per_s;
  console.log(`peer iframe-paper-mse (PyTorch ${result.torch}, ${result.threads} threads): ${peer.toFixed(1)} samples/s`);
}

console.log(JSON.stringify({
  preset: 'iframe-paper-mse',
  ours_samples_per_s: Number(ours.toFixed(2)),
  peer_samples_per_s: peer === null ? null : Number(peer.toFixed(2)),
  speedup: peer === null ? null : Number((ours / peer).toFixed(2)),
}));
