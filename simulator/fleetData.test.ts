import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionsError, builtinTask, parseTask, type Task } from '../protocol/index.js';
import { DataRowError, loadMnist, partition, subset, type Examples } from '../datasets/index.js';
import { groupDeviceIds, loadFleetData, type FleetData } from './fleetData.js';
import { parseSimulationOptions, withFleetSize, type SimulationSettings } from './options.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmq-fleet-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Three classes from two features a, b. */
const TASK: Task = parseTask({ name: 'rooms', input: { features: ['a', 'b'] }, output: { kind: 'classes', classes: 3 }, model: { layers: [{ kind: 'dense', units: 3 }] } });

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/**
 * 30 readings of 3 rooms interleaved in time: room r gets readings i = r, r + 3, ...; each
 * reading `room, i, a = i, b = 100 + i, label i % 3`. `kitchen/1` and `kitchen_1` both
 * sanitise to `kitchen_1`.
 */
const ROOMS = ['kitchen/1', 'hall', 'kitchen_1'];
async function roomsFile(): Promise<string> {
  const rows = ['room,t,a,b,label'];
  for (let i = 0; i < 30; i++) rows.push(`${ROOMS[i % 3]},${i},${i},${100 + i},${i % 3}`);
  return file('rooms.csv', rows.join('\n') + '\n');
}

/** The `a` value of every example, sorted: which readings a part holds. */
const readings = (e: Examples | null, size = 2): number[] =>
  e === null ? [] : Array.from({ length: e.count }, (_, k) => e.x[k * size] as number).sort((x, y) => x - y);

/** Every example of a device, training and held out. */
const all = (fleet: FleetData, i: number): number[] => [...readings(fleet.devices[i]!.examples.train), ...readings(fleet.devices[i]!.examples.holdout)].sort((x, y) => x - y);

async function load(settings: SimulationSettings, task: Task = TASK): Promise<FleetData> {
  return loadFleetData(parseSimulationOptions({ task, ...settings }), task);
}

describe('loadFleetData: by:COLUMN', () => {
  it('gives each distinct value its own device with exactly its readings, ids made valid and distinct', async () => {
    // Execute
    const fleet = await load({ data: await roomsFile(), partition: 'by:room' });

    // Assert: rooms in device-id order (code units): hall, kitchen/1, kitchen_1.
    expect(fleet.devices.map((d) => d.id)).toEqual(['hall', 'kitchen_1', 'kitchen_1-2']);
    const own = (room: string): number[] => Array.from({ length: 10 }, (_, k) => ROOMS.indexOf(room) + 3 * k);
    expect(fleet.devices.map((_, i) => all(fleet, i))).toEqual([own('hall'), own('kitchen/1'), own('kitchen_1')]);
    // Each example keeps its own values and label.
    for (const { examples } of fleet.devices) {
      for (const part of [examples.train, examples.holdout!]) {
        for (let k = 0; k < part.count; k++) {
          const i = part.x[2 * k] as number;
          expect([part.x[2 * k + 1], part.y[k]]).toEqual([100 + i, i % 3]);
        }
      }
    }
    expect(fleet.central).toBeNull();
    expect(fleet.describe).toMatch(/rooms\.csv: 30 examples of \[2\] \(a, b\), classes 0, 1, 2, by:room: 3 devices \(hall, kitchen_1, kitchen_1-2\), 20% held out on each \(by example\)/);
  });

  it('holds out a seeded 20% of every device: the same seed gives the same rows, another seed others', async () => {
    // Execute
    const path = await roomsFile();
    const [a, b, c] = await Promise.all([1, 1, 2].map((seed) => load({ data: path, partition: 'by:room', seed })));

    // Assert
    expect(a!.devices.map((d) => d.examples.holdout!.count)).toEqual([2, 2, 2]);
    expect(a!.devices.map((d) => readings(d.examples.holdout))).toEqual(b!.devices.map((d) => readings(d.examples.holdout)));
    expect(a!.devices.map((d) => readings(d.examples.holdout))).not.toEqual(c!.devices.map((d) => readings(d.examples.holdout)));
  });

  it('sizes the options by the devices found', async () => {
    const o = parseSimulationOptions({ task: TASK, data: await roomsFile(), partition: 'by:room', quorum: 3 });

    const fleet = await loadFleetData(o, TASK);

    expect(withFleetSize(o, fleet.devices.length)).toMatchObject({ devices: 3, minDevices: 3 });
  });

  it('cuts windows within a device, and tail holds out its last readings', async () => {
    // Prepare: windows of 2 readings (4 features per example), each room's last 20% in time held out.
    const task = parseTask({ input: { shape: [2, 2] }, output: { kind: 'classes', classes: 3 }, model: { layers: [{ kind: 'flatten' }, { kind: 'dense', units: 3 }] } });

    // Execute
    const fleet = await load({ data: await roomsFile(), partition: 'by:room', dataConfig: { time: 't', features: 'a,b', window: 2, holdoutBy: 'tail' } }, task);

    // Assert: hall's readings 1, 4, ..., 28; training windows start at 1..19 (they end by 22), held out at 25 (25, 28).
    const hall = fleet.devices[0]!.examples;
    expect(hall.shape).toEqual([2, 2]);
    expect(readings(hall.train, 4)).toEqual([1, 4, 7, 10, 13, 16, 19]);
    expect(readings(hall.holdout, 4)).toEqual([25]);
    expect([...hall.holdout!.x]).toEqual([25, 125, 28, 128]);
  });

  it('refuses a device left with nothing to train on, naming it', async () => {
    const path = await file('tiny.csv', 'room,a,b,label\nbig,1,1,0\nbig,2,2,1\nbig,3,3,2\nbig,4,4,0\nsolo,5,5,1\n');

    const attempt = load({ data: path, partition: 'by:room', holdout: 0.6 });

    await expect(attempt).rejects.toThrow(OptionsError);
    await expect(attempt).rejects.toThrow(/holdout: .*tiny\.csv: device solo \(room "solo", 1 examples\): no training examples are left/);
  });
});

describe('loadFleetData: seeded splits of a data file', () => {
  it('iid: the examples split over the devices, disjoint and complete, ids as for MNIST', async () => {
    const fleet = await load({ data: await roomsFile(), devices: 3, dataConfig: { ignore: 'room,t' } });

    expect(fleet.devices.map((d) => d.id)).toEqual(['device-0', 'device-1', 'device-2']);
    expect(fleet.devices.map((_, i) => all(fleet, i)).flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(fleet.devices.map((d) => d.examples.train.count + (d.examples.holdout?.count ?? 0))).toEqual([10, 10, 10]);
  });

  it('shards: by class, each device sees only the classes of its shards', async () => {
    const fleet = await load({ data: await roomsFile(), devices: 3, partition: 'shards:1', dataConfig: { features: 'a,b' } });

    const classes = fleet.devices.map((d) => new Set([...d.examples.train.y, ...(d.examples.holdout?.y ?? [])]).size);
    expect(classes).toEqual([1, 1, 1]);
  });

  it('refuses more devices than examples, naming devices', async () => {
    await expect(load({ data: await roomsFile(), devices: 31, dataConfig: { features: 'a,b' } })).rejects.toThrow(/^devices: 31 devices cannot each get an example of 30/);
  });
});

describe('loadFleetData: central evaluation data', () => {
  it('reads the evaluation file with the training data\'s features and class numbering, every example kept', async () => {
    // Prepare: string labels; the evaluation file meets them in another order and has no room column.
    const train = await file('named.csv', 'room,a,b,label\nx,1,1,idle\nx,2,2,open\ny,3,3,shut\ny,4,4,idle\n');
    const test = await file('named-test.csv', 'b,label,a\n9,shut,8\n7,idle,6\n');

    // Execute
    const fleet = await load({ data: train, partition: 'by:room', evalData: test, evaluate: ['central', 'federated'], holdout: 0.25 });

    // Assert: classes idle 0, open 1, shut 2 as in training; values in feature order a, b.
    expect(fleet.central).toEqual({ x: Float32Array.from([8, 9, 6, 7]), y: Float32Array.from([2, 0]), count: 2 });
    expect(fleet.describe).toMatch(/central: .*named-test\.csv \(2 examples\)/);
  });
});

describe('loadFleetData: refusals', () => {
  it('refuses a bad row naming file, line and column', async () => {
    const path = await file('bad.csv', 'room,a,b,label\nx,1,1,0\nx,2,n/a,1\n');

    const attempt = load({ data: path, partition: 'by:room' });

    await expect(attempt).rejects.toThrow(DataRowError);
    await expect(attempt).rejects.toMatchObject({ path, line: 3, column: 'b', columnNumber: 3 });
    await expect(attempt).rejects.toThrow(/bad\.csv:3: column 'b' \(3\): "n\/a" is not a number/);
  });

  it('takes the task\'s feature names as the default features', async () => {
    // The file has an extra column c: without --features the task's a, b are read.
    const path = await file('extra.csv', 'room,c,a,b,label\nx,50,1,2,0\nx,60,3,4,1\ny,70,5,6,2\n');

    const fleet = await load({ data: path, partition: 'by:room', holdout: 0.01 });

    expect([...fleet.devices[0]!.examples.train.x]).toEqual([1, 2, 3, 4]);
  });

  it.each<[string, string, SimulationSettings, RegExp]>([
    ['features the task does not name', 'room,a,c,label\nx,1,2,0\n', { dataConfig: { features: 'a,c' } }, /data: .* does not fit the task 'rooms': its features are a, c but the task's are a, b/],
    ['more features than the task takes', 'room,a,b,c,label\nx,1,2,3,0\n', { dataConfig: { features: 'a,b,c' } }, /its examples are \[3\] but the task's input is \[2\]/],
    ['windows for a task of single readings', 'room,a,b,label\nx,1,2,0\nx,1,2,0\n', { dataConfig: { window: 2 } }, /its examples are \[2, 2\] \(windows of 2 readings of 2 features\) but the task's input is \[2\]/],
    ['more classes than the task has', 'room,a,b,label\nx,1,2,0\nx,1,2,3\n', {}, /its labels are 4 classes \(0, 1, 2, 3\) but the task's output has 3/],
    ['a regression target for a classifier', 'room,a,b,label\nx,1,2,0.5\n', { dataConfig: { target: 'regression' } }, /the data's target is a regression/],
  ])('refuses %s before anything trains', async (name, text, settings, message) => {
    const path = await file(`${name.replace(/\W+/g, '-')}.csv`, text);

    await expect(load({ data: path, partition: 'by:room', ...settings })).rejects.toThrow(message);
  });

  it('refuses MNIST for a task that does not take 28x28 digits', async () => {
    await expect(load({ devices: 2 })).rejects.toThrow(/^task: MNIST does not fit the task 'rooms'/);
  });
});

describe('groupDeviceIds', () => {
  it('keeps valid ids, replaces what an id may not hold, cuts to 64 characters and keeps them distinct', () => {
    const long = 'x'.repeat(70);

    const ids = groupDeviceIds(['1', 'a b', 'a_b', 'a+b', '', '$sys/#', long, long.slice(0, 64)]);

    expect(ids).toEqual(['1', 'a_b', 'a_b-2', 'a_b-3', '_', '_sys__', 'x'.repeat(64), `${'x'.repeat(62)}-2`]);
  });
});

/** Whether two typed arrays hold the same bytes. */
const same = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('loadFleetData: MNIST', () => {
  it('splits MNIST as before: the same shards for a seed, nothing held out, the test set for central evaluation', async () => {
    // Prepare
    const o = parseSimulationOptions({ devices: 3, partition: 'shards:2', seed: 4 });
    const { train, test } = await loadMnist();
    const shards = partition(train.y, 3, { kind: 'shards', perClient: 2 }, 4);

    // Execute
    const fleet = await loadFleetData(o, builtinTask('mlp'));

    // Assert
    expect(fleet.devices.map((d) => d.id)).toEqual(['device-0', 'device-1', 'device-2']);
    fleet.devices.forEach((d, i) => {
      const shard = subset(train, shards[i]!);
      // Byte comparisons: a deep equality over 20k images runs out of memory.
      expect({ count: d.examples.train.count, x: same(d.examples.train.x, shard.x), y: same(d.examples.train.y, shard.y) }).toEqual({ count: shard.count, x: true, y: true });
      expect(d.examples.holdout).toBeNull();
      expect(d.examples.shape).toEqual([28, 28, 1]);
    });
    expect(fleet.central).toBe(test);
    expect(fleet.describe).toBe('MNIST 60000 train / 10000 test, shards:2 over 3 devices');
  });

  it('holds out 20% of each shard, seeded, when evaluation is federated', async () => {
    const o = parseSimulationOptions({ devices: 2, evaluate: ['federated'] });

    const [a, b] = await Promise.all([loadFleetData(o, builtinTask('mlp')), loadFleetData(o, builtinTask('mlp'))]);

    expect(a.devices.map((d) => d.examples.holdout!.count)).toEqual([6000, 6000]);
    expect(a.devices.map((d) => d.examples.train.count)).toEqual([24000, 24000]);
    expect(same(a.devices[0]!.examples.holdout!.x, b.devices[0]!.examples.holdout!.x)).toBe(true);
    expect(a.describe).toMatch(/iid over 2 devices, 20% of each shard held out$/);
  });
});
