// Gradients that tfjs-core lacks or gets wrong. They are written with ops, so they are
// themselves differentiable (second-order gradients, as the WGAN-GP penalty needs) on any backend.
import {
  add,
  conv2dTranspose,
  engine,
  mul,
  pad,
  reshape,
  rsqrt,
  sub,
  sum,
  scatterND,
  slice,
  stridedSlice,
  transpose,
  zerosLike,
  type GradConfig,
  type NamedAttrMap,
  type Tensor,
  type Tensor4D,
} from '@tensorflow/tfjs-core';

/** Comparisons and logical ops are piecewise constant: zero gradient, shaped like each input. */
function zeroGradient(kernelName: string, inputNames: string[]): GradConfig {
  return {
    kernelName,
    inputsToSave: inputNames,
    gradFunc: (_dy, saved) => Object.fromEntries(inputNames.map((name, i) => [name, () => zerosLike(saved[i])])),
  };
}

const gatherNdGradient: GradConfig = {
  kernelName: 'GatherNd',
  inputsToSave: ['params', 'indices'],
  gradFunc: (dy, saved) => {
    const [params, indices] = saved;
    // ScatterNd sums the rows that several indices gathered from the same place.
    return { params: () => scatterND(indices, dy as Tensor, params.shape), indices: () => zerosLike(indices) };
  },
};

const depthToSpaceGradient: GradConfig = {
  kernelName: 'DepthToSpace',
  gradFunc: (dy, _saved, attrs) => {
    const g = dy as Tensor;
    const b = attrs.blockSize as number;
    // Space-to-depth, the inverse permutation of DepthToSpace.
    if (attrs.dataFormat === 'NCHW') {
      const [n, c, h, w] = g.shape;
      return { x: () => reshape(transpose(reshape(g, [n, c, h / b, b, w / b, b]), [0, 3, 5, 1, 2, 4]), [n, b * b * c, h / b, w / b]) };
    }
    const [n, h, w, c] = g.shape;
    return { x: () => reshape(transpose(reshape(g, [n, h / b, b, w / b, b, c]), [0, 1, 3, 2, 4, 5]), [n, h / b, w / b, b * b * c]) };
  },
};

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [(v as number | undefined) ?? 1, (v as number | undefined) ?? 1]);

/** The filter with zeros between taps: a dilated convolution as an undilated one. */
function spreadFilter(filter: Tensor4D, [dh, dw]: [number, number]): Tensor4D {
  if (dh === 1 && dw === 1) return filter;
  const [fh, fw, a, b] = filter.shape;
  const padded = pad(reshape(filter, [fh, 1, fw, 1, a, b]), [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]]);
  return slice(reshape(padded, [fh * dh, fw * dw, a, b]) as Tensor4D, 0, [(fh - 1) * dh + 1, (fw - 1) * dw + 1, a, b]);
}

/** The taps of a gradient with respect to a spread filter that belong to the real filter. */
function gatherTaps(grad: Tensor, [dh, dw]: [number, number]): Tensor {
  return dh === 1 && dw === 1 ? grad : stridedSlice(grad, [0, 0, 0, 0], grad.shape, [dh, dw, 1, 1]);
}

/**
 * Conv2D and DepthwiseConv2dNative gradients that also accept dilations (tfjs's own reject
 * them, and the cpu backprop kernels ignore them): the backprops run on the spread filter.
 */
function convGradient(kernelName: 'Conv2D' | 'DepthwiseConv2dNative'): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dyIn, saved, attrs: NamedAttrMap) => {
      const dy = dyIn as Tensor4D;
      const [x, filter] = saved as Tensor4D[];
      const dilations = pair(attrs.dilations);
      const spread = spreadFilter(filter, dilations);
      const common = { strides: attrs.strides, pad: attrs.pad, dimRoundingMode: attrs.dimRoundingMode };
      if (kernelName === 'Conv2D') {
        return {
          x: () => conv2dTranspose(dy, spread, x.shape, attrs.strides as number, attrs.pad as 'same', attrs.dimRoundingMode as 'floor'),
          filter: () =>
            gatherTaps(engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...common, dataFormat: attrs.dataFormat, filterShape: spread.shape }) as Tensor, dilations),
        };
      }
      return {
        x: () => engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: spread }, { ...common, dilations: 1, inputShape: x.shape }) as Tensor,
        filter: () =>
          gatherTaps(engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, dilations: 1, filterShape: spread.shape }) as Tensor, dilations),
      };
    },
  };
}

/** Sums `t` over the axes along which a tensor of `shape` was broadcast to it. */
function reduceTo(t: Tensor, shape: number[]): Tensor {
  const lead = t.rank - shape.length;
  const axes = t.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && t.shape[i] !== 1));
  return reshape(axes.length > 0 ? sum(t, axes) : t, shape);
}

/**
 * FusedBatchNorm's gradient with broadcasting. tfjs-core's tiles the per-channel factor to
 * the full input shape, and the wasm Tile kernel made that a fifth of a training step of a
 * BatchNorm network; it also fails for rank-4 (keepDims) moments.
 */
const batchNormGradient: GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dyIn, saved, attrs) => {
    const dy = dyIn as Tensor;
    const [x, mean, variance, scale] = saved;
    const scaled = scale == null ? dy : mul(dy, scale);
    const rstd = rsqrt(add(variance, attrs.varianceEpsilon as number));
    const centered = sub(x, mean);
    return {
      x: () => mul(scaled, rstd),
      mean: () => reduceTo(mul(scaled, mul(rstd, -1)), mean.shape),
      variance: () => reduceTo(mul(mul(centered, mul(mul(rstd, mul(rstd, rstd)), -0.5)), scaled), mean.shape),
      scale: () => reduceTo(mul(dy, mul(centered, rstd)), mean.shape),
      offset: () => reduceTo(dy, mean.shape),
    };
  },
};

/** Gradients registered over tfjs-core's own. */
export const replacedGradients: GradConfig[] = [convGradient('Conv2D'), convGradient('DepthwiseConv2dNative'), batchNormGradient];

export const missingGradients: GradConfig[] = [
  ...['Greater', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalXor'].map((k) => zeroGradient(k, ['a', 'b'])),
  zeroGradient('LogicalNot', ['x']),
  gatherNdGradient,
  depthToSpaceGradient,
];
