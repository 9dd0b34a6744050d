/**
 * Kept only because test/codec-quantizer.test.ts imports it: the engine's kernel pack
 * (src/engine/core-gradients.ts, run by initEngine) now registers tfjs-core's gradients.
 * Delete once that test imports nothing from here.
 */
import { registerKernelPack } from '../engine/kernel-pack.ts';

export async function registerGradients(): Promise<void> {
  registerKernelPack();
}
