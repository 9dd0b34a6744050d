import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { ElementwiseProgram, f32, type WebGpuBackend } from './webgpu-program.ts';

export interface AdamRates {
  beta1: number;
  beta2: number;
  eps: number;
}

/**
 * One Adam update of a parameter `p` from its gradient `g`: the moments m' = b1 m + (1 - b1) g and
 * v' = b2 v + (1 - b2) g^2, then p' = p - step m' / (sqrt(v') + eps), `step` a 1-element tensor
 * (the bias-corrected rate, kept on the device). On webgpu three fused dispatches instead of
 * twelve elementwise ones: there each dispatch costs about 0.5 ms of host time (docs/benchmarks.md),
 * and Adam was a third of a training step's dispatches. Elsewhere the same arithmetic as tfjs ops.
 */
export function adamUpdate(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, step: tf.Tensor, r: AdamRates): { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  if (tf.getBackend() === 'webgpu') {
    const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: NamedAttrMap) => tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
    const m2 = run(MOMENT, { x: m, g }, { beta: r.beta1, square: false });
    const v2 = run(MOMENT, { x: v, g }, { beta: r.beta2, square: true });
    return { p: run(STEP, { p, m: m2, v: v2, step }, { eps: r.eps }), m: m2, v: v2 };
  }
  const m2 = tf.add(tf.mul(m, r.beta1), tf.mul(g, 1 - r.beta1));
  const v2 = tf.add(tf.mul(v, r.beta2), tf.mul(tf.square(g), 1 - r.beta2));
  return { p: tf.sub(p, tf.div(tf.mul(m2, step), tf.add(tf.sqrt(v2), r.eps))), m: m2, v: v2 };
}

const MOMENT = 'RdpvAdamMoment';
const STEP = 'RdpvAdamStep';

function moment({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: WebGpuBackend; attrs: NamedAttrMap }): TensorInfo {
  const { x, g } = inputs as { x: TensorInfo; g: TensorInfo };
  const square = attrs.square === true;
  const gv = square ? 'g[index] * g[index]' : 'g[index]';
  const program = new ElementwiseProgram(['x', 'g'], x.shape, 'beta : f32,', `rdpvAdamMoment${square ? 2 : 1}`, `uniforms.beta * x[index] + (1.0 - uniforms.beta) * ${gv}`);
  return backend.runWebGPUProgram(program, [x, g], 'float32', [f32(attrs.beta as number)]);
}

function step({ inputs, backend, attrs }: { inputs: Record<string, TensorInfo>; backend: WebGpuBackend; attrs: NamedAttrMap }): TensorInfo {
  const { p, m, v, step: s } = inputs as { p: TensorInfo; m: TensorInfo; v: TensorInfo; step: TensorInfo };
  // 'rate', not 'step': WGSL has a built-in step().
  const program = new ElementwiseProgram(['p', 'm', 'v', 'rate'], p.shape, 'eps : f32,', 'rdpvAdamStep', 'p[index] - m[index] * rate[0] / (sqrt(v[index]) + uniforms.eps)');
  return backend.runWebGPUProgram(program, [p, m, v, s], 'float32', [f32(attrs.eps as number)]);
}

export const adamKernels: KernelConfig[] = [
  { kernelName: MOMENT, backendName: 'webgpu', kernelFunc: moment as unknown as KernelFunc },
  { kernelName: STEP, backendName: 'webgpu', kernelFunc: step as unknown as KernelFunc },
];
