import { OptionsError } from '../protocol/errors.js';
import type { Dataset } from './dataset.js';
import { loadMnistTrainLabels, loadMnistTrainRows, MNIST_TRAIN_COUNT } from './mnist.js';
import { partition } from './partition.js';
import { formatPartition, parsePartition, type PartitionSpec } from './partitionSpec.js';

/**
 * A device's share of MNIST (`--data mnist:...`): client `index` of `of` in a seeded partition of
 * MNIST's training set (demos, and a fleet over several processes that matches a simulation). A
 * device's own data files are read by `loadDeviceData`.
 */
export type DataSource = { kind: 'mnist'; partition: PartitionSpec; index: number; of: number };

export interface DataSourceOptions {
  /** Fleet size used when the spec omits `/<of>`. @default 10 */
  numDevices?: number;
}

export const DEFAULT_NUM_DEVICES = 10;

const USAGE =
  "expected 'mnist:<partition>:<index>[/<of>]' (e.g. mnist:iid:3/10, mnist:shards:2:0/100, " +
  'mnist:dirichlet:0.5:7/20)';
const CLIENT = /^(\d+)(?:\/(\d+))?$/;

/** Resolves an `mnist:...` `--data` value; throws `OptionsError('data', ...)` saying what was expected. */
export function parseDataSource(spec: string, options: DataSourceOptions = {}): DataSource {
  const text = spec.trim();
  if (text === '') throw bad(spec, 'empty');
  if (text === 'mnist' || text.startsWith('mnist:')) return parseMnist(spec, text.slice('mnist:'.length), options);
  throw bad(spec, 'not an mnist spec');
}

function parseMnist(spec: string, rest: string, options: DataSourceOptions): DataSource {
  const colon = rest.lastIndexOf(':');
  if (colon < 0) throw bad(spec, 'needs a partition and a client index');
  let partitionSpec: PartitionSpec;
  try {
    partitionSpec = parsePartition(rest.slice(0, colon));
  } catch (cause) {
    throw bad(spec, (cause as Error).message, cause);
  }
  const client = CLIENT.exec(rest.slice(colon + 1));
  if (client === null) throw bad(spec, `client '${rest.slice(colon + 1)}' must be <index> or <index>/<of>`);
  const index = Number(client[1]);
  const of = client[2] !== undefined ? Number(client[2]) : (options.numDevices ?? DEFAULT_NUM_DEVICES);
  if (!Number.isSafeInteger(of) || of < 1) throw bad(spec, `the number of devices must be a positive integer, got ${of}`);
  if (index >= of) throw bad(spec, `client index ${index} must be below the number of devices ${of} (indices start at 0)`);
  const needed = partitionSpec.kind === 'shards' ? of * partitionSpec.perClient : of;
  if (needed > MNIST_TRAIN_COUNT) {
    throw bad(spec, `${of} devices need ${needed} ${partitionSpec.kind === 'shards' ? 'shards' : 'examples'}; MNIST has ${MNIST_TRAIN_COUNT}`);
  }
  return { kind: 'mnist', partition: partitionSpec, index, of };
}

function bad(spec: string, why: string, cause?: unknown): OptionsError {
  return new OptionsError('data', `'${spec}': ${why}; ${USAGE}`, cause === undefined ? undefined : { cause });
}

const MAX_CACHED_PARTITIONS = 4;
const partitions = new Map<string, Uint32Array[]>();

/**
 * The examples a source names. Only MNIST's labels (60 KB) are read to partition, then only this
 * client's rows of the images file (an agent with 600 examples holds 1.9 MB of pixels, not
 * MNIST's 188 MB). Partitions are computed once per (partition, of, seed) and shared by every
 * caller in the process.
 */
export async function loadDataSource(source: DataSource, seed: number): Promise<Dataset> {
  const labels = await loadMnistTrainLabels();
  const key = `${formatPartition(source.partition)}|${source.of}|${seed}`;
  let parts = partitions.get(key);
  if (parts === undefined) {
    parts = partition(labels, source.of, source.partition, seed);
    if (partitions.size >= MAX_CACHED_PARTITIONS) partitions.delete(partitions.keys().next().value as string);
    partitions.set(key, parts);
  }
  const indices = parts[source.index];
  if (indices === undefined) {
    throw new OptionsError('data', `client index ${source.index} must be below the number of devices ${source.of}`);
  }
  return loadMnistTrainRows(indices);
}
