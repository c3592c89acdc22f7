import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import {
  combineMoments,
  featureMoments,
  featureStatistics,
  gatherExamples,
  loadDeviceData,
  parseDeviceDataOptions,
  parseNaturalPartition,
  splitByGroup,
} from './index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmq-natural-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseNaturalPartition', () => {
  it('reads by:COLUMN', () => {
    expect(parseNaturalPartition(' by:user_id ')).toEqual({ kind: 'by', column: 'user_id' });
  });

  it.each(['by:', 'iid', 'by: '])('refuses %j', (spec) => {
    expect(() => parseNaturalPartition(spec)).toThrow(OptionsError);
  });
});

describe('splitByGroup', () => {
  it('gives each distinct value its own device, numeric ids in numeric order', async () => {
    // Prepare: user ids 10, 2, 1 interleaved in time.
    const path = join(dir, 'users.csv');
    await writeFile(path, 'user,v,label\n10,1,0\n2,2,1\n1,3,0\n10,4,1\n2,5,0\n10,6,1\n');
    const config = parseDeviceDataOptions({ groupBy: parseNaturalPartition('by:user').column });

    // Execute
    const devices = splitByGroup(await loadDeviceData(path, config));

    // Assert
    expect(devices.map((d) => d.id)).toEqual(['1', '2', '10']);
    expect(devices.map((d) => [...d.data.readings])).toEqual([[3], [2, 5], [1, 4, 6]]);
    expect(devices.map((d) => [...d.data.targets])).toEqual([[0], [1, 0], [0, 1, 1]]);
  });

  it('keeps windows and stride, and leaves out a device too short for one window', async () => {
    // Prepare
    const path = join(dir, 'windows.csv');
    const rows = ['user,v,label'];
    for (let i = 0; i < 9; i++) rows.push(`u,${i},0`);
    rows.push('short,100,1');
    await writeFile(path, rows.join('\n') + '\n');

    // Execute
    const devices = splitByGroup(await loadDeviceData(path, parseDeviceDataOptions({ groupBy: 'user', window: 3, stride: 3 })));

    // Assert
    expect(devices.map((d) => d.id)).toEqual(['u']);
    expect([...gatherExamples(devices[0]!.data, [0, 1, 2])]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("devices' feature moments add up to the whole file's statistics", async () => {
    // Prepare
    const path = join(dir, 'stats.csv');
    await writeFile(path, 'user,t,h,label\na,20.5,40,0\nb,18,61,1\na,21,42,0\nc,25.25,30,1\nb,18.5,60,0\n');
    const data = await loadDeviceData(path, parseDeviceDataOptions({ groupBy: 'user' }));

    // Execute
    const fleet = featureStatistics(combineMoments(splitByGroup(data).map((d) => featureMoments(d.data.readings, 2))));
    const whole = featureStatistics(featureMoments(data.readings, 2));

    // Assert
    fleet.mean.forEach((m, f) => expect(m).toBeCloseTo(whole.mean[f]!, 10));
    fleet.std.forEach((s, f) => expect(s).toBeCloseTo(whole.std[f]!, 10));
  });
});
