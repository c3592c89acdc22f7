import { Rng } from '../protocol/index.js';
import type { DeviceRecord } from './registry.js';

/** A rule a device must pass to be chosen (battery, link, speed...), as Flower's Criterion. */
export type Criterion = (device: DeviceRecord) => boolean;

export interface SelectionOptions {
  /** Share of eligible devices chosen each round (McMahan's C). */
  fraction: number;
  /** Never choose fewer than this many, when that many are eligible. */
  minParticipants: number;
  criterion?: Criterion;
}

/**
 * Chooses max(minParticipants, ceil(fraction * eligible)) devices by a seeded shuffle of
 * the sorted eligible ids, so the same seed and fleet always give the same participants.
 */
export function selectParticipants(devices: DeviceRecord[], options: SelectionOptions, rng: Rng): string[] {
  const eligible = devices
    .filter((d) => d.state !== 'offline' && (options.criterion?.(d) ?? true))
    .map((d) => d.deviceId)
    .sort();
  const wanted = Math.max(options.minParticipants, Math.ceil(options.fraction * eligible.length));
  const count = Math.min(eligible.length, wanted);
  return rng.shuffle(eligible).slice(0, count).sort();
}
