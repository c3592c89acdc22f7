import { Rng } from '../protocol/index.js';

/** A delta like a local SGD step: mostly small Gaussian values, 3% ten times larger. */
export function realisticDelta(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal() * (rng.next() < 0.03 ? 1e-2 : 1e-3);
  return x;
}

/** Median wall time of `fn` over `count` runs after a few warm-up calls. */
export function median(count: number, fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    fn();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}
