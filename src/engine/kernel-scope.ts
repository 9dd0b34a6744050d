import { getKernel, type KernelBackend, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Runs a backend's own registered kernels (wasm's by default) inside one of our kernels. Calling
 * `kernelFunc` directly (not high-level ops) keeps the work off the autodiff tape and out
 * of the engine's bookkeeping, so every intermediate must be freed here by hand.
 */
export class KernelScope<B extends KernelBackend = KernelBackend> {
  protected readonly made: TensorInfo[] = [];

  constructor(readonly backend: B, readonly backendName = 'wasm') {}

  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = getKernel(kernelName, this.backendName);
    if (kernel === undefined) throw new Error(`${this.backendName} kernel ${kernelName} is not registered`);
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs }) as TensorInfo;
    this.made.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  zeros(shape: number[]): TensorInfo {
    return this.run('Fill', {}, { shape, value: 0, dtype: 'float32' });
  }

  /**
   * Frees every intermediate except `result`. Reshapes share their source's data under a
   * reference count, so freeing the source of a returned reshape is safe.
   */
  keep(result: TensorInfo): TensorInfo {
    for (const t of this.made) if (t !== result) this.backend.disposeData(t.dataId);
    this.made.length = 0;
    return result;
  }
}
