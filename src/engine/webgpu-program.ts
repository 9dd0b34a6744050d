import * as tf from '@tensorflow/tfjs-core';
import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';

/** What tfjs-backend-webgpu needs of a program (its WebGPUProgram interface, not exported). */
export interface WebGpuBackend extends KernelBackend {
  runWebGPUProgram(program: object, inputs: TensorInfo[], dtype: 'float32', uniforms: { type: 'float32' | 'int32'; data: number[] }[]): TensorInfo;
}

/** A float32 uniform, as runWebGPUProgram takes it. */
export const f32 = (v: number) => ({ type: 'float32' as const, data: [v] });

const WORKGROUP = 64;
const MAX_GROUPS = 65535;

/**
 * One output element a thread: `expr` of the inputs (flat buffers, read as `name[i]`) at the flat
 * `index`, after the `prelude` statements; `uniforms` declares the program's own uniforms
 * ('eps : f32,'), passed to runWebGPUProgram in that order.
 */
export class ElementwiseProgram {
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly size = true;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];

  constructor(readonly variableNames: string[], readonly outputShape: number[], readonly uniforms: string, readonly shaderKey: string, private readonly expr: string, private readonly prelude = '') {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    // Past 65535 workgroups in x the rest go to y; the shader's flat index counts both.
    const groups = Math.ceil(tf.util.sizeFromShape(outputShape) / WORKGROUP);
    const x = Math.min(groups, MAX_GROUPS);
    this.dispatch = [x, Math.ceil(groups / x), 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${this.prelude}
          setOutputAtIndex(index, ${this.expr});
        }
      }
    `;
  }
}
