import { describe, expect, it } from 'vitest';
import { AvailabilityTimeline } from './availability.js';
import { BUILTIN_PROFILES, type DeviceProfile } from './profiles.js';

const base: DeviceProfile = { ...BUILTIN_PROFILES['pi-4']!, availability: 0.3, sessionS: 60 };

/** Share of `samples` instants over `spanMs` at which the device is online. */
function shareOnline(t: AvailabilityTimeline, spanMs: number, samples: number): number {
  let on = 0;
  for (let k = 0; k < samples; k++) if (t.isOnline((k * spanMs) / samples)) on += 1;
  return on / samples;
}

describe('availability timelines', () => {
  it('are online for the profile share of the time, in sessions, over a long run', () => {
    // 2,000 sessions' worth: the share online is 0.3 within sampling error.
    const t = new AvailabilityTimeline(base, 1, 'device-1');
    expect(shareOnline(t, 60_000 * 2000, 20_000)).toBeCloseTo(0.3, 1);
    // Sessions, not coin flips: one second later the state is almost always the same.
    let same = 0;
    for (let k = 0; k < 1000; k++) same += Number(t.isOnline(k * 600_000) === t.isOnline(k * 600_000 + 1000));
    expect(same).toBeGreaterThan(960);
  });

  it('are the same for the same seed and device, and differ between devices', () => {
    const sample = (seed: number, id: string): boolean[] => {
      const t = new AvailabilityTimeline(base, seed, id);
      return Array.from({ length: 200 }, (_, k) => t.isOnline(k * 30_000));
    };
    expect(sample(3, 'a')).toEqual(sample(3, 'a'));
    expect(sample(3, 'a')).not.toEqual(sample(3, 'b'));
    // Asked out of order, a timeline answers as it would in order.
    const t = new AvailabilityTimeline(base, 3, 'a');
    const late = t.isOnline(199 * 30_000);
    expect([t.isOnline(0), late]).toEqual([sample(3, 'a')[0], sample(3, 'a')[199]]);
  });

  it('is always online without an availability below 1', () => {
    const t = new AvailabilityTimeline(BUILTIN_PROFILES['pi-5']!, 1, 'x');
    expect(shareOnline(t, 1e9, 1000)).toBe(1);
  });
});
