import { tf } from '../engine/index.ts';
import { critic, type CriticParams } from '../models/critic.ts';

/**
 * A critic's W1 estimate between frames and their reconstructions (both [N, size, size] in
 * [0, 1], row-major): mean score of the real frames minus that of the reconstructions.
 */
export function criticW1(p: CriticParams, size: number, real: Float32Array, decoded: Float32Array): number {
  const shape: [number, number, number, number] = [real.length / (size * size), size, size, 1];
  return tf.tidy(() => tf.sub(tf.mean(critic(p, tf.tensor4d(real, shape))), tf.mean(critic(p, tf.tensor4d(decoded, shape)))).dataSync()[0]!);
}
