export type Split = 'train' | 'test';

/**
 * A batch of videos: data is [B, T, H, W, 1] float32 in [0, 1], row-major; labels[b] is the
 * class of sequence b (MovingMNIST: the first digit's label; KTH: the action index).
 */
export interface VideoBatch {
  data: Float32Array;
  shape: [number, number, number, number, number];
  labels: Int32Array;
}

/** Domain tags for seeded streams, so no two data sources ever share random numbers. */
export const SPLIT_KEY: Record<Split, number> = { train: 0, test: 1 };
