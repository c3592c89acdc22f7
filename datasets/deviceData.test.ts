import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import {
  DataFileError,
  DataRowError,
  gatherExamples,
  loadDeviceData,
  parseDeviceDataOptions,
  toDataset,
  type DeviceDataOptions,
} from './index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmq-device-data-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function load(name: string, text: string, options: DeviceDataOptions = {}) {
  return loadDeviceData(await file(name, text), parseDeviceDataOptions(options));
}

const HOME = 'device,time,temperature,humidity,motion,label\n' +
  'a,1,21.5,40,0,idle\n' +
  'a,2,22.0,41,1,cooking\n' +
  'b,1,19.0,55,0,idle\n' +
  'a,3,23.5,45,1,cooking\n' +
  'b,2,19.5,56,1,away\n';

describe('loadDeviceData: CSV with a header', () => {
  it('reads the named label and feature columns as written, without rescaling', async () => {
    // Execute
    const data = await load('home.csv', HOME, { features: 'temperature,humidity' });

    // Assert
    expect(data.featureNames).toEqual(['temperature', 'humidity']);
    expect([...data.readings]).toEqual([21.5, 40, 22, 41, 19, 55, 23.5, 45, 19.5, 56]);
    expect(data.shape).toEqual([2]);
    expect(data.count).toBe(5);
  });

  it('maps text labels to class indices in sorted order, and integer labels to themselves', async () => {
    // Execute
    const text = await load('text.csv', HOME, { features: ['temperature'] });
    const ints = await load('ints.csv', 'x,label\n1,2\n2,0\n3,2\n');

    // Assert
    expect(text.target).toEqual({ kind: 'classification', classes: ['away', 'cooking', 'idle'] });
    expect([...text.targets]).toEqual([2, 1, 2, 1, 0]);
    expect(ints.target).toEqual({ kind: 'classification', classes: ['0', '1', '2'] });
    expect([...ints.targets]).toEqual([2, 0, 2]);
  });

  it('numbers classes as the options list them, so every device agrees', async () => {
    // Execute
    const data = await load('declared.csv', HOME, { features: 'temperature', classes: 'idle,cooking,away' });

    // Assert
    expect([...data.targets]).toEqual([0, 1, 0, 1, 2]);
  });

  it('takes every other column as a feature unless told, leaving out the group, time and ignored columns', async () => {
    // Execute
    const data = await load('all.csv', HOME, { groupBy: 'device', time: 'time', ignore: ['motion'] });

    // Assert
    expect(data.featureNames).toEqual(['temperature', 'humidity']);
  });

  it('reads a regression target as numbers', async () => {
    // Execute
    const data = await load('reg.csv', 'a,b,energy\n1,2,0.5\n3,4,-1.25e1\n', { label: 'energy', target: 'regression' });

    // Assert
    expect(data.target).toEqual({ kind: 'regression' });
    expect([...data.targets]).toEqual([0.5, -12.5]);
  });

  it('accepts quoted fields, a semicolon delimiter and a byte-order mark', async () => {
    // Execute
    const data = await load('quoted.csv', '\uFEFF"room";"t";"label"\n"kitchen; north";21.5;"say ""hi"""\n', {
      delimiter: ';',
      ignore: 'room',
    });

    // Assert
    expect([...data.readings]).toEqual([21.5]);
    expect(data.target).toEqual({ kind: 'classification', classes: ['say "hi"'] });
  });
});

describe('loadDeviceData: NDJSON and directories', () => {
  it('reads objects with named fields', async () => {
    // Execute
    const data = await load(
      'rows.ndjson',
      '{"t": 21.5, "h": 40, "label": "idle", "note": "x"}\n\n{"t": 22, "h": 41, "label": "busy", "note": "y"}\n',
      { features: 't,h' },
    );

    // Assert
    expect([...data.readings]).toEqual([21.5, 40, 22, 41]);
    expect([...data.targets]).toEqual([1, 0]);
  });

  it('reads a directory in name order, skipping hidden and other files, and never windows across files', async () => {
    // Prepare
    const folder = join(dir, 'days');
    await mkdir(folder);
    await writeFile(join(folder, '2024-01-02.csv'), 'v,label\n3,0\n4,1\n');
    await writeFile(join(folder, '2024-01-01.ndjson'), '{"v": 1, "label": 0}\n{"v": 2, "label": 1}\n');
    await writeFile(join(folder, 'notes.txt'), 'not data');
    await writeFile(join(folder, '.hidden.csv'), 'garbage');

    // Execute
    const rows = await loadDeviceData(folder, parseDeviceDataOptions());
    const windows = await loadDeviceData(folder, parseDeviceDataOptions({ window: 2 }));

    // Assert
    expect([...rows.readings]).toEqual([1, 2, 3, 4]);
    expect(windows.count).toBe(2);
    expect([...gatherExamples(windows, [0, 1])]).toEqual([1, 2, 3, 4]);
  });
});

describe('loadDeviceData: windows', () => {
  it('cuts [window, features] sequences per group, never across devices, labelled by their last reading', async () => {
    // Execute
    const data = await load('win.csv', HOME, { groupBy: 'device', time: 'time', features: 'temperature,motion', window: 2 });

    // Assert: device a has 3 readings (2 windows), b has 2 (1 window).
    expect(data.groups).toEqual(['a', 'b']);
    expect(data.shape).toEqual([2, 2]);
    expect(data.count).toBe(3);
    expect([...gatherExamples(data, [0, 1, 2])]).toEqual([21.5, 0, 22, 1, 22, 1, 23.5, 1, 19, 0, 19.5, 1]);
    expect([...data.targets]).toEqual([1, 1, 0]);
  });

  it('moves `stride` readings between windows, and flattens them for the legacy Dataset', async () => {
    // Prepare
    const text = 'v,label\n' + Array.from({ length: 10 }, (_, i) => `${i},${i % 2}`).join('\n') + '\n';

    // Execute
    const data = await load('stride.csv', text, { window: 4, stride: 3 });
    const dataset = toDataset(data);

    // Assert: starts 0, 3, 6.
    expect([...data.starts]).toEqual([0, 3, 6]);
    expect(dataset.features).toBe(4);
    expect([...dataset.x]).toEqual([0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9]);
    expect([...dataset.y]).toEqual([1, 0, 1]);
  });

  it('refuses data in which no sequence is as long as a window', async () => {
    await expect(load('short.csv', 'v,label\n1,0\n2,0\n', { window: 3 })).rejects.toThrow(/no sequence has the 3 consecutive readings/);
  });
});

describe('loadDeviceData: bad rows', () => {
  it.each([
    ['not a number', 'a,b,label\n1,2,0\n1,abc,0\n', {}, 3, 'b', 2, /"abc" is not a number/],
    ['an empty field', 'a,b,label\n1,,0\n', {}, 2, 'b', 2, /"" is not a number/],
    ['hexadecimal', 'a,label\n0x10,0\n', {}, 2, 'a', 1, /"0x10" is not a number/],
    ['Infinity', 'a,label\nInfinity,0\n', {}, 2, 'a', 1, /"Infinity" is not a number/],
    ['float32 overflow', 'a,label\n1e39,0\n', {}, 2, 'a', 1, /"1e39" is not a number/],
    ['an undeclared class', 'a,label\n1,cat\n1,dog\n', { classes: 'cat,bird' }, 3, 'label', 2, /"dog" is not one of the classes cat, bird/],
    ['an empty label', 'a,label\n1, \n', {}, 2, 'label', 2, /empty label/],
    ['a non-numeric regression target', 'a,label\n1,high\n', { target: 'regression' }, 2, 'label', 2, /not a number \(a regression target\)/],
    ['time going back', 'd,t,a,label\nx,5,1,0\ny,1,1,0\nx,4,1,0\n', { groupBy: 'd', time: 't' }, 4, 't', 2, /earlier than line 2/],
    ['a bad time', 't,a,label\nnoon,1,0\n', { time: 't' }, 2, 't', 1, /not a number or an ISO 8601 date/],
    ['an empty device id', 'd,a,label\n,1,0\n', { groupBy: 'd' }, 2, 'd', 1, /every reading needs a device id/],
  ] as const)('refuses %s, naming file, line and column', async (_case, text, options, line, column, columnNumber, message) => {
    // Execute
    const error = await load('bad.csv', text, options).catch((e: unknown) => e);

    // Assert
    expect(error).toBeInstanceOf(DataRowError);
    expect(error).toMatchObject({ path: join(dir, 'bad.csv'), line, column, columnNumber });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(`bad.csv:${line}: column '${column}' (${columnNumber})`);
  });

  it.each([
    ['a missing NDJSON field', '{"a": 1, "label": 0}\n{"label": 1}\n', 2, 'a', /missing/],
    ['a non-numeric NDJSON feature', '{"a": 1, "label": 0}\n{"a": [1], "label": 1}\n', 2, 'a', /is not a number or a string/],
  ])('refuses %s, naming the field', async (_case, text, line, column, message) => {
    const error = await load('bad.ndjson', text).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataRowError);
    expect(error).toMatchObject({ line, column, columnNumber: null });
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    ['a row of the wrong length', 'a,b,label\n1,2\n', /bad\.csv:2: 2 fields, but the header has 3/],
    ['a missing label column', 'a,b\n1,2\n', /header: no label column 'label'/],
    ['a missing feature column', 'a,label\n1,2\n', /header: no feature column 'b'/, { features: 'a,b' }],
    ['a headerless legacy file', '3,0,255\n', /a header line naming the columns is required/],
    ['invalid JSON', '{"a": 1,\n', /bad\.ndjson:1: invalid JSON/, {}, 'bad.ndjson'],
    ['an unterminated quote', 'a,label\n"1,0\n', /bad\.csv:2: a quoted field does not end on its line/],
    ['a header only', 'a,label\n', /no readings/],
  ] as [string, string, RegExp, DeviceDataOptions?, string?][])('refuses %s', async (_case, text, message, options = {}, name = 'bad.csv') => {
    const error = await load(name, text, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataFileError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('parseDeviceDataOptions', () => {
  it('fills in the documented defaults', () => {
    expect(parseDeviceDataOptions()).toEqual({
      label: 'label', features: null, ignore: [], target: 'classification', classes: null, groupBy: null, time: null,
      window: 1, stride: 1, delimiter: ',', format: 'auto', holdout: 0.2, holdoutBy: 'example', seed: 0,
    });
  });

  it('reads the CLI forms once: comma lists and integer strings', () => {
    expect(parseDeviceDataOptions({ features: 'a, b', window: '8', stride: '2', holdout: '0.25' })).toMatchObject({
      features: ['a', 'b'], window: 8, stride: 2, holdout: 0.25,
    });
  });

  it.each([
    [{ label: ' ' }, 'label', /must name a column/],
    [{ features: [] }, 'features', /at least one column/],
    [{ features: 'a,label' }, 'features', /'label' is the label column/],
    [{ features: 'a,a' }, 'features', /'a' is listed twice/],
    [{ groupBy: 'label' }, 'groupBy', /already the label column/],
    [{ window: 0 }, 'window', /positive integer/],
    [{ window: '2.5' }, 'window', /positive integer/],
    [{ window: 1e6 }, 'window', /at most 65536/],
    [{ stride: -1 }, 'stride', /positive integer/],
    [{ holdout: 1 }, 'holdout', /\[0, 1\)/],
    [{ holdout: 'lots' }, 'holdout', /\[0, 1\)/],
    [{ classes: 'only' }, 'classes', /at least 2 classes/],
    [{ classes: 'a,b', target: 'regression' as const }, 'classes', /regression target has no classes/],
    [{ target: 'ranking' as never }, 'target', /one of 'classification', 'regression'/],
    [{ delimiter: '::' }, 'delimiter', /one character/],
    [{ holdoutBy: 'random' as never }, 'holdoutBy', /one of 'example', 'tail'/],
  ])('refuses %j naming the option', (options, option, message) => {
    const error = (() => {
      try {
        parseDeviceDataOptions(options as DeviceDataOptions);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(OptionsError);
    expect(error).toMatchObject({ option });
    expect((error as Error).message).toMatch(message);
  });
});

