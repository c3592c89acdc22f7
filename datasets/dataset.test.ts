import { describe, expect, it } from 'vitest';
import { labelHistogram, subset, type Dataset } from './index.js';

const ds: Dataset = {
  x: Float32Array.from([0, 0.1, 1, 1.1, 2, 2.1, 3, 3.1]),
  y: Uint8Array.from([0, 1, 1, 9]),
  count: 4,
  features: 2,
  numClasses: 10,
};

describe('subset', () => {
  it('copies the chosen rows and labels in the order given', () => {
    // Execute
    const picked = subset(ds, [3, 0, 3]);

    // Assert
    expect(picked).toMatchObject({ count: 3, features: 2, numClasses: 10 });
    expect(Array.from(picked.x)).toEqual(Array.from(Float32Array.from([3, 3.1, 0, 0.1, 3, 3.1])));
    expect(Array.from(picked.y)).toEqual([9, 0, 9]);
  });

  it('rejects an index outside the dataset', () => {
    // Execute / Assert
    expect(() => subset(ds, [0, 4])).toThrow(RangeError);
    expect(() => subset(ds, [-1])).toThrow(RangeError);
  });
});

describe('labelHistogram', () => {
  it('counts the labels of the chosen examples', () => {
    // Execute
    const counts = labelHistogram(ds.y, Uint32Array.from([1, 2, 3]));

    // Assert
    expect(counts).toEqual([0, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('rejects a label beyond numClasses', () => {
    // Execute / Assert
    expect(() => labelHistogram(ds.y, [3], 4)).toThrow(/label 9 is not below numClasses 4/);
  });
});
