import os from 'node:os';
import { OptionsError } from '../protocol/index.js';
import {
  DEFAULT_HOLDOUT, deviceDataSpecs, formatNaturalPartition, formatPartition, isNaturalPartition, parseDeviceDataOptions, parseNaturalPartition, parsePartition,
  type DeviceDataConfig, type DeviceDataOptions, type DeviceDataSpecs, type NaturalPartition, type PartitionSpec,
} from '../datasets/index.js';
import { coordinatorSpecs, parseCoordinatorOptions, resolveSpec, stripUndefined, type CoordinatorOptions, type CoordinatorSettings } from '../aggregator/index.js';
import type { BackendName } from '../learning/index.js';
import { FOLLOW_MODES, type FollowMode } from '../device-agent/index.js';
import { parseAttack, type Attack } from './attacks.js';
import { parseProfiles, type ProfileMix } from './profiles.js';
import type { FleetSecurity } from './security.js';
import { checkSecaggDropout } from './secaggDropout.js';

export const DEFAULT_DEVICES = 10;
export const DEFAULT_PARTITION = 'iid';

/** A simulated fleet: the coordinator's options plus the fleet's shape. */
export interface SimulationOptions extends CoordinatorOptions {
  /**
   * Devices, each with its own MQTT connection and data shard. @default 10. With a `by:COLUMN`
   * partition, 0 until the data is loaded: one device per value of COLUMN (`withFleetSize`).
   */
  devices: number;
  /**
   * How the training examples are split: `iid`, `shards:K`, `dirichlet:ALPHA` (MNIST's 60k, or
   * `data`'s examples; shards and dirichlet need class labels), or `by:COLUMN` (`data` only:
   * one device per distinct value of COLUMN, with exactly its readings). @default iid
   */
  partition: PartitionSpec | NaturalPartition;
  /** The fleet's data: a CSV / NDJSON file or a directory of them (read with `dataConfig`); MNIST when absent. */
  data: string | undefined;
  /**
   * How `data` (and `evalData`) is read: label, features, windows... (datasets/deviceDataOptions.ts).
   * Its `holdout` is `holdout`, its `seed` the run's `seed` unless given, its `groupBy` a
   * `by:COLUMN` partition's column. Defaults (unused) without `data`.
   */
  dataConfig: DeviceDataConfig;
  /** Central evaluation data for a `data` run (read as `data` is, with its features and classes); none by default. */
  evalData: string | undefined;
  /**
   * Share of each device's examples held out for federated evaluation, seeded (`dataConfig.seed`).
   * @default 0.2 when `evaluate` includes 'federated', else 0 (MNIST runs train on every example, as before)
   */
  holdout: number;
  /** The initial global, in the task's flat weight order (a TensorFlow.js model's weights); seeded initialisation when absent. */
  initialWeights: Float32Array | undefined;
  /** tfjs backend; auto tries tensorflow (tfjs-node), then wasm, then cpu. @default 'auto' */
  backend: BackendName | 'auto';
  /** External broker URL; by default an embedded Aedes on an ephemeral port. */
  brokerUrl: string | undefined;
  /** Logins or certificates for an external broker run with `--auth` or mutual TLS (`security.ts`); none by default. */
  security: FleetSecurity | undefined;
  /**
   * Sign the fleet's task, global and round messages with a key made for this run (Ed25519,
   * privacy/signing.ts) and start every device trusting it (`--trust`), as a signed deployment
   * runs. @default false
   */
  sign: boolean;
  /** When devices download the global. @default 'always' when every device trains each round, else 'when-selected' */
  follow: FollowMode;
  /** Malicious devices: KIND:FRACTION[:PARAM] (signflip, scale, noise, labelflip, zero); none by default. */
  attack: Attack | undefined;
  /**
   * Device profiles (speed, links, dropout): NAME:SHARE,... over pi-zero-2, pi-4, pi-5, or a
   * FILE.json of custom ones; none by default (every device is this machine, never drops out).
   */
  profiles: ProfileMix | undefined;
  /**
   * Simulated training time per example and epoch on a speed-1 device, in ms; by default the
   * time measured here. Fixing it makes simulated time, and so async mode's order, reproducible.
   */
  msPerExample: number | undefined;
  /**
   * Worker threads that train the fleet's rounds (each with its own tfjs); 0 trains on the main
   * thread, one device after another. @default os.availableParallelism()
   */
  workers: number;
  /**
   * `secagg` only: the fraction of each round's participants (exactly floor(fraction x n),
   * drawn by the seed) that mask their update and drop out before sending it
   * (simulator/secaggDropout.ts). @default 0
   */
  secaggDropout: number;
}

/** What a caller may pass: defaults for what is left out, spec strings or resolved objects. */
export type SimulationSettings = CoordinatorSettings &
  Partial<Omit<SimulationOptions, keyof CoordinatorOptions | 'partition' | 'attack' | 'profiles' | 'dataConfig' | 'holdout'>> & {
    partition?: string | PartitionSpec | NaturalPartition;
    attack?: string | Attack;
    profiles?: string | ProfileMix;
    /** Options as the CLI gives them (strings), or a config already resolved. */
    dataConfig?: DeviceDataOptions | DeviceDataConfig;
    holdout?: number | string;
  };

/** Fills defaults, resolves every spec (partition, attack, profiles, data options and the coordinator's) and validates, once. */
export function parseSimulationOptions(partial: SimulationSettings = {}): SimulationOptions {
  const given = stripUndefined(partial);
  const partition = resolvePartition(given.partition ?? DEFAULT_PARTITION);
  const natural = partition.kind === 'by';
  const data = given.data;
  if (data !== undefined && (typeof data !== 'string' || data.trim() === '')) throw new OptionsError('data', `must name a file or a directory, got ${JSON.stringify(data)}`);
  if (natural && data === undefined) {
    throw new OptionsError('partition', `${formatNaturalPartition(partition)} splits a data file by its column '${partition.column}': give data (--data FILE)`);
  }
  if (natural && given.devices !== undefined) {
    throw new OptionsError('devices', `${formatNaturalPartition(partition)} makes one device per value of '${partition.column}'; leave devices out`);
  }
  const devices = natural ? 0 : (given.devices ?? DEFAULT_DEVICES);
  if (!natural && (!Number.isInteger(devices) || devices < 1 || devices > MAX_DEVICES)) {
    throw new OptionsError('devices', `must be an integer in [1, ${MAX_DEVICES}], got ${devices}`);
  }
  const backend = given.backend ?? 'auto';
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new OptionsError('backend', `must be auto, tensorflow, wasm or cpu, got ${backend}`);
  }
  // Every simulated device is online from the start: round 1 waits for all of them (by:COLUMN: sized by withFleetSize).
  const coordinator = parseCoordinatorOptions({ minDevices: natural ? 1 : devices, waitForDevicesMs: 120_000, ...given });
  if (!natural) assertFleetSize(coordinator, devices);
  // With a fraction below 1, most devices idle each round: they need no copy of the model.
  const follow = given.follow ?? (coordinator.fraction < 1 ? 'when-selected' : 'always');
  if (!FOLLOW_MODES.includes(follow)) throw new OptionsError('follow', `must be ${FOLLOW_MODES.join(' or ')}, got ${follow}`);
  const attack = given.attack === undefined ? undefined : resolveSpec(given.attack, parseAttack);
  const profiles = given.profiles === undefined ? undefined : resolveSpec(given.profiles, parseProfiles);
  const workers = given.workers ?? os.availableParallelism();
  if (!Number.isInteger(workers) || workers < 0 || workers > 256) throw new OptionsError('workers', `must be an integer in [0, 256], got ${workers}`);
  const msPerExample = given.msPerExample;
  if (msPerExample !== undefined && !(msPerExample > 0 && Number.isFinite(msPerExample))) {
    throw new OptionsError('msPerExample', `must be a positive number, got ${msPerExample}`);
  }
  const { dataConfig, holdout } = resolveData(given, coordinator, partition);
  const evalData = given.evalData;
  if (evalData !== undefined) {
    if (typeof evalData !== 'string' || evalData.trim() === '') throw new OptionsError('evalData', `must name a file or a directory, got ${JSON.stringify(evalData)}`);
    if (data === undefined) throw new OptionsError('evalData', 'evaluates a run on a data file: give data too (--data PATH); MNIST runs evaluate on its test set');
    if (!coordinator.evaluate.includes('central')) {
      throw new OptionsError('evalData', `is central evaluation data, but evaluate is ${coordinator.evaluate.join(',')}: add central (--evaluate central,federated) or leave it out`);
    }
  }
  if (data !== undefined && evalData === undefined && coordinator.evaluate.includes('central')) {
    throw new OptionsError('evaluate', 'central evaluation of a run on a data file needs evaluation data (--eval-data FILE); or evaluate federated (--evaluate federated)');
  }
  if (given.sign !== undefined && typeof given.sign !== 'boolean') throw new OptionsError('sign', `must be true or false, got ${String(given.sign)}`);
  if (given.security !== undefined && given.brokerUrl === undefined) throw new OptionsError('security', 'logins and certificates are for an external broker (brokerUrl, --broker URL)');
  const initialWeights = given.initialWeights;
  if (initialWeights !== undefined && !(initialWeights instanceof Float32Array)) throw new OptionsError('initialWeights', 'must be a Float32Array');
  return {
    ...coordinator, devices, partition, data, dataConfig, evalData, holdout, initialWeights,
    backend, brokerUrl: given.brokerUrl, security: given.security, sign: given.sign ?? false, follow, attack, profiles, msPerExample, workers,
    secaggDropout: checkSecaggDropout(given.secaggDropout, coordinator.secagg !== undefined),
  };
}

/**
 * The options of a `by:COLUMN` fleet once its data is loaded and its size known: `devices`
 * (and `minDevices`: round 1 waits for all of them) set, and the size rules of
 * `parseSimulationOptions` applied to it (min-participants, a reachable quorum). Throws
 * `OptionsError` naming the option the fleet cannot satisfy.
 */
export function withFleetSize(o: SimulationOptions, devices: number): SimulationOptions {
  if (!Number.isInteger(devices) || devices < 1 || devices > MAX_DEVICES) {
    throw new OptionsError('devices', `the data gives ${devices} devices; a simulation has 1 to ${MAX_DEVICES}`);
  }
  const sized = { ...o, devices, minDevices: devices };
  assertFleetSize(sized, devices);
  return sized;
}

const MAX_DEVICES = 100_000;

function resolvePartition(value: string | PartitionSpec | NaturalPartition): PartitionSpec | NaturalPartition {
  if (typeof value !== 'string') return value;
  return isNaturalPartition(value) ? parseNaturalPartition(value) : parsePartition(value);
}

/** Options of `DeviceDataOptions` whose CLI flag is their own name (`--label`, `--window`...): named in errors. */
const DATA_OPTION_KEYS = ['label', 'features', 'ignore', 'target', 'classes', 'groupBy', 'time', 'window', 'stride', 'delimiter', 'format', 'holdoutBy', 'seed'] as const;

/** The data options resolved, with the held-out share, the seed and a natural partition's column folded in. */
function resolveData(
  given: Partial<SimulationSettings>,
  coordinator: CoordinatorOptions,
  partition: PartitionSpec | NaturalPartition,
): { dataConfig: DeviceDataConfig; holdout: number } {
  // A resolved config has nulls where options have absences.
  const options = Object.fromEntries(Object.entries(given.dataConfig ?? {}).filter(([, v]) => v !== null && v !== undefined)) as DeviceDataOptions;
  if (given.data === undefined) {
    const stray = DATA_OPTION_KEYS.find((k) => options[k] !== undefined);
    if (stray !== undefined) throw new OptionsError(stray, 'reads a data file: give data (--data PATH), or leave it out for MNIST');
  }
  if (given.holdout !== undefined && options.holdout !== undefined && Number(given.holdout) !== Number(options.holdout)) {
    throw new OptionsError('holdout', `is given twice (${given.holdout} and dataConfig.holdout ${options.holdout})`);
  }
  const federated = coordinator.evaluate.includes('federated');
  const holdoutGiven = given.holdout ?? options.holdout;
  let groupBy = options.groupBy;
  if (partition.kind === 'by') {
    if (groupBy !== undefined && groupBy.trim() !== partition.column) {
      throw new OptionsError('groupBy', `is '${groupBy}' but the partition is ${formatNaturalPartition(partition)}: the devices are the values of one column`);
    }
    groupBy = partition.column;
  }
  const dataConfig = parseDeviceDataOptions({
    ...options,
    groupBy,
    holdout: holdoutGiven ?? (federated ? DEFAULT_HOLDOUT : 0),
    seed: options.seed ?? coordinator.seed,
  });
  if (given.data === undefined && dataConfig.holdoutBy !== 'example') throw new OptionsError('holdoutBy', 'tail splits a data file by time; MNIST examples have none');
  if (federated && dataConfig.holdout === 0) {
    throw new OptionsError('holdout', 'is 0, but federated evaluation runs on the devices\' held-out examples: hold some out (e.g. 0.2) or evaluate central');
  }
  if (given.data !== undefined && dataConfig.target === 'regression' && (partition.kind === 'shards' || partition.kind === 'dirichlet')) {
    throw new OptionsError('partition', `${formatPartition(partition)} splits by class label; a regression target has none (use iid or by:COLUMN)`);
  }
  return { dataConfig, holdout: dataConfig.holdout };
}

/** The checks that need the fleet's size: min-participants and a reachable quorum. */
function assertFleetSize(o: CoordinatorOptions, devices: number): void {
  if (o.minParticipants > devices) {
    throw new OptionsError('minParticipants', `is ${o.minParticipants} but the fleet has ${devices} devices`);
  }
  assertReachableQuorum(o, devices);
}

/**
 * A sync round makes a new global only from max(quorum, the strategy's own minimum, e.g. Krum's
 * 2f + 3) accepted updates, and a round never has more participants than the fleet's devices,
 * nor more than its selection chooses with every device online: a need above that keeps the
 * initial model for the whole run. (Async mode's bound, the buffer, is the coordinator's check.)
 */
function assertReachableQuorum(o: CoordinatorOptions, devices: number): void {
  if (o.mode !== 'sync') return;
  const chosen = Math.min(devices, Math.ceil(o.overselect * Math.max(o.minParticipants, Math.ceil(o.fraction * devices)) - 1e-9));
  const fleet = chosen < devices ? `a round chooses at most ${chosen} of the fleet's ${devices} devices (fraction ${o.fraction}, min-participants ${o.minParticipants})` : `the fleet has ${devices} devices`;
  if (o.quorum > chosen) throw new OptionsError('quorum', `is ${o.quorum} but ${fleet}: no round could change the global`);
  const least = o.strategy.minUpdates ?? 1;
  if (least > chosen) throw new OptionsError('strategy', `${o.strategy.name} needs ${least} accepted updates per round but ${fleet}: no round could change the global`);
}

/** The options as plain JSON (every object back to its spec): what a run report records. */
export type SimulationSpecs = ReturnType<typeof coordinatorSpecs> & Omit<
  SimulationOptions,
  keyof CoordinatorOptions | 'partition' | 'attack' | 'profiles' | 'dataConfig' | 'holdout' | 'initialWeights'
> & {
  partition: string; attack: string | undefined; profiles: string | undefined;
  /** The data options as strings; undefined for an MNIST run. */
  dataConfig: DeviceDataSpecs | undefined;
  holdout: string;
  /** `N values` when the initial global was given (an imported model's weights). */
  initialWeights: string | undefined;
};

export function simulationSpecs(o: SimulationOptions): SimulationSpecs {
  return {
    ...o,
    ...coordinatorSpecs(o),
    partition: o.partition.kind === 'by' ? formatNaturalPartition(o.partition) : formatPartition(o.partition),
    attack: o.attack?.spec,
    profiles: o.profiles?.spec,
    dataConfig: o.data === undefined ? undefined : deviceDataSpecs(o.dataConfig),
    holdout: String(o.holdout),
    initialWeights: o.initialWeights === undefined ? undefined : `${o.initialWeights.length} values`,
  };
}
