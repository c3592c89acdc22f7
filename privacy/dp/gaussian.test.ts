import { describe, expect, it } from 'vitest';
import { erfc } from './logMath.js';
import { secureGaussian, seededGaussian, type GaussianSource } from './gaussian.js';

/** Mean and variance of n draws of std `std` added to zeros. */
function moments(source: GaussianSource, n: number, std: number): { mean: number; variance: number; draws: Float64Array } {
  const draws = new Float64Array(n);
  source.addNoise(draws, std);
  let sum = 0;
  for (const x of draws) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of draws) ss += (x - mean) ** 2;
  return { mean, variance: ss / (n - 1), draws };
}

/** Pearson's chi-square of the draws (divided by std) against N(0, 1) over equal-probability-ish bins. */
function chiSquare(draws: Float64Array, std: number, edges: number[]): number {
  const cdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const x of draws) {
    const z = x / std;
    let k = 0;
    while (k < edges.length && z >= edges[k]!) k++;
    counts[k]!++;
  }
  let chi = 0;
  for (let k = 0; k <= edges.length; k++) {
    const lo = k === 0 ? 0 : cdf(edges[k - 1]!);
    const hi = k === edges.length ? 1 : cdf(edges[k]!);
    const expected = draws.length * (hi - lo);
    chi += (counts[k]! - expected) ** 2 / expected;
  }
  return chi;
}

const EDGES = [-3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3]; // 14 bins, 13 degrees of freedom
/** chi-square(13) upper 0.1% point is 34.53; at a fixed seed the test is deterministic. */
const CHI2_13_999 = 34.53;

describe('Gaussian noise', () => {
  it('has the requested standard deviation and zero mean (fixed seed, deterministic test mode)', () => {
    // Prepare: 200,000 draws of std 0.37.
    const n = 200_000;
    const std = 0.37;
    // Execute
    const { mean, variance, draws } = moments(seededGaussian('moments'), n, std);
    // Assert: within 4 standard errors (mean: std / sqrt(n); variance: std^2 sqrt(2 / (n - 1))).
    expect(Math.abs(mean)).toBeLessThan((4 * std) / Math.sqrt(n));
    expect(Math.abs(variance - std * std)).toBeLessThan(4 * std * std * Math.sqrt(2 / (n - 1)));
    expect(chiSquare(draws, std, EDGES)).toBeLessThan(CHI2_13_999);
  });

  it('is Gaussian in shape from the OS CSPRNG too (6-sigma bounds: a false alarm about once in 10^8 runs)', () => {
    const n = 200_000;
    const { mean, variance, draws } = moments(secureGaussian(), n, 2);
    expect(Math.abs(mean)).toBeLessThan((6 * 2) / Math.sqrt(n));
    expect(Math.abs(variance - 4)).toBeLessThan(6 * 4 * Math.sqrt(2 / (n - 1)));
    // chi-square(13) upper 1e-8 point is about 63.
    expect(chiSquare(draws, 2, EDGES)).toBeLessThan(63);
  });

  it('would notice the wrong std: a 2% error in std fails the variance bound', () => {
    const n = 200_000;
    const { variance } = moments(seededGaussian('moments'), n, 0.37 * 1.02);
    expect(Math.abs(variance - 0.37 * 0.37)).toBeGreaterThan(4 * 0.37 * 0.37 * Math.sqrt(2 / (n - 1)));
  });

  it('gives independent coordinates: no correlation between neighbours', () => {
    const n = 100_000;
    const { draws } = moments(seededGaussian('lag'), n, 1);
    let lag1 = 0;
    for (let i = 1; i < n; i++) lag1 += draws[i]! * draws[i - 1]!;
    expect(Math.abs(lag1 / (n - 1))).toBeLessThan(4 / Math.sqrt(n));
  });

  it('repeats exactly under one seed and differs between seeds; the secure source never repeats', () => {
    const a = new Float32Array(1000);
    const b = new Float32Array(1000);
    const c = new Float32Array(1000);
    seededGaussian(7).addNoise(a, 1);
    seededGaussian(7).addNoise(b, 1);
    seededGaussian(8).addNoise(c, 1);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const s1 = new Float32Array(1000);
    const s2 = new Float32Array(1000);
    secureGaussian().addNoise(s1, 1);
    secureGaussian().addNoise(s2, 1);
    expect(s2).not.toEqual(s1);
    expect(seededGaussian(1).kind).toBe('seeded');
    expect(secureGaussian().kind).toBe('secure');
  });

  it('adds to what is there, and adds nothing at std 0', () => {
    const v = new Float64Array(10).fill(5);
    seededGaussian(1).addNoise(v, 0);
    expect(Array.from(v)).toEqual(new Array(10).fill(5));
    seededGaussian(1).addNoise(v, 1e-9);
    for (const x of v) expect(x).toBeCloseTo(5, 6);
    expect(() => seededGaussian(1).addNoise(v, -1)).toThrow(/std/);
  });

  it('crosses its 64 KB refills without a seam (draws beyond the first pool are still N(0, 1))', () => {
    // 64 KB = 16,384 words = 4,096 pairs of normals per pool: 50,000 draws cross a dozen refills.
    const { mean, variance } = moments(seededGaussian('refill'), 50_000, 1);
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(50_000));
    expect(Math.abs(variance - 1)).toBeLessThan(4 * Math.sqrt(2 / 49_999));
  });
});
