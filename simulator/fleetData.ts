import { OptionsError, isValidId, type Task } from '../protocol/index.js';
import {
  assertTaskFits,
  datasetExamples,
  deviceExamples,
  formatNaturalPartition,
  formatPartition,
  gatherExamples,
  loadDeviceData,
  loadMnist,
  MNIST_CLASSES,
  MNIST_SHAPE,
  partition,
  pickExamples,
  splitByGroup,
  subset,
  type DeviceData,
  type DeviceDataConfig,
  type DeviceExamples,
  type Examples,
  type PartitionSpec,
} from '../datasets/index.js';
import type { SimulationOptions } from './options.js';

/** One MNIST example's shape (datasets/mnist.ts), re-exported for the simulator's callers. */
export { MNIST_SHAPE } from '../datasets/index.js';

/** One simulated device's data. */
export interface FleetDevice {
  /** Its device id (MQTT client id and topic level). */
  id: string;
  examples: DeviceExamples;
}

/** A simulated fleet's data: each device's own, and the aggregator's for central evaluation. */
export interface FleetData {
  /** In device-id order: `device-007` numbering, or a `by:COLUMN` partition's values. */
  devices: FleetDevice[];
  /** MNIST's test set, the `evalData` file's examples, or null (a data run without `evalData`). */
  central: Examples | null;
  /** One line for the run's `data:` set-up stage. */
  describe: string;
}

/** Pads device numbers so ids sort in numeric order: device-007. */
export function deviceId(i: number, devices: number): string {
  return `device-${String(i).padStart(String(devices - 1).length, '0')}`;
}

/**
 * Loads and splits the fleet's data as `o` says, and checks it fits `task` (input shape, feature
 * names, output) before anything trains:
 * - no `data`: MNIST's 60k training images split `o.partition` over `o.devices` (the same shards
 *   as before for a seed), each device holding out `o.holdout` of its shard; central: the test set;
 * - `data` with `by:COLUMN`: one device per distinct value of COLUMN, with exactly its readings
 *   (its size is then `devices.length`: size the options with `withFleetSize`);
 * - `data` with `iid`, `shards:K` or `dirichlet:ALPHA`: its examples split over `o.devices`.
 * Every device of a data run holds out `o.holdout` of its examples as `o.dataConfig` says
 * (`holdoutBy`, `seed`), as `fedmq agent --data FILE` would with the same flags.
 * Throws `DataFileError` / `DataRowError` (file, line, column) for bad data, `OptionsError`
 * when the data does not fit the task or the options.
 */
export async function loadFleetData(o: SimulationOptions, task: Task): Promise<FleetData> {
  return o.data === undefined ? mnistFleet(o, task) : fileFleet(o, o.data, task);
}

async function mnistFleet(o: SimulationOptions, task: Task): Promise<FleetData> {
  const spec = seededPartition(o.partition);
  assertTaskFits({ shape: MNIST_SHAPE, target: { kind: 'classification', classes: Array.from({ length: MNIST_CLASSES }, (_, i) => String(i)) } }, task, 'MNIST', 'task');
  const { train, test } = await loadMnist();
  const shards = partition(train.y, o.devices, spec, o.seed);
  const devices = shards.map((indices, i) => ({
    id: deviceId(i, o.devices),
    examples: datasetExamples(subset(train, indices), MNIST_SHAPE, o.holdout, o.dataConfig.seed),
  }));
  const held = o.holdout > 0 ? `, ${percent(o.holdout)} of each shard held out` : '';
  return { devices, central: test, describe: `MNIST ${train.count} train / ${test.count} test, ${formatPartition(spec)} over ${o.devices} devices${held}` };
}

async function fileFleet(o: SimulationOptions, path: string, task: Task): Promise<FleetData> {
  // Feature columns the task names are the default: a task file says what it reads.
  const config: DeviceDataConfig = o.dataConfig.features === null && task.input.features !== undefined ? { ...o.dataConfig, features: task.input.features } : o.dataConfig;
  const data = await loadDeviceData(path, config);
  assertTaskFits(data, task, path);
  const parts = o.partition.kind === 'by' ? naturalParts(data) : seededParts(data, o.partition, o.devices, o.seed);
  const devices = parts.map(({ id, group, data: own }) => {
    try {
      return { id, examples: deviceExamples(own, config) };
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      const who = group === undefined ? `device ${id}` : `device ${id} (${config.groupBy} ${JSON.stringify(group)}, ${own.count} examples)`;
      throw new OptionsError('holdout', `${path}: ${who}: ${error.message}`, { cause: error });
    }
  });
  const central = o.evalData === undefined ? null : await evalExamples(o.evalData, config, data, task);
  const split = o.partition.kind === 'by'
    ? `${formatNaturalPartition(o.partition)}: ${devices.length} device${devices.length === 1 ? '' : 's'} (${preview(devices.map((d) => d.id))})`
    : `${formatPartition(o.partition)} over ${devices.length} devices`;
  const target = data.target.kind === 'regression' ? 'regression' : `classes ${preview(data.target.classes)}`;
  const held = o.holdout > 0 ? `, ${percent(o.holdout)} held out on each (by ${config.holdoutBy})` : '';
  const evaluation = central === null ? '' : `; central: ${o.evalData} (${central.count} examples)`;
  return {
    devices,
    central,
    describe: `${path}: ${data.count} examples of [${data.shape.join(', ')}] (${data.featureNames.join(', ')}), ${target}, ${split}${held}${evaluation}`,
  };
}

interface Part {
  id: string;
  /** The group column's value (by:COLUMN). */
  group?: string;
  data: DeviceData;
}

function naturalParts(data: DeviceData): Part[] {
  const groups = splitByGroup(data);
  const ids = groupDeviceIds(groups.map((g) => g.id));
  return groups.map((g, i) => ({ id: ids[i] as string, group: g.id, data: g.data }));
}

function seededParts(data: DeviceData, spec: PartitionSpec, devices: number, seed: number): Part[] {
  // iid needs no labels; shards and dirichlet split by class (a regression target is refused by the options).
  let labels: Uint8Array;
  if (spec.kind === 'iid') {
    labels = new Uint8Array(data.count);
  } else {
    if (data.target.kind !== 'classification' || data.target.classes.length > 256) {
      throw new OptionsError('partition', `${formatPartition(spec)} splits by class label and takes at most 256 classes; the data has ${data.target.kind === 'classification' ? data.target.classes.length : 'none'}`);
    }
    labels = Uint8Array.from(data.targets);
  }
  let shards: Uint32Array[];
  try {
    shards = partition(labels, devices, spec, seed);
  } catch (error) {
    // partition() calls them clients; the simulation calls them devices.
    if (error instanceof OptionsError && error.option === 'clients') throw new OptionsError('devices', error.message.replace(/^clients: /, '').replace('clients', 'devices'), { cause: error });
    throw error;
  }
  return shards.map((indices, i) => ({ id: deviceId(i, devices), data: pickExamples(data, indices) }));
}

/**
 * Valid, distinct device ids from a group column's values: characters an id may not hold
 * become '_', at most 64 characters, and a value that would repeat an id gets `-2`, `-3`...
 */
export function groupDeviceIds(values: readonly string[]): string[] {
  const taken = new Set<string>();
  return values.map((value) => {
    const base = value.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) || '_';
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base.slice(0, 64 - String(n).length - 1)}-${n}`;
    if (!isValidId(id)) throw new Error(`groupDeviceIds: made an invalid id ${JSON.stringify(id)}`);
    taken.add(id);
    return id;
  });
}

/**
 * The central evaluation file, read with the training data's features and classes (so class
 * indices agree), every example kept. Single readings need no group or time column there;
 * windows keep both, so they never cross devices or time.
 */
async function evalExamples(path: string, config: DeviceDataConfig, train: DeviceData, task: Task): Promise<Examples> {
  const single = config.window === 1;
  const data = await loadDeviceData(path, {
    ...config,
    features: train.featureNames,
    classes: train.target.kind === 'classification' ? train.target.classes : null,
    groupBy: single ? null : config.groupBy,
    time: single ? null : config.time,
    holdout: 0,
  });
  assertTaskFits(data, task, path, 'evalData');
  const all = Uint32Array.from({ length: data.count }, (_, i) => i);
  return { x: gatherExamples(data, all), y: Float32Array.from(data.targets), count: data.count };
}

function seededPartition(spec: SimulationOptions['partition']): PartitionSpec {
  if (spec.kind === 'by') throw new OptionsError('partition', `${formatNaturalPartition(spec)} splits a data file: give data (--data FILE)`);
  return spec;
}

function preview(names: readonly string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ... ${names[names.length - 1]}`;
}

function percent(share: number): string {
  return `${Number((share * 100).toPrecision(6))}%`;
}
