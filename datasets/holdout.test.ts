import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDeviceData, parseDeviceDataOptions, readingsOf, splitHoldout, type DeviceDataOptions } from './index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmq-holdout-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Two devices of 50 readings each, interleaved in time. */
async function fleet(options: DeviceDataOptions) {
  const rows = ['device,v,label'];
  for (let i = 0; i < 50; i++) rows.push(`a,${i},${i % 2}`, `b,${100 + i},${i % 3 === 0 ? 1 : 0}`);
  const path = join(dir, 'fleet.csv');
  await writeFile(path, rows.join('\n') + '\n');
  const config = parseDeviceDataOptions({ groupBy: 'device', ...options });
  return { data: await loadDeviceData(path, config), config };
}

describe('splitHoldout', () => {
  it('holds out a seeded 20% of the examples by default, the same for the same seed', async () => {
    // Prepare
    const { data, config } = await fleet({});

    // Execute
    const split = splitHoldout(data, config);
    const again = splitHoldout(data, config);
    const other = splitHoldout(data, { ...config, seed: 1 });

    // Assert
    expect(split.test.length).toBe(20);
    expect(split.train.length).toBe(80);
    expect(new Set([...split.train, ...split.test]).size).toBe(100);
    expect(again).toEqual(split);
    expect(other.test).not.toEqual(split.test);
  });

  it('by window holds out whole windows', async () => {
    // Prepare
    const { data, config } = await fleet({ window: 5, stride: 1, holdout: 0.25 });

    // Execute
    const split = splitHoldout(data, config);

    // Assert: 46 windows per device.
    expect(data.count).toBe(92);
    expect(split.test.length).toBe(23);
    expect(split.train.length).toBe(69);
  });

  it('by tail keeps the last share of each device in time, and no reading is both trained and tested', async () => {
    // Prepare
    const { data, config } = await fleet({ window: 5, holdout: 0.2, holdoutBy: 'tail' });

    // Execute
    const split = splitHoldout(data, config);
    const trained = new Set(readingsOf(data, split.train));
    const tested = readingsOf(data, split.test);

    // Assert: per device, readings 40..49 are held out (6 windows) and 4 straddling windows dropped.
    expect(split.test.length).toBe(12);
    expect(split.train.length).toBe(72);
    expect([...tested].some((r) => trained.has(r))).toBe(false);
    expect([...tested].map((r) => data.readings[r])).toEqual([
      ...Array.from({ length: 10 }, (_, i) => 40 + i),
      ...Array.from({ length: 10 }, (_, i) => 140 + i),
    ]);
  });

  it('holds nothing out at 0', async () => {
    const { data, config } = await fleet({ holdout: 0 });
    expect(splitHoldout(data, config).test.length).toBe(0);
  });
});
