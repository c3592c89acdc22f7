import { Rng } from '../protocol/index.js';
import type { DeviceRecord } from './registry.js';

/** A rule a device must pass to be chosen (battery, link, speed...), as Flower's Criterion. */
export type Criterion = (device: DeviceRecord) => boolean;

export interface SelectionOptions {
  /** Share of eligible devices chosen each round (McMahan's C). */
  fraction: number;
  /** Never choose fewer than this many, when that many are eligible. */
  minParticipants: number;
  /**
   * Choose this many times the wanted count, to make up for devices that will drop out
   * (Bonawitz et al. 2019, "Towards Federated Learning at Scale", select 130%). @default 1
   */
  overselect?: number;
  criterion?: Criterion;
}

/**
 * Chooses ceil(overselect * max(minParticipants, ceil(fraction * eligible))) devices, at most
 * every eligible one, by a seeded shuffle of
 * the sorted eligible ids, so the same seed and fleet always give the same participants.
 */
export function selectParticipants(devices: DeviceRecord[], options: SelectionOptions, rng: Rng): string[] {
  const eligible = eligibleDevices(devices, options);
  const wanted = Math.max(options.minParticipants, Math.ceil(options.fraction * eligible.length));
  // Less a hair: 1.3 * 10 is 13.000000000000002 in floating point.
  const count = Math.min(eligible.length, Math.ceil((options.overselect ?? 1) * wanted - 1e-9));
  return rng.shuffle(eligible).slice(0, count).sort();
}

/** The ids, sorted, of the devices selection draws from: online or training, not busy, passing the criterion. */
export function eligibleDevices(devices: DeviceRecord[], options: Pick<SelectionOptions, 'criterion'>): string[] {
  return devices
    // A busy device declines work (its own policy: on battery, hot, loaded) until it says online again.
    .filter((d) => d.state !== 'offline' && d.state !== 'busy' && (options.criterion?.(d) ?? true))
    .map((d) => d.deviceId)
    .sort();
}
