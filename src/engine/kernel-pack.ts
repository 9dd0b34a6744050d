import { getGradient, getKernel, registerGradient, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { cpuFixes } from './cpu-fixes.ts';
import { wasmChannelKernels } from './wasm-channels.ts';
import { registerCoreGradients } from './core-gradients.ts';
import { missingGradients, replacedGradients } from './gradients.ts';
import { wasmConvKernels } from './wasm-conv.ts';
import { wasmIdentityKernels } from './wasm-identity.ts';
import { leakyReluGradients, wasmLeakyReluKernels } from './leaky-relu.ts';
import { wasmSegmentKernels } from './wasm-segment.ts';
import { wasmSumKernels } from './wasm-sum.ts';
import { wasmWarpKernels } from './wasm-warp.ts';

let registered = false;

/** Replaces a backend's registered kernel (the naive built-in wasm Conv2DBackpropInput, the cpu kernels we fix, webgpu's filter gradient). */
export function replaceKernel(config: KernelConfig): void {
  if (getKernel(config.kernelName, config.backendName) !== undefined) unregisterKernel(config.kernelName, config.backendName);
  registerKernel(config);
}

/**
 * Registers the project's wasm kernels, tfjs-core's gradient functions (absent from its
 * Node bundle), the gradients tfjs lacks and fixes to cpu reference kernels. Idempotent.
 */
export function registerKernelPack(): void {
  if (registered) return;
  registered = true;
  registerCoreGradients();
  for (const config of missingGradients) if (getGradient(config.kernelName) === undefined) registerGradient(config);
  for (const config of [...replacedGradients, ...leakyReluGradients]) registerGradient(config);
  for (const config of [...wasmConvKernels, ...wasmLeakyReluKernels, ...wasmSegmentKernels, ...wasmSumKernels, ...wasmIdentityKernels, ...wasmWarpKernels, ...wasmChannelKernels, ...cpuFixes()]) replaceKernel(config);
}
