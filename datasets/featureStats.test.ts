import { describe, expect, it } from 'vitest';
import { Rng } from '../protocol/random.js';
import { combineMoments, featureMoments, featureStatistics, standardize } from './index.js';

/** Rows of 3 features around a device-specific offset, like sensors in different rooms. */
function deviceRows(rng: Rng, rows: number, offset: number): Float32Array {
  const x = new Float32Array(rows * 3);
  for (let i = 0; i < rows; i++) {
    x[i * 3] = offset + rng.normal();
    x[i * 3 + 1] = 20 + 5 * rng.normal() + offset;
    x[i * 3 + 2] = rng.next() < 0.3 ? 1 : 0;
  }
  return x;
}

/** Mean and population std of one column, two-pass (the reference). */
function pooled(values: Float32Array, features: number, f: number): { mean: number; std: number } {
  const n = values.length / features;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i * features + f] as number;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += ((values[i * features + f] as number) - mean) ** 2;
  return { mean, std: Math.sqrt(sq / n) };
}

describe('federated feature statistics', () => {
  it("combined devices' moments give the mean and std of all devices' data pooled", () => {
    // Prepare: three devices of different sizes and offsets.
    const rng = new Rng(7);
    const devices = [deviceRows(rng, 50, 0), deviceRows(rng, 130, 4), deviceRows(rng, 7, -3)];
    const all = new Float32Array(devices.reduce((n, d) => n + d.length, 0));
    devices.reduce((at, d) => (all.set(d, at), at + d.length), 0);

    // Execute: each device computes its aggregates; the aggregator only adds them.
    const stats = featureStatistics(combineMoments(devices.map((d) => featureMoments(d, 3))));

    // Assert
    expect(stats.count).toEqual([187, 187, 187]);
    for (let f = 0; f < 3; f++) {
      const reference = pooled(all, 3, f);
      expect(stats.mean[f]).toBeCloseTo(reference.mean, 10);
      expect(stats.std[f]).toBeCloseTo(reference.std, 8);
    }
  });

  it('counts only the chosen rows, e.g. a device keeps its held-out rows out of the statistics', () => {
    // Execute
    const moments = featureMoments(Float32Array.of(1, 10, 2, 20, 3, 30), 2, [0, 2]);

    // Assert
    expect(moments).toEqual({ count: [2, 2], sum: [4, 40], sumSquares: [10, 1000] });
  });

  it('standardises with the fleet statistics, leaving a constant feature centred', () => {
    // Execute
    const x = standardize(Float32Array.of(1, 5, 3, 5), { mean: [2, 5], std: [1, 0] });

    // Assert
    expect([...x]).toEqual([-1, 0, 1, 0]);
  });

  it('refuses moments of different feature counts', () => {
    expect(() => combineMoments([featureMoments(Float32Array.of(1, 2), 2), featureMoments(Float32Array.of(1), 1)])).toThrow(/part 1 has 1 count/);
  });
});
