import { Rng } from '../protocol/random.js';
import type { TrainingData } from './batches.js';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS } from './models.js';

/**
 * A learnable stand-in for MNIST: image of class c has a bright band of rows 4+2c .. 5+2c
 * on a noisy background, so a small model separates the classes within an epoch or two.
 */
export function bandsData(count: number, seed: number): TrainingData {
  const rng = Rng.derive(seed, 'learning.bandsData');
  const x = new Float32Array(count * PIXELS);
  const y = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const label = rng.int(NUM_CLASSES);
    y[n] = label;
    for (let row = 0; row < IMAGE_SIZE; row++) {
      const inBand = row >= 4 + 2 * label && row <= 5 + 2 * label;
      for (let col = 0; col < IMAGE_SIZE; col++) {
        x[n * PIXELS + row * IMAGE_SIZE + col] = inBand ? 0.5 + 0.5 * rng.next() : 0.4 * rng.next();
      }
    }
  }
  return { x, y, count };
}

/** Largest absolute difference between two equally long vectors. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}
