import { describe, expect, it } from 'vitest';
import { dequantizeSum, quantizeForSecAgg, secaggQuantizer } from './quantize.js';
import { fakeUpdate, plainSum, seeded } from './testSupport.js';

describe('quantization bridge for secure aggregation', () => {
  it('never wraps: maxDevices inputs all at +clip or all at -clip sum to +-maxDevices * clip', () => {
    const q = secaggQuantizer(0.5, 1000);
    for (const x of [0.5, -0.5, 7, -7]) {
      const one = quantizeForSecAgg(Float32Array.of(x, x), q);
      const sum = dequantizeSum(plainSum(Array.from({ length: 1000 }, () => one), 2), q, 1000);
      expect(sum[0]).toBeCloseTo(Math.sign(x) * 500, 3);
    }
  });

  it('dequantizes the integer sum of n updates to their float sum within n / scale', () => {
    const q = secaggQuantizer(1, 100);
    const updates = Array.from({ length: 100 }, (_, i) => fakeUpdate(`d${i}`, 500));
    const rand = seeded(3);
    const sum = dequantizeSum(plainSum(updates.map((u) => quantizeForSecAgg(u, q, rand)), 500), q, 100);
    for (let i = 0; i < 500; i++) {
      const exact = updates.reduce((s, u) => s + u[i]!, 0);
      expect(Math.abs(sum[i]! - exact)).toBeLessThanOrEqual(100 / q.scale + 1e-5);
    }
  });

  it('rounds stochastically without bias', () => {
    const q = secaggQuantizer(1, 2 ** 28); // 7 levels: rounding is coarse, so bias would show
    const x = 0.3;
    const rand = seeded(5);
    const reps = 200_000;
    const u = new Float32Array(reps).fill(x);
    const ints = new Int32Array(quantizeForSecAgg(u, q, rand).buffer);
    const mean = ints.reduce((s, v) => s + v, 0) / reps / q.scale;
    const sd = 1 / q.scale / Math.sqrt(reps); // rounding noise is at most one level
    expect(Math.abs(mean - Math.fround(x))).toBeLessThan(5 * sd);
  });

  it('refuses more inputs than it was sized for, bad settings and non-finite values', () => {
    const q = secaggQuantizer(1, 10);
    expect(() => dequantizeSum(new Uint32Array(1), q, 11)).toThrow(/wrapped/);
    expect(() => secaggQuantizer(0, 10)).toThrow(RangeError);
    expect(() => secaggQuantizer(1, 0)).toThrow(RangeError);
    expect(() => quantizeForSecAgg(Float32Array.of(NaN), q)).toThrow(RangeError);
  });
});
