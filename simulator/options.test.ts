import { describe, expect, it } from 'vitest';
import { OptionsError, parseTask } from '../protocol/index.js';
import { parseDeviceDataOptions } from '../datasets/index.js';
import { parseSimulationOptions, simulationSpecs, withFleetSize, type SimulationSettings } from './options.js';

/** A user's task (not a built-in): evaluated federated by default. */
const SENSOR = parseTask({ name: 'sensor', input: { features: ['humidity', 'temperature'] }, output: { kind: 'binary' }, model: { layers: [{ kind: 'dense', units: 1 }] } });

/** The option an `OptionsError` names, or the error itself when it is something else. */
function refusal(settings: SimulationSettings): unknown {
  try {
    parseSimulationOptions(settings);
  } catch (error) {
    return error instanceof OptionsError ? error.option : error;
  }
  return 'accepted';
}

describe('parseSimulationOptions: data', () => {
  it('without flags is the MNIST run of before: 10 devices, iid, nothing held out, central evaluation', () => {
    const o = parseSimulationOptions();

    expect({ devices: o.devices, partition: o.partition, data: o.data, evalData: o.evalData, holdout: o.holdout, evaluate: o.evaluate, minDevices: o.minDevices })
      .toEqual({ devices: 10, partition: { kind: 'iid' }, data: undefined, evalData: undefined, holdout: 0, evaluate: ['central'], minDevices: 10 });
    expect(o.dataConfig).toEqual(parseDeviceDataOptions({ holdout: 0 }));
    expect(o.initialWeights).toBeUndefined();
  });

  it('holds out 0.2 by default when evaluation is federated (a user task, or asked for), else what is given', () => {
    expect(parseSimulationOptions({ evaluate: ['federated'] }).holdout).toBe(0.2);
    expect(parseSimulationOptions({ task: SENSOR, data: 'r.csv' }).holdout).toBe(0.2);
    expect(parseSimulationOptions({ task: SENSOR, data: 'r.csv', holdout: '0.1' }).holdout).toBe(0.1);
    expect(parseSimulationOptions({ holdout: 0.25 }).holdout).toBe(0.25);
    expect(parseSimulationOptions({ task: SENSOR, data: 'r.csv', holdout: 0.3 }).dataConfig.holdout).toBe(0.3);
  });

  it('seeds the held-out draw with the run seed unless the data options give one', () => {
    expect(parseSimulationOptions({ seed: 7 }).dataConfig.seed).toBe(7);
    expect(parseSimulationOptions({ seed: 7, data: 'r.csv', task: SENSOR, dataConfig: { seed: '3' } }).dataConfig.seed).toBe(3);
  });

  it('by:COLUMN groups the data by COLUMN, and leaves the fleet size to the data', () => {
    const o = parseSimulationOptions({ task: SENSOR, data: 'readings.csv', partition: 'by:mote', dataConfig: { label: 'label', features: 'humidity,temperature', window: '12' } });

    expect(o.partition).toEqual({ kind: 'by', column: 'mote' });
    expect(o.devices).toBe(0);
    expect(o.dataConfig).toMatchObject({ groupBy: 'mote', features: ['humidity', 'temperature'], window: 12, holdout: 0.2 });
  });

  it('takes a resolved data config as it is', () => {
    const config = parseDeviceDataOptions({ label: 'y', time: 't', holdout: 0.3, seed: 4 });

    const o = parseSimulationOptions({ task: SENSOR, data: 'r.csv', dataConfig: config });

    expect(o.dataConfig).toEqual(config);
    expect(o.holdout).toBe(0.3);
  });

  it.each<[string, SimulationSettings, string]>([
    ['by:COLUMN without data', { partition: 'by:mote' }, 'partition'],
    ['by:COLUMN with a device count', { task: SENSOR, data: 'r.csv', partition: 'by:mote', devices: 4 }, 'devices'],
    ['by:COLUMN with another group column', { task: SENSOR, data: 'r.csv', partition: 'by:mote', dataConfig: { groupBy: 'room' } }, 'groupBy'],
    ['a data option without data', { dataConfig: { label: 'y' } }, 'label'],
    ['windows without data', { dataConfig: { window: 4 } }, 'window'],
    ['a tail split of MNIST', { evaluate: ['federated'], dataConfig: { holdoutBy: 'tail' } }, 'holdoutBy'],
    ['nothing held out for federated evaluation', { task: SENSOR, data: 'r.csv', holdout: 0 }, 'holdout'],
    ['a held-out share of 1', { holdout: 1 }, 'holdout'],
    ['a held-out share that is not a number', { holdout: 'much' }, 'holdout'],
    ['two different held-out shares', { task: SENSOR, data: 'r.csv', holdout: 0.1, dataConfig: { holdout: 0.3 } }, 'holdout'],
    ['central evaluation of a data run without evaluation data', { data: 'r.csv', task: SENSOR, evaluate: ['central'] }, 'evaluate'],
    ['evaluation data with federated evaluation only', { data: 'r.csv', task: SENSOR, evalData: 'e.csv' }, 'evalData'],
    ['evaluation data without data', { evalData: 'e.csv' }, 'evalData'],
    ['shards of a regression target', { data: 'r.csv', task: SENSOR, partition: 'shards:2', dataConfig: { target: 'regression' } }, 'partition'],
    ['an unknown partition', { partition: 'by-mote' }, 'partition'],
    ['a bad window', { data: 'r.csv', task: SENSOR, dataConfig: { window: '0' } }, 'window'],
    ['an empty data path', { data: ' ' }, 'data'],
  ])('refuses %s, naming the option', (_, settings, option) => {
    expect(refusal(settings)).toBe(option);
  });

  it('accepts central and federated evaluation of a data run with evaluation data', () => {
    const o = parseSimulationOptions({ data: 'r.csv', task: SENSOR, evalData: 'e.csv', evaluate: ['central', 'federated'] });

    expect({ evalData: o.evalData, holdout: o.holdout }).toEqual({ evalData: 'e.csv', holdout: 0.2 });
  });
});

describe('withFleetSize', () => {
  const natural = (more: SimulationSettings = {}): ReturnType<typeof parseSimulationOptions> =>
    parseSimulationOptions({ task: SENSOR, data: 'readings.csv', partition: 'by:mote', ...more });

  it('sizes a by:COLUMN fleet once its data is loaded: every device awaited before round 1', () => {
    const o = withFleetSize(natural({ quorum: 4 }), 4);

    expect({ devices: o.devices, minDevices: o.minDevices, quorum: o.quorum }).toEqual({ devices: 4, minDevices: 4, quorum: 4 });
  });

  it.each<[string, SimulationSettings, number, string]>([
    ['a quorum above the fleet', { quorum: 5 }, 4, 'quorum'],
    ['a quorum above what a round chooses', { quorum: 3, fraction: 0.5 }, 4, 'quorum'],
    ['more participants than devices', { minParticipants: 5 }, 4, 'minParticipants'],
    ['a strategy needing more updates than devices', { strategy: 'krum:1' }, 4, 'strategy'],
    ['no device at all', {}, 0, 'devices'],
  ])('refuses %s, naming the option', (_, settings, devices, option) => {
    const o = natural(settings);

    const attempt = (): unknown => withFleetSize(o, devices);

    expect(attempt).toThrow(OptionsError);
    expect(attempt).toThrow(new RegExp(`^${option}: `));
  });
});

describe('simulationSpecs', () => {
  it('prints the data options back as strings, which parse to the same options', () => {
    // Prepare
    const o = parseSimulationOptions({
      task: SENSOR, data: 'readings.csv', evalData: 'test.csv', evaluate: ['central', 'federated'], partition: 'by:mote', holdout: '0.25', seed: 2,
      dataConfig: { label: 'label', features: 'humidity,temperature', time: 'reading', window: '12', stride: '6', holdoutBy: 'tail' },
      initialWeights: new Float32Array(3),
    });

    // Execute
    const specs = simulationSpecs(o);

    // Assert
    expect({ partition: specs.partition, data: specs.data, evalData: specs.evalData, holdout: specs.holdout, initialWeights: specs.initialWeights })
      .toEqual({ partition: 'by:mote', data: 'readings.csv', evalData: 'test.csv', holdout: '0.25', initialWeights: '3 values' });
    expect(specs.dataConfig).toEqual({
      label: 'label', features: 'humidity,temperature', ignore: undefined, target: 'classification', classes: undefined, groupBy: 'mote', time: 'reading',
      window: '12', stride: '6', delimiter: ',', format: 'auto', holdout: '0.25', holdoutBy: 'tail', seed: '2',
    });
    const again = parseSimulationOptions({ task: SENSOR, data: specs.data, evalData: specs.evalData, evaluate: o.evaluate, partition: specs.partition, holdout: specs.holdout, dataConfig: specs.dataConfig });
    expect(again.dataConfig).toEqual(o.dataConfig);
    expect(again.partition).toEqual(o.partition);
    expect(JSON.parse(JSON.stringify(specs))).toMatchObject({ partition: 'by:mote', holdout: '0.25' });
  });

  it('has no data options for an MNIST run, and its partition as before', () => {
    const specs = simulationSpecs(parseSimulationOptions({ partition: 'shards:2' }));

    expect({ partition: specs.partition, data: specs.data, dataConfig: specs.dataConfig, holdout: specs.holdout })
      .toEqual({ partition: 'shards:2', data: undefined, dataConfig: undefined, holdout: '0' });
  });
});
