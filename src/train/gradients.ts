/**
 * tfjs-core's Node bundle registers no gradients (the union package @tensorflow/tfjs does
 * that via dist/register_all_gradients, which Node cannot load: one of its files imports a
 * directory). Training registers the same configs from their individual ES modules.
 * Prod's gradient is the one left out (its module hits that directory import); no model uses Prod.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tf } from '../engine/index.ts';

let done = false;

export async function registerGradients(): Promise<void> {
  if (done) return;
  const dir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core')), 'gradients');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('_grad.js') && f !== 'Prod_grad.js').sort()) {
    const module: Record<string, tf.GradConfig> = await import(`@tensorflow/tfjs-core/dist/gradients/${file}`);
    for (const config of Object.values(module)) {
      if (!tf.getGradient(config.kernelName)) tf.registerGradient(config);
    }
  }
  done = true;
}
