import { describe, expect, it } from 'vitest';
import { clipToNorm, coordinateMedian, krumScores, krumSelect, l2Norm, mean, pairwiseSquaredDistances, trimmedMean, weightedMean } from './aggregate.js';

describe('the pure aggregation math', () => {
  it('takes the coordinate median of an odd and an even count', () => {
    expect(Array.from(coordinateMedian([[1, 9], [5, -1], [3, 4]]))).toEqual([3, 4]);
    expect(Array.from(coordinateMedian([[1, 9], [5, -1], [3, 4], [4, 0]]))).toEqual([3.5, 2]);
  });

  it('sorts more than a handful of values per coordinate too', () => {
    const deltas = Array.from({ length: 41 }, (_, k) => [(k * 17) % 41, -k]);
    expect(Array.from(coordinateMedian(deltas))).toEqual([20, -20]);
  });

  it('trims floor(beta n) values from each end; beta 0 is the plain mean', () => {
    const deltas = [[1], [2], [3], [4], [5], [6], [7], [8], [9], [1000]];
    expect(Array.from(trimmedMean(deltas, 0.1))).toEqual([5.5]);
    expect(Array.from(trimmedMean(deltas, 0.19))).toEqual([5.5]);
    expect(trimmedMean(deltas, 0)[0]).toBeCloseTo(104.5, 10);
    expect(() => trimmedMean(deltas, 0.5)).toThrow(RangeError);
  });

  it('weights a mean by example counts', () => {
    expect(Array.from(weightedMean([[3, 0], [-1, 4]], [1, 3]))).toEqual([0, 3]);
    expect(Array.from(mean([[3, 0], [-1, 4]]))).toEqual([1, 2]);
  });

  it('scores Krum by the n - f - 2 nearest squared distances', () => {
    // Points 0, 1, 3, 10, 11 on a line; f = 1, so 2 neighbours each.
    const d = pairwiseSquaredDistances([[0], [1], [3], [10], [11]]);
    expect(d[0 * 5 + 2]).toBe(9);
    // 0: 1 + 9; 1: 1 + 4; 3: 4 + 9; 10: 1 + 49; 11: 1 + 64.
    expect(Array.from(krumScores(d, 5, 1))).toEqual([10, 5, 13, 50, 65]);
    expect(krumSelect([[0], [1], [3], [10], [11]], 1, 2)).toEqual([1, 0]);
    expect(() => krumScores(d, 5, 2)).toThrow(RangeError);
  });

  it('measures and clips L2 norms without overflow', () => {
    expect(l2Norm([3, 4])).toBe(5);
    expect(l2Norm([3e38, 4e38])).toBeCloseTo(5e38, -33);
    const v = new Float32Array([3, 4]);
    expect(clipToNorm(v, 2.5)).toBe(0.5);
    expect(Array.from(v)).toEqual([1.5, 2]);
    expect(clipToNorm(v, 10)).toBe(1);
    expect(() => clipToNorm(v, 0)).toThrow(RangeError);
  });
});
