// Gradients that tfjs-core lacks. They are written with ops, so they are themselves
// differentiable (second-order gradients, as the WGAN-GP penalty needs) on any backend.
import { reshape, scatterND, transpose, zerosLike, type GradConfig, type Tensor } from '@tensorflow/tfjs-core';

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

export const missingGradients: GradConfig[] = [
  ...['Greater', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalXor'].map((k) => zeroGradient(k, ['a', 'b'])),
  zeroGradient('LogicalNot', ['x']),
  gatherNdGradient,
  depthToSpaceGradient,
];
