import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { ElementwiseProgram, f32, type WebGpuBackend } from './webgpu-program.ts';

/** A BatchNorm's parameters and running statistics. */
export interface BatchNormState {
  gamma: tf.Tensor;
  beta: tf.Tensor;
  mean: tf.Tensor;
  variance: tf.Tensor;
}

/**
 * BatchNorm with batch statistics (training): y = (x - mean) / sqrt(variance + eps) * gamma + beta
 * per channel (the last axis) with the batch mean and biased variance (what tf.moments gives), and
 * the running statistics moved towards them by `momentum` (the variance unbiased). On webgpu one
 * kernel with its own gradient, and one for the running statistics: five dispatches forward and
 * four backward, where the tfjs ops take about sixty, and each dispatch costs about 0.5 ms of host
 * time there (docs/benchmarks.md): BatchNorm was most of a P-frame training step's dispatches. Its
 * gradient is first order only (nothing differentiates it again). Elsewhere the tfjs ops, as before.
 */
export function batchNormTraining(x: tf.Tensor, p: BatchNormState, eps: number, momentum: number): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const c = x.shape[x.rank - 1]!;
  const n = x.size / c;
  const unbias = n / Math.max(n - 1, 1);
  if (tf.getBackend() === 'webgpu') {
    const [y, stats] = tf.engine().runKernel(BATCH_NORM, { x: tf.reshape(x, [-1, c]), gamma: p.gamma, beta: p.beta }, { eps }) as tf.Tensor[];
    const running = tf.engine().runKernel(RUNNING, { mean: p.mean, variance: p.variance, stats: stats! }, { momentum, unbias }) as tf.Tensor;
    return { y: tf.reshape(y!, x.shape), mean: tf.reshape(tf.slice(running, [0, 0], [1, c]), [c]), variance: tf.reshape(tf.slice(running, [1, 0], [1, c]), [c]) };
  }
  const { mean, variance } = tf.moments(x, x.shape.map((_, i) => i).slice(0, -1));
  return {
    y: normalize(x, mean, variance, p.gamma, p.beta, eps),
    mean: tf.add(tf.mul(p.mean, 1 - momentum), tf.mul(mean, momentum)),
    variance: tf.add(tf.mul(p.variance, 1 - momentum), tf.mul(tf.mul(variance, unbias), momentum)),
  };
}

/** (x - mean) / sqrt(variance + eps) * gamma + beta as x * scale + shift: two passes over x, not four. */
export function normalize(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(x, scale), tf.sub(beta, tf.mul(mean, scale)));
}

const BATCH_NORM = 'RdpvBatchNorm';
const GRAD_STATS = 'RdpvBatchNormGradStats';
const GRAD_X = 'RdpvBatchNormGradX';
const RUNNING = 'RdpvBatchNormRunning';

/** Threads that reduce one channel. */
const REDUCE = 256;

/**
 * Per channel c of x [N, C], two sums over the rows in one workgroup: `first(r)` and, after its
 * total is known as `a`, `second(r)`; writes (a', b') = `finish` of the totals to out[c], out[C + c].
 */
class ChannelSumsProgram {
  readonly workgroupSize: [number, number, number] = [REDUCE, 1, 1];
  readonly dispatchLayout = { x: [1], y: [0] };
  readonly dispatch: [number, number, number];
  readonly outputShape: number[];
  readonly uniforms = 'eps : f32,';

  constructor(readonly variableNames: string[], channels: number, readonly shaderKey: string, private readonly body: { first: string; second: string; finish: [string, string] }) {
    this.outputShape = [2, channels];
    this.dispatch = [channels, 1, 1];
  }

  // Every loop bound is uniform, so the barriers sit in uniform control flow.
  getUserCode(): string {
    const { first, second, finish } = this.body;
    return `
      var<workgroup> partial : array<f32, ${REDUCE}>;

      fn total(v : f32, t : i32) -> f32 {
        partial[t] = v;
        workgroupBarrier();
        for (var s = ${REDUCE / 2}; s > 0; s = s / 2) {
          if (t < s) {
            partial[t] = partial[t] + partial[t + s];
          }
          workgroupBarrier();
        }
        let sum = partial[0];
        workgroupBarrier();
        return sum;
      }

      fn main() {
        let t = i32(localId.x);
        let c = i32(workgroupId.x);
        let C = uniforms.outShape[1];
        let n = uniforms.xShape[0];
        var acc = 0.0;
        for (var r = t; r < n; r = r + ${REDUCE}) {
          acc = acc + ${first};
        }
        let a = total(acc, t);
        acc = 0.0;
        for (var r = t; r < n; r = r + ${REDUCE}) {
          acc = acc + ${second};
        }
        let b = total(acc, t);
        if (t == 0) {
          setOutputAtIndex(c, ${finish[0]});
          setOutputAtIndex(C + c, ${finish[1]});
        }
      }
    `;
  }
}

/** Elementwise over x [N, C] at `index`: channel `c`, and x normalised by the batch statistics `stats` as `xhat`. */
const channelwise = (inputs: string[], shape: number[], key: string, expr: string) => new ElementwiseProgram(inputs, shape, 'eps : f32, rows : f32,', key, expr, `
          let C = uniforms.outShape[1];
          let c = index % C;
          let rstd = inverseSqrt(stats[C + c] + uniforms.eps);
          let xhat = (x[index] - stats[c]) * rstd;`);

type Args = { inputs: Record<string, TensorInfo>; backend: WebGpuBackend; attrs: NamedAttrMap };

function batchNorm({ inputs, backend, attrs }: Args): TensorInfo[] {
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const [n, c] = x.shape as [number, number];
  const eps = attrs.eps as number;
  // Two passes (the mean, then the squared deviations from it), as tf.moments.
  const stats = backend.runWebGPUProgram(new ChannelSumsProgram(['x'], c, 'rdpvBnStats', {
    first: 'x[r * C + c]', second: '(x[r * C + c] - a / f32(n)) * (x[r * C + c] - a / f32(n))', finish: ['a / f32(n)', 'b / f32(n)'],
  }), [x], 'float32', [f32(eps)]);
  const y = backend.runWebGPUProgram(channelwise(['x', 'stats', 'gamma', 'beta'], [n, c], 'rdpvBnApply', 'xhat * gamma[c] + beta[c]'), [x, stats, gamma, beta], 'float32', [f32(eps), f32(n)]);
  return [y, stats];
}

/** Per channel: sum of dy and sum of dy * xhat ([2, C]): dbeta and dgamma. */
function gradStats({ inputs, backend, attrs }: Args): TensorInfo {
  const { x, dy, stats } = inputs as { x: TensorInfo; dy: TensorInfo; stats: TensorInfo };
  const xhat = '(x[r * C + c] - stats[c]) * inverseSqrt(stats[C + c] + uniforms.eps)';
  return backend.runWebGPUProgram(new ChannelSumsProgram(['x', 'dy', 'stats'], x.shape[1]!, 'rdpvBnGradStats', {
    first: 'dy[r * C + c]', second: `dy[r * C + c] * ${xhat}`, finish: ['a', 'b'],
  }), [x, dy, stats], 'float32', [f32(attrs.eps as number)]);
}

/** dx = gamma rstd (dy - sum(dy) / N - xhat sum(dy xhat) / N), with the sums of gradStats. */
function gradX({ inputs, backend, attrs }: Args): TensorInfo {
  const { x, dy, stats, sums, gamma } = inputs as Record<'x' | 'dy' | 'stats' | 'sums' | 'gamma', TensorInfo>;
  const [n, c] = x.shape as [number, number];
  return backend.runWebGPUProgram(channelwise(['x', 'dy', 'stats', 'sums', 'gamma'], [n, c], 'rdpvBnGradX',
    'gamma[c] * rstd * (dy[index] - (sums[c] + xhat * sums[C + c]) / uniforms.rows)'), [x, dy, stats, sums, gamma], 'float32', [f32(attrs.eps as number), f32(n)]);
}

/** The running statistics [2, C] (mean; variance) moved towards the batch's `stats` by `momentum`, the variance unbiased. */
function running({ inputs, backend, attrs }: Args): TensorInfo {
  const { mean, variance, stats } = inputs as Record<'mean' | 'variance' | 'stats', TensorInfo>;
  const c = mean.shape[0]!;
  const program = new ElementwiseProgram(['mean', 'variance', 'stats'], [2, c], 'momentum : f32, unbias : f32,', 'rdpvBnRunning',
    'select((1.0 - m) * mean[min(index, C - 1)] + m * stats[index], (1.0 - m) * variance[max(index - C, 0)] + m * uniforms.unbias * stats[index], index >= C)',
    'let C = uniforms.outShape[1];\n          let m = uniforms.momentum;');
  return backend.runWebGPUProgram(program, [mean, variance, stats], 'float32', [f32(attrs.momentum as number), f32(attrs.unbias as number)]);
}

export const batchNormKernels: KernelConfig[] = [
  { kernelName: RUNNING, backendName: 'webgpu', kernelFunc: running as unknown as KernelFunc },
  { kernelName: BATCH_NORM, backendName: 'webgpu', kernelFunc: batchNorm as unknown as KernelFunc },
  { kernelName: GRAD_STATS, backendName: 'webgpu', kernelFunc: gradStats as unknown as KernelFunc },
  { kernelName: GRAD_X, backendName: 'webgpu', kernelFunc: gradX as unknown as KernelFunc },
];

export const batchNormGrad: GradConfig = {
  kernelName: BATCH_NORM,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved, attrs) => {
    const dy = (dys as tf.Tensor[])[0]!;
    const [x, gamma, stats] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const c = x.shape[1]!;
    const run = (name: string, inputs: Record<string, tf.Tensor>) => tf.engine().runKernel(name, inputs, { eps: attrs.eps as number }) as tf.Tensor;
    const sums = run(GRAD_STATS, { x, dy, stats });
    return {
      x: () => run(GRAD_X, { x, dy, stats, sums, gamma }),
      gamma: () => tf.reshape(tf.slice(sums, [1, 0], [1, c]), [c]),
      beta: () => tf.reshape(tf.slice(sums, [0, 0], [1, c]), [c]),
    };
  },
};
