import { Rng } from '../../protocol/random.js';
import { paramSpecs, type ModelName } from './models.js';

/**
 * Deterministic initial weights of a zoo model as one flat vector (per layer: kernel, then bias):
 * Glorot-uniform kernels, U(-l, l) with l = sqrt(6 / (fanIn + fanOut)) (Glorot & Bengio 2010,
 * the Keras default), and zero biases. Pure JS, so every process derives the same vector from a seed.
 */
export function initialWeights(name: ModelName, seed: number): Float32Array {
  const specs = paramSpecs(name);
  const out = new Float32Array(specs.reduce((sum, p) => sum + p.size, 0));
  const rng = Rng.derive(seed, 'learning.initialWeights', name);
  let offset = 0;
  for (const p of specs) {
    if (p.role === 'kernel') {
      const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
      for (let i = offset; i < offset + p.size; i++) out[i] = (2 * rng.next() - 1) * limit;
    }
    offset += p.size;
  }
  return out;
}
