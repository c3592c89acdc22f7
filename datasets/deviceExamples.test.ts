import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  datasetExamples,
  deviceDataSpecs,
  deviceExamples,
  featureMoments,
  loadDeviceData,
  parseDeviceDataOptions,
  pickExamples,
  type Dataset,
  type Examples,
} from './index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmq-examples-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 20 readings: a = i, b = 100 + i, label i % 3. */
async function twentyRows(name = 'rows.csv'): Promise<string> {
  const path = join(dir, name);
  const rows = ['a,b,label'];
  for (let i = 0; i < 20; i++) rows.push(`${i},${100 + i},${i % 3}`);
  await writeFile(path, rows.join('\n') + '\n');
  return path;
}

/** The `a` column of each example (its first value), in order. */
const firsts = (e: Examples, size: number): number[] => Array.from({ length: e.count }, (_, k) => e.x[k * size] as number);

describe('deviceExamples', () => {
  it('holds out a seeded share: the same seed gives the same rows, another seed other rows, nothing lost or doubled', async () => {
    // Prepare
    const data = await loadDeviceData(await twentyRows(), parseDeviceDataOptions());

    // Execute
    const a = deviceExamples(data, parseDeviceDataOptions({ holdout: 0.25, seed: 7 }));
    const again = deviceExamples(data, parseDeviceDataOptions({ holdout: 0.25, seed: 7 }));
    const other = deviceExamples(data, parseDeviceDataOptions({ holdout: 0.25, seed: 8 }));

    // Assert
    const held = firsts(a.holdout!, 2);
    expect(held).toHaveLength(5);
    expect(a.train.count).toBe(15);
    expect([...firsts(a.train, 2), ...held].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(firsts(again.holdout!, 2)).toEqual(held);
    expect(firsts(other.holdout!, 2)).not.toEqual(held);
    // Values as written, each example's target its own row's label.
    for (const part of [a.train, a.holdout!]) {
      for (let k = 0; k < part.count; k++) {
        const i = part.x[2 * k] as number;
        expect([part.x[2 * k + 1], part.y[k]]).toEqual([100 + i, i % 3]);
      }
    }
    expect(a.shape).toEqual([2]);
  });

  it('keeps every example for training with holdout 0', async () => {
    const data = await loadDeviceData(await twentyRows(), parseDeviceDataOptions());

    const e = deviceExamples(data, parseDeviceDataOptions({ holdout: 0 }));

    expect(e.holdout).toBeNull();
    expect(firsts(e.train, 2)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('tail: holds out the last readings in time, windows that straddle the cut in neither part', async () => {
    // Prepare: windows of 3, stride 1, over 20 readings: 18 windows; the last 4 readings (20%) held out.
    const config = parseDeviceDataOptions({ window: 3, holdout: 0.2, holdoutBy: 'tail' });
    const data = await loadDeviceData(await twentyRows(), config);

    // Execute
    const e = deviceExamples(data, config);

    // Assert: train windows start at 0..13 (end by 15), held-out ones at 16, 17; 14 and 15 straddle.
    expect(e.shape).toEqual([3, 2]);
    expect(firsts(e.train, 6)).toEqual(Array.from({ length: 14 }, (_, i) => i));
    expect(firsts(e.holdout!, 6)).toEqual([16, 17]);
    expect([...e.train.x.subarray(0, 6)]).toEqual([0, 100, 1, 101, 2, 102]);
  });

  it('moments: the training readings only, each once however many windows hold it', async () => {
    // Prepare
    const config = parseDeviceDataOptions({ window: 3, holdout: 0.2, holdoutBy: 'tail' });
    const data = await loadDeviceData(await twentyRows(), config);

    // Execute
    const m = deviceExamples(data, config).moments();

    // Assert: readings 0..15 (the training windows cover 0..15).
    const a = Array.from({ length: 16 }, (_, i) => i);
    expect(m.count).toEqual([16, 16]);
    expect(m.sum).toEqual([a.reduce((s, v) => s + v, 0), a.reduce((s, v) => s + 100 + v, 0)]);
    expect(m.sumSquares[0]).toBe(a.reduce((s, v) => s + v * v, 0));
  });

  it('moments with holdout 0 are the pooled moments of every reading, and each call returns a fresh object', async () => {
    const data = await loadDeviceData(await twentyRows(), parseDeviceDataOptions());

    const e = deviceExamples(data, parseDeviceDataOptions({ holdout: 0 }));
    const first = e.moments();
    first.sum[0] = -1;

    expect(e.moments()).toEqual(featureMoments(data.readings, 2));
  });

  it('refuses a held-out share that leaves nothing to train on', async () => {
    // Prepare: one row; holding out 60% rounds to the whole device.
    const path = join(dir, 'one.csv');
    await writeFile(path, 'a,label\n1,0\n');
    const data = await loadDeviceData(path, parseDeviceDataOptions());

    expect(() => deviceExamples(data, parseDeviceDataOptions({ holdout: 0.6 }))).toThrow(/no training examples are left after holding out 60% \(by example\) of 1/);
    expect(() => deviceExamples(data, { holdout: 1, holdoutBy: 'example', seed: 0 })).toThrow(/held-out share must be in \[0, 1\)/);
  });
});

describe('datasetExamples', () => {
  const ds: Dataset = {
    x: Float32Array.from({ length: 40 }, (_, i) => i), // 10 examples of 4 values: example k is 4k..4k+3
    y: Uint8Array.from({ length: 10 }, (_, k) => k % 2),
    count: 10,
    features: 4,
    numClasses: 2,
  };

  it('keeps the dataset whole with holdout 0 (MNIST runs as before)', () => {
    const e = datasetExamples(ds, [2, 2, 1]);

    expect(e.train).toBe(ds);
    expect(e.holdout).toBeNull();
    // Per channel (one): every value of every example.
    expect(e.moments()).toEqual(featureMoments(ds.x, 1));
  });

  it('holds out a seeded share, reproducibly, drawn as a device file is', () => {
    // Execute
    const a = datasetExamples(ds, [4], 0.3, 5);
    const b = datasetExamples(ds, [4], 0.3, 5);

    // Assert
    const held = firsts(a.holdout!, 4).map((v) => v / 4);
    expect(held).toHaveLength(3);
    expect(firsts(b.holdout!, 4)).toEqual(firsts(a.holdout!, 4));
    expect([...firsts(a.train, 4).map((v) => v / 4), ...held].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...a.holdout!.y]).toEqual(held.map((k) => k % 2));
    expect(a.moments()).toEqual(featureMoments(a.train.x, 4));
  });

  it('draws the same held-out examples as deviceExamples on the same count and seed', async () => {
    // Prepare: the 20-row file and a 20-example dataset holding the same `a` values.
    const data = await loadDeviceData(await twentyRows(), parseDeviceDataOptions());
    const same: Dataset = { x: Float32Array.from({ length: 20 }, (_, i) => i), y: new Uint8Array(20), count: 20, features: 1, numClasses: 1 };

    // Execute
    const fromFile = deviceExamples(data, parseDeviceDataOptions({ holdout: 0.2, seed: 3 }));
    const fromDataset = datasetExamples(same, [1], 0.2, 3);

    // Assert
    expect(firsts(fromDataset.holdout!, 1)).toEqual(firsts(fromFile.holdout!, 2));
  });

  it.each([
    [[3], 0, /shape \[3\] does not hold the dataset's 4 values/],
    [[2, 0, 2], 0, /shape/],
    [[4], 1, /held-out share must be in \[0, 1\)/],
    [[4], -0.1, /held-out share/],
    [[4], 0.96, /no training examples are left after holding out 96% of 10/],
  ])('refuses shape %j with holdout %d', (shape, holdout, message) => {
    expect(() => datasetExamples(ds, shape, holdout)).toThrow(message);
  });
});

describe('pickExamples', () => {
  it('keeps the chosen examples in order, sharing the readings', async () => {
    const data = await loadDeviceData(await twentyRows(), parseDeviceDataOptions({ window: 2, stride: 2 }));

    const picked = pickExamples(data, [7, 0, 3]);

    expect(picked.count).toBe(3);
    expect([...picked.starts]).toEqual([0, 6, 14]);
    expect([...picked.targets]).toEqual([1 % 3, 7 % 3, 15 % 3]);
    expect(picked.readings).toBe(data.readings);
  });

  it.each([[[]], [[10]], [[-1]], [[1.5]], [[2, 2]]])('refuses %j', async (indices) => {
    const data = await loadDeviceData(await twentyRows(), parseDeviceDataOptions({ window: 2, stride: 2 }));

    expect(() => pickExamples(data, indices)).toThrow(RangeError);
  });
});

describe('deviceDataSpecs', () => {
  it.each([
    {},
    { label: 'y', features: 'a,b', classes: 'idle,open', groupBy: 'mote', time: 't', window: 12, stride: 6, delimiter: ';', format: 'csv', holdout: 0.25, holdoutBy: 'tail', seed: 9 },
    { ignore: 'x,y', target: 'regression', holdout: 0 },
  ] as const)('prints every option as a string that parses back to the same config: %j', (options) => {
    const config = parseDeviceDataOptions(options);

    const specs = deviceDataSpecs(config);

    expect(Object.values(specs).every((v) => v === undefined || typeof v === 'string')).toBe(true);
    expect(parseDeviceDataOptions(specs)).toEqual(config);
  });
});
