import { getKernel, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

/**
 * tfjs-backend-cpu 4.22's ResizeBilinearGrad fills its values in [b, h, w, c] order but
 * labels the result [b, w, h, c], so the gradient of a non-square resize throws. Relabel.
 */
function fixedResizeBilinearGrad(original: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const out = original(args) as TensorInfo;
    return { ...out, shape: (args.inputs.images as TensorInfo).shape };
  };
  return { kernelName: 'ResizeBilinearGrad', backendName: 'cpu', kernelFunc };
}

/** Replacement cpu kernels, built around the originals (which must be registered). */
export function cpuFixes(): KernelConfig[] {
  const resizeGrad = getKernel('ResizeBilinearGrad', 'cpu');
  return resizeGrad === undefined ? [] : [fixedResizeBilinearGrad(resizeGrad.kernelFunc)];
}
