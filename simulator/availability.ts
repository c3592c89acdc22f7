import { Rng } from '../protocol/index.js';
import type { DeviceProfile } from './profiles.js';

/** A profile's default mean online session when it sets `availability` but not `sessionS`. */
export const DEFAULT_SESSION_S = 600;

/**
 * When a device of the simulated fleet is online: an alternating renewal process, online and
 * offline sessions of exponential length (means `sessionS` and `sessionS (1 - a) / a`, so the
 * long-run share online is the profile's availability a), seeded per device, starting online
 * with probability a. Churn, in the sense of Bonawitz et al. 2019's diurnal fleets, without the
 * day: devices come and go on their own clocks. Offline devices are not chosen; losing a device
 * mid-round is the profile's `dropout`.
 */
export class AvailabilityTimeline {
  /** Times at which the state flips, ascending; the state before the first is `startsOnline`. */
  private readonly flips: number[] = [];
  private readonly rng: Rng;
  private readonly startsOnline: boolean;
  private readonly onMs: number;
  private readonly offMs: number;

  constructor(profile: DeviceProfile, seed: number, deviceId: string) {
    const a = profile.availability ?? 1;
    this.rng = Rng.derive(seed, 'simulator.availability', deviceId);
    this.onMs = (profile.sessionS ?? DEFAULT_SESSION_S) * 1000;
    this.offMs = a >= 1 ? 0 : (this.onMs * (1 - a)) / a;
    this.startsOnline = a >= 1 || this.rng.next() < a;
  }

  /** Whether the device is online at simulated time `t` (ms). */
  isOnline(t: number): boolean {
    if (this.offMs === 0) return true;
    let last = this.flips.at(-1) ?? 0;
    while (last <= t) {
      const online = this.startsOnline === (this.flips.length % 2 === 0);
      last += -Math.log(1 - this.rng.next()) * (online ? this.onMs : this.offMs);
      this.flips.push(last);
    }
    let i = 0;
    while (this.flips[i]! <= t) i++;
    return this.startsOnline === (i % 2 === 0);
  }
}
