/**
 * The scale-space warp of Agustsson et al. 2020 with one blur level, as in the paper's code:
 * the volume [ref, blur(ref)] sampled trilinearly at (x + dx, y + dy, s), as PyTorch's
 * grid_sample(align_corners=False, padding_mode='border') on that volume would.
 *
 * Our s in [0, 1] is grid_sample's depth coordinate gz = s - 0.5 on that 2-deep volume.
 *
 * The sampler is a custom gradient: the corner indices are int32 functions of the field,
 * and the tape refuses the int32 "gradient" that Gather reports for its indices, so plain
 * autodiff of an op composition throws. Where the backend has the fused kernels of
 * src/engine/wasm-warp.ts (wasm) they run; elsewhere the same maths as tfjs-core ops (one
 * gather forward, one ScatterNd backward), which run on any backend but are ~15x
 * slower on wasm (numbers in wasm-warp.ts). The gradient is first order only: nothing
 * differentiates through the warp twice.
 */
import { tf } from '../engine/index.ts';

/** Blur of the second volume level: Gaussian sigma0 = 1.5 over 11 taps, as in the paper's code. */
export const BLUR_SIGMA = 1.5;
export const BLUR_TAPS = 11;

function gaussianTaps(): Float32Array {
  const r = (BLUR_TAPS - 1) / 2;
  const g = Array.from({ length: BLUR_TAPS }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * BLUR_SIGMA ** 2)));
  const total = g.reduce((a, b) => a + b, 0);
  return Float32Array.from(g, (v) => v / total);
}

/** Replicate (edge) padding of `r` on both sides of one spatial axis; tfjs has no edge mode. */
function replicatePad(x: tf.Tensor4D, axis: 1 | 2, r: number): tf.Tensor4D {
  const n = x.shape[axis];
  const size = [...x.shape];
  size[axis] = 1;
  const first = tf.slice(x, [0, 0, 0, 0], size);
  const last = tf.slice(x, axis === 1 ? [0, n - 1, 0, 0] : [0, 0, n - 1, 0], size);
  const reps = [1, 1, 1, 1];
  reps[axis] = r;
  return tf.concat([tf.tile(first, reps), x, tf.tile(last, reps)], axis);
}

/** Separable Gaussian blur of every channel, replicate padding, same size out. */
export function gaussianBlur(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const c = x.shape[3];
    const r = (BLUR_TAPS - 1) / 2;
    const taps = gaussianTaps();
    const tapsPerChannel = (shape: [number, number, number, number]) =>
      tf.tensor4d(Float32Array.from({ length: BLUR_TAPS * c }, (_, i) => taps[Math.floor(i / c)]!), shape);
    const vertical = tf.depthwiseConv2d(replicatePad(x, 1, r), tapsPerChannel([BLUR_TAPS, 1, c, 1]), 1, 'valid');
    return tf.depthwiseConv2d(replicatePad(vertical, 2, r), tapsPerChannel([1, BLUR_TAPS, c, 1]), 1, 'valid');
  });
}

/** Where and with what weights each output pixel reads the volume. */
interface Sampling {
  /** [4 * B * H * W] int32 rows of the volume flattened to [B*H*W, channels]: corners 00, 01, 10, 11 (y, x). */
  index: tf.Tensor1D;
  /** [4, B, H, W, 1] bilinear weights in the same corner order. */
  weights: tf.Tensor;
  wx: tf.Tensor4D;
  wy: tf.Tensor4D;
  /** Clamped depth [B, H, W, 1]. */
  s: tf.Tensor4D;
  /** 1 where the unclamped coordinate lies inside its range (the clamp passes gradient there), else 0. */
  inX: tf.Tensor4D;
  inY: tf.Tensor4D;
  inS: tf.Tensor4D;
}

function sampling(field: tf.Tensor4D): Sampling {
  const [b, h, w] = field.shape;
  const [dx, dy, sRaw] = tf.split(field, 3, 3) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  // align_corners=False: pixel j sits at normalised (2j + 1)/W - 1, so x = j + dx * W/2.
  const xRaw = tf.add(tf.reshape(tf.range(0, w, 1, 'float32'), [1, 1, w, 1]), tf.mul(dx, w / 2)) as tf.Tensor4D;
  const yRaw = tf.add(tf.reshape(tf.range(0, h, 1, 'float32'), [1, h, 1, 1]), tf.mul(dy, h / 2)) as tf.Tensor4D;
  const inside = (v: tf.Tensor4D, hi: number) => tf.cast(tf.logicalAnd(tf.greaterEqual(v, 0), tf.lessEqual(v, hi)), 'float32') as tf.Tensor4D;
  const x = tf.clipByValue(xRaw, 0, w - 1);
  const y = tf.clipByValue(yRaw, 0, h - 1);
  const x0 = tf.floor(x);
  const y0 = tf.floor(y);
  const wx = tf.sub(x, x0) as tf.Tensor4D;
  const wy = tf.sub(y, y0) as tf.Tensor4D;
  // Integer index arithmetic, exact at any size; x1 = x0 at the last column (its weight is 0 there).
  const xi0 = tf.cast(x0, 'int32');
  const yi0 = tf.cast(y0, 'int32');
  // (a plain number operand would make the result float32)
  const int = (v: number) => tf.scalar(v, 'int32');
  const xi1 = tf.minimum(tf.add(xi0, int(1)), int(w - 1));
  const yi1 = tf.minimum(tf.add(yi0, int(1)), int(h - 1));
  const base = tf.reshape(tf.mul(tf.range(0, b, 1, 'int32'), int(h * w)), [b, 1, 1, 1]);
  const row0 = tf.add(base, tf.mul(yi0, int(w)));
  const row1 = tf.add(base, tf.mul(yi1, int(w)));
  const index = tf.reshape(tf.stack([tf.add(row0, xi0), tf.add(row0, xi1), tf.add(row1, xi0), tf.add(row1, xi1)]), [-1]) as tf.Tensor1D;
  const ux = tf.sub(1, wx);
  const uy = tf.sub(1, wy);
  const weights = tf.stack([tf.mul(uy, ux), tf.mul(uy, wx), tf.mul(wy, ux), tf.mul(wy, wx)]);
  return {
    index, weights, wx, wy,
    s: tf.clipByValue(sRaw, 0, 1),
    inX: inside(xRaw, w - 1), inY: inside(yRaw, h - 1), inS: inside(sRaw, 1),
  };
}

/** The four corners of every pixel, [4, B, H, W, channels], from a volume [B, H, W, channels]. */
function corners(vol: tf.Tensor4D, index: tf.Tensor1D): tf.Tensor {
  const [b, h, w, c] = vol.shape;
  return tf.reshape(tf.gather(tf.reshape(vol, [b * h * w, c]), index), [4, b, h, w, c]);
}

/** vol = [sharp, blurred] along channels (C each), field [B, H, W, 3] -> [B, H, W, C]. */
function sampleForward(vol: tf.Tensor4D, field: tf.Tensor4D): tf.Tensor4D {
  const c = vol.shape[3] / 2;
  const sp = sampling(field);
  const v = tf.sum(tf.mul(corners(vol, sp.index), sp.weights), 0) as tf.Tensor4D;
  const [sharp, blurred] = tf.split(v, [c, c], 3);
  return tf.add(tf.mul(sharp!, tf.sub(1, sp.s)), tf.mul(blurred!, sp.s));
}

function sampleBackward(dy: tf.Tensor4D, vol: tf.Tensor4D, field: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
  const [b, h, w, c2] = vol.shape;
  const c = c2 / 2;
  const sp = sampling(field);
  const g = corners(vol, sp.index);
  const [g00, g01, g10, g11] = tf.unstack(g) as tf.Tensor4D[];
  // d out / d V, V the bilinear sample of both levels: (1 - s) on the sharp half, s on the blurred.
  const dV = tf.concat([tf.mul(dy, tf.sub(1, sp.s)), tf.mul(dy, sp.s)], 3);
  // Each corner receives its weight times dV; corners that share a row are summed. ScatterNd, not
  // UnsortedSegmentSum: that one is quadratic on cpu and on webgpu first transposes the rows into a
  // dispatch of rows / 16 workgroups, over WebGPU's 65535 from 64 frames of 64x64 on.
  const dvol = tf.scatterND(tf.reshape(sp.index, [-1, 1]), tf.reshape(tf.mul(sp.weights, dV), [-1, c2]), [b * h * w, c2]);
  const v = tf.sum(tf.mul(g, sp.weights), 0) as tf.Tensor4D;
  const [sharp, blurred] = tf.split(v, [c, c], 3);
  const ds = tf.mul(tf.sum(tf.mul(dy, tf.sub(blurred!, sharp!)), 3, true), sp.inS);
  const dVdx = tf.add(tf.mul(tf.sub(1, sp.wy), tf.sub(g01!, g00!)), tf.mul(sp.wy, tf.sub(g11!, g10!)));
  const dVdy = tf.add(tf.mul(tf.sub(1, sp.wx), tf.sub(g10!, g00!)), tf.mul(sp.wx, tf.sub(g11!, g01!)));
  const ddx = tf.mul(tf.sum(tf.mul(dV, dVdx), 3, true), tf.mul(sp.inX, w / 2));
  const ddy = tf.mul(tf.sum(tf.mul(dV, dVdy), 3, true), tf.mul(sp.inY, h / 2));
  return [tf.reshape(dvol, vol.shape), tf.concat([ddx, ddy, ds], 3) as tf.Tensor4D];
}

/** The composed path: a custom gradient over (sharp, blurred, field); the blur is differentiated by the tape. */
const sampleVolume = tf.customGrad((sharpIn, blurredIn, fieldIn, save) => {
  const [sharp, blurred, field] = [sharpIn, blurredIn, fieldIn] as tf.Tensor4D[];
  // save() keeps the inputs alive until the backward pass, which recomputes the sampling.
  (save as tf.GradSaveFunc)([sharp!, blurred!, field!]);
  return {
    value: tf.tidy(() => sampleForward(tf.concat([sharp!, blurred!], 3), field!)),
    gradFunc: (dy: tf.Tensor, [s, b, f]: tf.Tensor[]) =>
      tf.tidy(() => {
        const [dvol, dfield] = sampleBackward(dy as tf.Tensor4D, tf.concat([s as tf.Tensor4D, b as tf.Tensor4D], 3), f as tf.Tensor4D);
        return [...tf.split(dvol, 2, 3), dfield];
      }),
  };
});

/** The fused path: blur and sampler in one kernel each way (src/engine/wasm-warp.ts). */
const fusedWarp = tf.customGrad((refIn, fieldIn, save) => {
  const [ref, field] = [refIn, fieldIn] as tf.Tensor4D[];
  const [out, blurred] = tf.engine().runKernel('ScaleSpaceWarp', { ref: ref!, field: field! }) as tf.Tensor4D[];
  (save as tf.GradSaveFunc)([ref!, blurred!, field!]);
  return {
    value: out!,
    gradFunc: (dy: tf.Tensor, [r, b, f]: tf.Tensor[]) =>
      tf.engine().runKernel('ScaleSpaceWarpGrad', { dy, ref: r!, blurred: b!, field: f! }) as tf.Tensor[],
  };
});

/**
 * Warp ref [B, H, W, C] by field [B, H, W, 3] = (dx, dy, s): dx, dy in grid_sample's normalised
 * units (a shift of k pixels is 2k/W), s the depth in the volume [ref, blur(ref)] (0 sharp, 1 blurred,
 * linear between, clamped to [0, 1]). Coordinates are clamped to the border. Identity flow with
 * s = 0 returns ref exactly.
 */
export function scaleSpaceWarp(ref: tf.Tensor4D, field: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w] = ref.shape;
  if (field.rank !== 4 || field.shape[0] !== b || field.shape[1] !== h || field.shape[2] !== w || field.shape[3] !== 3) {
    throw new Error(`scaleSpaceWarp: field shape [${field.shape}] does not match ref [${ref.shape}] with 3 channels`);
  }
  if (tf.getKernel('ScaleSpaceWarp', tf.getBackend()) !== undefined) return fusedWarp(ref, field) as tf.Tensor4D;
  return sampleVolume(ref, gaussianBlur(ref), field) as tf.Tensor4D;
}
