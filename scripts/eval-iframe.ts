/**
 * Score an I-frame model file on the test split under several dither draws, to show how much
 * a score depends on the dither (the random bits of unsaturated latents):
 *   node --import tsx scripts/eval-iframe.ts MODEL PRESET [--dither-seeds N] [--judge-steps N] [--latent-gain K]
 * PRESET is the one that trained the model (perception presets score both decoders).
 * --latent-gain multiplies the encoder's pre-tanh latent by K first (as stage 1's hardening
 * does), to see what a more saturated code would score without retraining. Prints the share of
 * test latents with |z| > 0.9, one JSON line per dither seed 1..N, then each score's mean, min
 * and max.
 */
import { numberFlag, parseFlags } from '../src/cli/args.ts';
import { initEngine, tf } from '../src/engine/index.ts';
import { isUserError, UserError } from '../src/errors.ts';
import { encode } from '../src/models/iframe.ts';
import { evalCtx } from '../src/models/layers.ts';
import { decodeParamsInto } from '../src/models/params.ts';
import { readFileOrFail } from '../src/models/weights-io.ts';
import { presets } from '../src/train/presets.ts';
import { frames, IFrameTrainer, scaleLatent } from '../src/train/iframe-trainer.ts';

const USAGE = 'usage: eval-iframe.ts MODEL PRESET [--dither-seeds N] [--judge-steps N] [--latent-gain K]';
const SATURATED = 0.9;
try {
  const { values, positionals: [path, preset] } = parseFlags(process.argv.slice(2), {
    'dither-seeds': { type: 'string' }, 'judge-steps': { type: 'string' }, 'latent-gain': { type: 'string' },
  }, true);
  const config = preset ? presets[preset] : undefined;
  if (!path || !config) throw new UserError(preset ? `unknown preset '${preset}'` : USAGE);
  const seeds = numberFlag('dither-seeds', values['dither-seeds'], 5, 1);
  await initEngine({ backend: 'wasm' });
  const t = new IFrameTrainer({ ...config, judgeSteps: numberFlag('judge-steps', values['judge-steps'], 0, 0) });
  decodeParamsInto(readFileOrFail(path, 'model'), t.modelGroups(), path);
  scaleLatent(t.enc, numberFlag('latent-gain', values['latent-gain'], 1, 0));
  const n = config.evalSamples;
  const saturated = tf.tidy(() => tf.mean(tf.cast(tf.greater(tf.abs(encode(t.enc, frames(config, 'test', 0, n), evalCtx())), SATURATED), 'float32')).dataSync()[0]!);
  console.log(JSON.stringify({ samples: n, latents_saturated: saturated }));
  const runs = Array.from({ length: seeds }, (_, i) => {
    const scores = t.evaluate(n, i + 1);
    console.log(JSON.stringify({ dither_seed: i + 1, ...scores }));
    return scores;
  });
  const summary = Object.fromEntries(Object.keys(runs[0]!).map((k) => {
    const v = runs.map((r) => r[k]!);
    return [k, { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v) }];
  }));
  console.log(JSON.stringify({ dither_seeds: seeds, ...summary }));
} catch (e) {
  if (!isUserError(e)) throw e;
  console.error(e.message);
  process.exit(2);
}
