import { Rng } from '../protocol/random.js';
import { subset, type Dataset } from './dataset.js';
import { gatherExamples, type DeviceData } from './deviceData.js';
import type { DeviceDataConfig } from './deviceDataOptions.js';
import { featureMoments, type FeatureMoments } from './featureStats.js';
import { readingsOf, splitHoldout } from './holdout.js';
import type { DataShape } from './taskFit.js';

/** Examples flat and raw, as a task model takes them (learning/task/taskData.ts, `TaskData`). */
export interface Examples {
  /** Row-major, `count * shape` values, as read (a task's `input.scale` and statistics are applied by the model). */
  x: Float32Array;
  /** One target per example: a class index, 0/1, or a regression value. */
  y: Float32Array | Uint8Array;
  count: number;
}

/**
 * What a device holds: examples it trains on, a held-out share it evaluates globals on, and its
 * feature moments; `shape`, `target` and `featureNames` say which tasks it can train (`taskMismatch`).
 */
export interface DeviceExamples extends DataShape {
  train: Examples;
  /** Held out for federated evaluation; null when the device keeps none. */
  holdout: Examples | null;
  /**
   * Per feature (the last dimension of `shape`), the moments of the training readings as read:
   * what a `statistics` round asks for. Each reading counts once, however many windows hold it;
   * held-out readings are left out (a reading in both a training and a held-out window counts).
   * Each call returns a fresh object.
   */
  moments: () => FeatureMoments;
}

/**
 * A device's data file(s) cut into training and held-out examples (`config.holdout`,
 * `holdoutBy`, `seed`; see `splitHoldout`). Throws `RangeError` when the held-out share leaves
 * nothing to train on. Training and held-out examples are copied out flat (`window * features`
 * values each), so overlapping windows cost their full size here.
 */
export function deviceExamples(data: DeviceData, config: Pick<DeviceDataConfig, 'holdout' | 'holdoutBy' | 'seed'>): DeviceExamples {
  checkShare(config.holdout);
  const split = splitHoldout(data, config);
  if (split.train.length === 0) {
    throw new RangeError(`no training examples are left after holding out ${percent(config.holdout)} (by ${config.holdoutBy}) of ${data.count}`);
  }
  const pick = (indices: Uint32Array): Examples => ({
    x: gatherExamples(data, indices), y: Float32Array.from(indices, (i) => data.targets[i] as number), count: indices.length,
  });
  const features = data.featureNames.length;
  // Computed once: the examples are copied out, so the readings need not outlive this call.
  const moments = featureMoments(data.readings.subarray(0, data.readingCount * features), features, readingsOf(data, split.train));
  return {
    train: pick(split.train),
    holdout: split.test.length > 0 ? pick(split.test) : null,
    shape: data.shape,
    target: data.target,
    featureNames: data.featureNames,
    moments: () => structuredClone(moments),
  };
}

/**
 * An in-memory dataset (an MNIST shard) as a device's examples: a seeded `holdout` share is
 * held out, drawn as a device file's `example` split is (0, the default, keeps every example
 * for training, as simulations before federated evaluation did). `shape` is one example's
 * shape; its size must be the dataset's `features`.
 */
export function datasetExamples(ds: Dataset, shape: readonly number[], holdout = 0, seed = 0): DeviceExamples {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length === 0 || !shape.every((n) => Number.isSafeInteger(n) && n > 0) || size !== ds.features) {
    throw new RangeError(`datasetExamples: shape [${shape.join(', ')}] does not hold the dataset's ${ds.features} values per example`);
  }
  checkShare(holdout);
  const features = shape[shape.length - 1] as number;
  const target = { kind: 'classification' as const, classes: Array.from({ length: ds.numClasses }, (_, i) => String(i)) };
  if (holdout === 0) return { train: ds, holdout: null, shape, target, moments: () => featureMoments(ds.x.subarray(0, ds.count * ds.features), features) };
  const order = Uint32Array.from({ length: ds.count }, (_, i) => i);
  Rng.derive(seed, 'holdout').shuffle(order);
  const held = Math.round(ds.count * holdout);
  if (held >= ds.count) throw new RangeError(`no training examples are left after holding out ${percent(holdout)} of ${ds.count}`);
  const train = subset(ds, order.slice(held).sort());
  const test = subset(ds, order.slice(0, held).sort());
  return { train, holdout: test.count > 0 ? test : null, shape, target, moments: () => featureMoments(train.x, features) };
}

function checkShare(holdout: number): void {
  if (!(holdout >= 0 && holdout < 1)) throw new RangeError(`the held-out share must be in [0, 1), got ${holdout}`);
}

function percent(share: number): string {
  return `${Number((share * 100).toPrecision(6))}%`;
}
