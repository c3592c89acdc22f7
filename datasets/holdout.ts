import { Rng } from '../protocol/random.js';
import type { DeviceData } from './deviceData.js';
import type { DeviceDataConfig } from './deviceDataOptions.js';

/** Example indices (into `DeviceData.starts`), ascending. */
export interface HoldoutSplit {
  train: Uint32Array;
  test: Uint32Array;
}

/**
 * The device's seeded held-out share for federated evaluation (`config.holdout`, default 20%):
 * - `example`: exactly `round(count * holdout)` examples drawn by a seeded shuffle (rows, or
 *   windows when `window > 1`; overlapping windows then share readings across the split);
 * - `tail`: the last `holdout` share of every sequence's readings is held out; windows that
 *   straddle the cut are in neither part, so no reading is both trained on and tested.
 * The same data, options and seed always give the same split.
 */
export function splitHoldout(data: DeviceData, config: Pick<DeviceDataConfig, 'holdout' | 'holdoutBy' | 'seed'>): HoldoutSplit {
  return config.holdoutBy === 'tail' ? splitTail(data, config.holdout) : splitExamples(data.count, config.holdout, config.seed);
}

function splitExamples(count: number, share: number, seed: number): HoldoutSplit {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  Rng.derive(seed, 'holdout').shuffle(order);
  const held = Math.round(count * share);
  return { train: order.slice(held).sort(), test: order.slice(0, held).sort() };
}

function splitTail(data: DeviceData, share: number): HoldoutSplit {
  const train: number[] = [];
  const test: number[] = [];
  let k = 0;
  for (const { start, end } of data.sequences) {
    const cut = end - Math.round((end - start) * share);
    for (; k < data.count && (data.starts[k] as number) < end; k++) {
      const s = data.starts[k] as number;
      if (s >= cut) test.push(k);
      else if (s + data.window <= cut) train.push(k);
    }
  }
  return { train: Uint32Array.from(train), test: Uint32Array.from(test) };
}

/** The readings the examples at `indices` cover, each once, ascending (e.g. the training rows for statistics). */
export function readingsOf(data: DeviceData, indices: ArrayLike<number>): Uint32Array {
  const covered = new Uint8Array(data.readingCount);
  let n = 0;
  for (let k = 0; k < indices.length; k++) {
    const s = data.starts[indices[k] as number];
    if (s === undefined) throw new RangeError(`readingsOf: example ${indices[k]} is outside 0..${data.count - 1}`);
    for (let r = s; r < s + data.window; r++) {
      if (covered[r] === 0) n++;
      covered[r] = 1;
    }
  }
  const rows = new Uint32Array(n);
  for (let r = 0, at = 0; r < covered.length; r++) if (covered[r] === 1) rows[at++] = r;
  return rows;
}
