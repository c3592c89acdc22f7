import { Rng, f32Codec, type Codec } from '../../protocol/index.js';
import type { Strategy } from './strategy.js';

/** One update to feed a strategy in a test: device id, example count, plain delta. */
export interface TestUpdate {
  id: string;
  examples: number;
  delta: ArrayLike<number>;
}

/** Runs one round of `strategy` from `global` over `updates`, in the order given. */
export function runRound(strategy: Strategy, global: Float32Array, updates: TestUpdate[], codec: Codec = f32Codec, round = 1): Float32Array | null {
  const aggregation = strategy.beginRound(round, global);
  for (const u of updates) {
    const delta = codec.encode(Float32Array.from(u.delta), Rng.derive(7, u.id));
    aggregation.add({ deviceId: u.id, numExamples: u.examples, codec, delta });
  }
  return aggregation.finish([]);
}

/** A vector of `n` standard normal values times `scale`. */
export function normalVector(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** ||a - b|| / ||b||. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** `next - global`, in float64. */
export function stepOf(next: Float32Array, global: Float32Array): Float64Array {
  return Float64Array.from(next, (v, i) => v - global[i]!);
}
