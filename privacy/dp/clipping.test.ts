import { describe, expect, it } from 'vitest';
import { Rng } from '../../protocol/index.js';
import { clipToNorm, l2Norm } from './clipping.js';

const vector = (n: number, seed: number, scale: number): Float32Array => {
  const rng = new Rng(seed);
  return new Float32Array(n).map(() => rng.normal() * scale);
};

describe('L2 clipping', () => {
  it('leaves an update within the bound untouched, bit for bit', () => {
    const v = vector(1000, 1, 0.01);
    const before = Float32Array.from(v);
    const result = clipToNorm(v, l2Norm(v) * 1.0001);
    expect(result.unclipped).toBe(true);
    expect(result.factor).toBe(1);
    expect(v).toEqual(before);
  });

  it('scales a longer update onto the bound, keeping its direction', () => {
    // Prepare
    const v = vector(10_000, 2, 1);
    const before = Float64Array.from(v);
    const norm = l2Norm(before);
    // Execute
    const result = clipToNorm(v, 3);
    // Assert: norm at most C and within float32 rounding of it; every coordinate scaled by one factor.
    expect(result.unclipped).toBe(false);
    expect(result.norm).toBeCloseTo(norm, 6);
    expect(l2Norm(v)).toBeLessThanOrEqual(3);
    expect(l2Norm(v)).toBeGreaterThan(3 * (1 - 1e-6));
    for (let i = 0; i < v.length; i += 97) expect(v[i]).toBeCloseTo(before[i]! * result.factor, 6);
  });

  it('never lands above C after float32 rounding, over many vectors and bounds', () => {
    // The sensitivity the noise is calibrated to is exactly "norm <= C"; a few ulps above would break it.
    for (let seed = 0; seed < 300; seed++) {
      const rng = new Rng(1000 + seed);
      const n = 1 + rng.int(3000);
      const v = vector(n, seed, 10 ** (rng.next() * 6 - 3));
      const c = 10 ** (rng.next() * 4 - 3);
      clipToNorm(v, c);
      expect(l2Norm(v)).toBeLessThanOrEqual(c);
    }
  });

  it('clips a single huge coordinate and a vector of equal coordinates exactly', () => {
    const spike = new Float32Array(100);
    spike[7] = 3e38;
    clipToNorm(spike, 0.5);
    expect(l2Norm(spike)).toBeLessThanOrEqual(0.5);
    expect(spike[7]).toBeCloseTo(0.5, 6);
    const flat = new Float32Array(4).fill(1); // norm 2
    clipToNorm(flat, 1);
    expect(Array.from(flat)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('refuses a non-finite update or a bound that is not a positive number', () => {
    expect(() => clipToNorm(new Float32Array([1, NaN]), 1)).toThrow(/non-finite/);
    expect(() => clipToNorm(new Float32Array([1, Infinity]), 1)).toThrow(/non-finite/);
    expect(() => clipToNorm(new Float32Array([1]), 0)).toThrow(/positive/);
    expect(() => clipToNorm(new Float32Array([1]), NaN)).toThrow(/positive/);
  });

  it('measures norms without overflow', () => {
    const big = Math.fround(3e38);
    expect(l2Norm(new Float32Array([big, big])) / (big * Math.SQRT2)).toBeCloseTo(1, 14);
    expect(l2Norm(new Float32Array(5))).toBe(0);
  });
});
