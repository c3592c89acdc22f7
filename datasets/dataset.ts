/** A labelled dataset held as flat typed arrays, so training code never builds JS arrays. */
export interface Dataset {
  /** Row-major `count * features` values, pixels scaled to [0, 1]. */
  x: Float32Array;
  /** One class label per example. */
  y: Uint8Array;
  count: number;
  features: number;
  numClasses: number;
}

/** The examples at `indices`, in that order, copied into a new dataset. */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const { features } = ds;
  const count = indices.length;
  const x = new Float32Array(count * features);
  const y = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new RangeError(`subset: index ${i} at position ${k} is outside 0..${ds.count - 1}`);
    }
    x.set(ds.x.subarray(i * features, (i + 1) * features), k * features);
    y[k] = ds.y[i] as number;
  }
  return { x, y, count, features, numClasses: ds.numClasses };
}

/** How many of the examples at `indices` carry each label 0..numClasses-1. */
export function labelHistogram(labels: Uint8Array, indices: ArrayLike<number>, numClasses = 10): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let k = 0; k < indices.length; k++) {
    const label = labels[indices[k] as number];
    if (label === undefined) throw new RangeError(`labelHistogram: index ${indices[k]} is outside the labels`);
    if (label >= numClasses) throw new RangeError(`labelHistogram: label ${label} is not below numClasses ${numClasses}`);
    counts[label] = (counts[label] as number) + 1;
  }
  return counts;
}
