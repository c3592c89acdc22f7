import os from 'node:os';
import { OptionsError } from '../protocol/index.js';
import { formatPartition, parsePartition, type PartitionSpec } from '../datasets/index.js';
import { coordinatorSpecs, parseCoordinatorOptions, resolveSpec, stripUndefined, type CoordinatorOptions, type CoordinatorSettings } from '../aggregator/index.js';
import type { BackendName } from '../learning/index.js';
import { FOLLOW_MODES, type FollowMode } from '../device-agent/index.js';
import { parseAttack, type Attack } from './attacks.js';
import { parseProfiles, type ProfileMix } from './profiles.js';

export const DEFAULT_DEVICES = 10;
export const DEFAULT_PARTITION = 'iid';

/** A simulated fleet: the coordinator's options plus the fleet's shape. */
export interface SimulationOptions extends CoordinatorOptions {
  /** Devices, each with its own MQTT connection and data shard. @default 10 */
  devices: number;
  /** How MNIST's 60k training examples are split: iid, shards:K, dirichlet:ALPHA. @default iid */
  partition: PartitionSpec;
  /** tfjs backend; auto tries tensorflow (tfjs-node), then wasm, then cpu. @default 'auto' */
  backend: BackendName | 'auto';
  /** External broker URL; by default an embedded Aedes on an ephemeral port. */
  brokerUrl: string | undefined;
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
}

/** What a caller may pass: defaults for what is left out, spec strings or resolved objects. */
export type SimulationSettings = CoordinatorSettings &
  Partial<Omit<SimulationOptions, keyof CoordinatorOptions | 'partition' | 'attack' | 'profiles'>> & {
    partition?: string | PartitionSpec;
    attack?: string | Attack;
    profiles?: string | ProfileMix;
  };

/** Fills defaults, resolves every spec (partition, attack, profiles and the coordinator's) and validates, once. */
export function parseSimulationOptions(partial: SimulationSettings = {}): SimulationOptions {
  const given = stripUndefined(partial);
  const devices = given.devices ?? DEFAULT_DEVICES;
  if (!Number.isInteger(devices) || devices < 1 || devices > 100_000) {
    throw new OptionsError('devices', `must be an integer in [1, 100000], got ${devices}`);
  }
  const partition = resolveSpec(given.partition ?? DEFAULT_PARTITION, parsePartition);
  const backend = given.backend ?? 'auto';
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new OptionsError('backend', `must be auto, tensorflow, wasm or cpu, got ${backend}`);
  }
  // Every simulated device is online from the start: round 1 waits for all of them.
  const coordinator = parseCoordinatorOptions({ minDevices: devices, waitForDevicesMs: 120_000, ...given });
  if (coordinator.minParticipants > devices) {
    throw new OptionsError('minParticipants', `is ${coordinator.minParticipants} but the fleet has ${devices} devices`);
  }
  assertReachableQuorum(coordinator, devices);
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
  return { ...coordinator, devices, partition, backend, brokerUrl: given.brokerUrl, follow, attack, profiles, msPerExample, workers };
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
export type SimulationSpecs = Omit<SimulationOptions, 'codec' | 'downlink' | 'strategy' | 'partition' | 'attack' | 'profiles'> & {
  codec: string; downlink: string; strategy: string; partition: string; attack: string | undefined; profiles: string | undefined;
};

export function simulationSpecs(o: SimulationOptions): SimulationSpecs {
  return { ...o, ...coordinatorSpecs(o), partition: formatPartition(o.partition), attack: o.attack?.spec, profiles: o.profiles?.spec };
}
