import os from 'node:os';
import { OptionsError } from '../protocol/index.js';
import { parsePartition } from '../datasets/index.js';
import { parseCoordinatorOptions, stripUndefined, type CoordinatorOptions } from '../aggregator/index.js';
import type { BackendName } from '../learning/index.js';
import { FOLLOW_MODES, type FollowMode } from '../device-agent/index.js';
import { parseAttack } from './attacks.js';
import { parseProfiles } from './profiles.js';

export const DEFAULT_DEVICES = 10;
export const DEFAULT_PARTITION = 'iid';

/** A simulated fleet: the coordinator's options plus the fleet's shape. */
export interface SimulationOptions extends CoordinatorOptions {
  /** Devices, each with its own MQTT connection and data shard. @default 10 */
  devices: number;
  /** How MNIST's 60k training examples are split: iid, shards:K, dirichlet:ALPHA. @default 'iid' */
  partition: string;
  /** tfjs backend; auto tries tensorflow (tfjs-node), then wasm, then cpu. @default 'auto' */
  backend: BackendName | 'auto';
  /** External broker URL; by default an embedded Aedes on an ephemeral port. */
  brokerUrl: string | undefined;
  /** When devices download the global. @default 'always' when every device trains each round, else 'when-selected' */
  follow: FollowMode;
  /** Malicious devices: KIND:FRACTION[:PARAM] (signflip, scale, noise, labelflip, zero); none by default. */
  attack: string | undefined;
  /**
   * Device profiles (speed, links, dropout): NAME:SHARE,... over pi-zero-2, pi-4, pi-5, or a
   * FILE.json of custom ones; none by default (every device is this machine, never drops out).
   */
  profiles: string | undefined;
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

export function parseSimulationOptions(partial: Partial<SimulationOptions> = {}): SimulationOptions {
  const given = stripUndefined(partial);
  const devices = given.devices ?? DEFAULT_DEVICES;
  if (!Number.isInteger(devices) || devices < 1 || devices > 100_000) {
    throw new OptionsError('devices', `must be an integer in [1, 100000], got ${devices}`);
  }
  const partition = given.partition ?? DEFAULT_PARTITION;
  parsePartition(partition);
  const backend = given.backend ?? 'auto';
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new OptionsError('backend', `must be auto, tensorflow, wasm or cpu, got ${backend}`);
  }
  // Every simulated device is online from the start: round 1 waits for all of them.
  const coordinator = parseCoordinatorOptions({ minDevices: devices, waitForDevicesMs: 120_000, ...given });
  if (coordinator.minParticipants > devices) {
    throw new OptionsError('minParticipants', `is ${coordinator.minParticipants} but the fleet has ${devices} devices`);
  }
  // With a fraction below 1, most devices idle each round: they need no copy of the model.
  const follow = given.follow ?? (coordinator.fraction < 1 ? 'when-selected' : 'always');
  if (!FOLLOW_MODES.includes(follow)) throw new OptionsError('follow', `must be ${FOLLOW_MODES.join(' or ')}, got ${follow}`);
  const attack = given.attack === undefined ? undefined : parseAttack(given.attack).spec;
  if (given.profiles !== undefined) parseProfiles(given.profiles);
  const workers = given.workers ?? os.availableParallelism();
  if (!Number.isInteger(workers) || workers < 0 || workers > 256) throw new OptionsError('workers', `must be an integer in [0, 256], got ${workers}`);
  const msPerExample = given.msPerExample;
  if (msPerExample !== undefined && !(msPerExample > 0 && Number.isFinite(msPerExample))) {
    throw new OptionsError('msPerExample', `must be a positive number, got ${msPerExample}`);
  }
  return { ...coordinator, devices, partition, backend, brokerUrl: given.brokerUrl, follow, attack, profiles: given.profiles, msPerExample, workers };
}
