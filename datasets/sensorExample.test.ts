import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gatherExamples, loadDeviceData, parseDeviceDataOptions, splitByGroup, splitHoldout } from './index.js';

const READINGS = fileURLToPath(new URL('../examples/sensor/readings.csv', import.meta.url));

describe('the sensor example data (examples/sensor/readings.csv)', () => {
  it('is small enough to ship', async () => {
    expect((await stat(READINGS)).size).toBeLessThan(1_000_000);
  });

  it('loads by:mote into the 4 motes, in time order, with their labelled events', async () => {
    // Prepare
    const config = parseDeviceDataOptions({ groupBy: 'mote', time: 'reading', features: 'humidity,temperature' });

    // Execute
    const devices = splitByGroup(await loadDeviceData(READINGS, config));

    // Assert
    expect(devices.map((d) => d.id)).toEqual(['1', '2', '3', '4']);
    expect(devices.map((d) => d.data.count)).toEqual([4417, 4417, 5039, 5041]);
    expect(devices.map((d) => d.data.targets.reduce((n, y) => n + y, 0))).toEqual([117, 0, 0, 32]);
    expect(devices[0]!.data.target).toEqual({ kind: 'classification', classes: ['0', '1'] });
    expect([...devices[0]!.data.readings.subarray(0, 2)]).toEqual([Math.fround(45.93), Math.fround(27.97)]);
  });

  it('cuts each mote into windows of [N, 2] readings that never cross motes', async () => {
    // Prepare
    const config = parseDeviceDataOptions({ groupBy: 'mote', time: 'reading', features: 'humidity,temperature', window: 12, stride: 6 });

    // Execute
    const data = await loadDeviceData(READINGS, config);
    const devices = splitByGroup(data);
    const split = splitHoldout(devices[3]!.data, config);

    // Assert
    expect(data.shape).toEqual([12, 2]);
    expect(devices.map((d) => d.data.count)).toEqual([735, 735, 838, 839]);
    expect(devices.reduce((n, d) => n + d.data.count, 0)).toBe(data.count);
    expect(gatherExamples(devices[0]!.data, [0]).length).toBe(24);
    expect(split.test.length).toBe(168);
    const crossing = [...data.starts].filter((s) => !data.sequences.some((q) => s >= q.start && s + 12 <= q.end));
    expect(crossing).toEqual([]);
  });
});
