import { describe, expect, it } from 'vitest';
import { labelHistogram, loadMnist } from './index.js';

describe('loadMnist', () => {
  it('loads 60,000 training and 10,000 test images of 28x28 pixels scaled to [0, 1]', async () => {
    // Execute
    const { train, test } = await loadMnist();

    // Assert
    expect(train.count).toBe(60_000);
    expect(test.count).toBe(10_000);
    for (const ds of [train, test]) {
      expect(ds.features).toBe(784);
      expect(ds.numClasses).toBe(10);
      expect(ds.x.length).toBe(ds.count * 784);
      expect(ds.y.length).toBe(ds.count);
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < ds.x.length; i++) {
        const v = ds.x[i] as number;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect(min).toBe(0);
      expect(max).toBe(1);
    }
  });

  it('holds every digit, with the known first labels 5 (train) and 7 (test)', async () => {
    // Execute
    const { train, test } = await loadMnist();

    // Assert
    expect(train.y[0]).toBe(5);
    expect(test.y[0]).toBe(7);
    const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
    expect(labelHistogram(train.y, all(train.count))).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(labelHistogram(test.y, all(test.count)).every((c) => c > 800)).toBe(true);
  });

  it('keeps the first pixels of the first training image as the IDX file has them', async () => {
    // Prepare: row 5 of the first image (a 5) starts dark and turns bright at column 12.
    const { train } = await loadMnist();

    // Execute
    const row5 = Array.from(train.x.subarray(5 * 28, 6 * 28)).map((v) => Math.round(v * 255));

    // Assert
    expect(row5.slice(0, 12)).toEqual(new Array(12).fill(0));
    expect(row5.slice(12, 16)).toEqual([3, 18, 18, 18]);
  });

  it('is loaded once per process', async () => {
    // Execute
    const first = await loadMnist();
    const second = await loadMnist();

    // Assert
    expect(second).toBe(first);
  });
});
