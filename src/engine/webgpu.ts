// The WebGPU backend: stock @tensorflow/tfjs-backend-webgpu, the same model code as on wasm. A
// browser page brings navigator.gpu; in Node it comes from the `webgpu` package (dawn.node,
// prebuilt inside its npm tarball; an optional dependency), whose globals (GPUBufferUsage, ...)
// must exist before the backend module runs. Without a GPU, Mesa's lavapipe gives dawn a software
// adapter (Debian bookworm-backports' mesa-vulkan-drivers 25; bookworm's 22.3 lacks a feature dawn
// needs): slow, enough to check correctness.
// In Node a tensor on this backend can be read only asynchronously (`await t.data()`): the
// backend's synchronous read goes through an OffscreenCanvas, which Node lacks.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../errors.ts';
import { replaceKernel } from './kernel-pack.ts';
import { adamKernels } from './adam-update.ts';
import { batchNormGrad, batchNormKernels } from './batch-norm.ts';
import { webgpuKernels } from './webgpu-conv.ts';

type Dawn = { create(flags: string[]): unknown; globals: Record<string, unknown> };
type Gpu = { requestAdapter(): Promise<unknown> };

const DRIVERS = "on Linux dawn needs a Vulkan driver (a GPU's, or Mesa's lavapipe: apt-get install -t bookworm-backports mesa-vulkan-drivers) and the Vulkan loader (libvulkan1)";

/** navigator.gpu in Node, from dawn. */
async function nodeGpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  let dawn: Dawn;
  try {
    dawn = (await import('webgpu')) as unknown as Dawn;
  } catch (e) {
    throw new UserError(`the webgpu backend needs the npm package 'webgpu' (an optional dependency: npm install webgpu): ${(e as Error).message.split('\n')[0]}`);
  }
  // The Vulkan loader wants a runtime folder.
  process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/** Whether a WebGPU adapter exists here (in Node: dawn finds a Vulkan driver). */
export async function webGpuAvailable(): Promise<boolean> {
  try {
    if (typeof process !== 'undefined' && process.versions?.node) await nodeGpu();
    const gpu = (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
    return gpu !== undefined && (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Makes the WebGPU backend current, or one line saying why it cannot. */
export async function setWebGpuBackend(): Promise<void> {
  if (typeof process !== 'undefined' && process.versions?.node) await nodeGpu();
  if (!(await webGpuAvailable())) throw new UserError(`no WebGPU adapter: ${DRIVERS}`);
  await import('@tensorflow/tfjs-backend-webgpu');
  // After the backend's module, whose import registers the stock kernels these replace.
  for (const config of [...webgpuKernels, ...adamKernels, ...batchNormKernels]) replaceKernel(config);
  if (!tf.getGradient(batchNormGrad.kernelName)) tf.registerGradient(batchNormGrad);
  if (!(await tf.setBackend('webgpu'))) throw new UserError(`tfjs backend 'webgpu' failed to initialise (${DRIVERS})`);
}
