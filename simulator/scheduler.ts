import type { ManualClock } from '../protocol/index.js';
import type { FinishedWork } from '../device-agent/index.js';
import { simulatedFinishMs, type DeviceProfile } from './profiles.js';

/** What the coordinator is seen to do with a device's released work. */
export type Settlement = 'update' | 'offline' | 'online';

const SETTLED_BY: Record<FinishedWork['outcome'], Settlement> = { update: 'update', dropout: 'offline', rejoin: 'online' };

interface Held {
  deviceId: string;
  outcome: FinishedWork['outcome'];
  finish: number;
  release: () => void;
}

/**
 * Async mode's simulated clock, a discrete-event queue. Devices train for real, one after
 * another on this machine, but their work goes out in the order it would finish on the fleet:
 * a device sent off at simulated time t finishes at t + download + training time x its
 * profile's speed + upload, or drops out at its dispatch's deadline (silent until then) and
 * comes straight back. A finish is released only when every device in flight has finished
 * training here (so no earlier finish can still appear) and the coordinator has dealt with the
 * previous one and gone idle (so the devices it sends off in reply start at the right time and
 * who is online never depends on message timing). Ties go to the smaller device id.
 */
export class SimScheduler {
  /** The finish time of the latest released work (simulated ms). */
  now: number;
  /** Dropouts released since the last `takeDropped()`. */
  private dropped = 0;
  private readonly startedAt = new Map<string, { at: number; downBytes: number }>();
  private readonly held = new Map<string, Held>();
  /** Released work the coordinator has not dealt with yet. */
  private waiting: { deviceId: string; settlement: Settlement } | null = null;
  private coordinatorIdle = false;

  /**
   * `clock` is the fleet's one simulated clock, the one the coordinator and the devices read
   * (deadlines, who is online). It reaches `now` only once the coordinator has dealt with the
   * released work, so that a look at its deadlines before the work arrives cannot see the
   * future and act on it in a different order.
   */
  constructor(
    private readonly profileOf: (deviceId: string) => DeviceProfile,
    private readonly clock: ManualClock,
  ) {
    this.now = clock.now();
  }

  /** The time the coordinator has caught up with: `now` once it dealt with the released work. */
  get settledNow(): number {
    return this.clock.now();
  }

  /** The coordinator sent these devices off now; each downloads `downBytes`. */
  dispatched(deviceIds: readonly string[], downBytes: number): void {
    for (const id of deviceIds) this.startedAt.set(id, { at: this.clock.now(), downBytes });
  }

  /** A device's gate: resolves when the fleet's clock reaches its finish. */
  finished(deviceId: string, work: FinishedWork, trainMs: number): Promise<void> {
    const start = this.startedAt.get(deviceId) ?? { at: this.now, downBytes: 0 };
    this.startedAt.set(deviceId, start);
    const profile = this.profileOf(deviceId);
    const finish = {
      update: () => start.at + simulatedFinishMs(profile, { downBytes: start.downBytes, trainMs, upBytes: work.bytes }),
      dropout: () => work.round.deadline,
      rejoin: () => start.at,
    }[work.outcome]();
    return new Promise((release) => {
      this.held.set(deviceId, { deviceId, outcome: work.outcome, finish, release });
      this.next();
    });
  }

  /** The coordinator accepted or refused the device's update, or saw its status change. */
  settled(deviceId: string, settlement: Settlement): void {
    if (this.waiting?.deviceId === deviceId && this.waiting.settlement === settlement) {
      this.waiting = null;
      this.clock.advanceTo(this.now);
    }
  }

  /** The coordinator has nothing to do until a device reports. */
  idle(): void {
    if (this.waiting !== null) return;
    this.coordinatorIdle = true;
    this.next();
  }

  /** A device in flight that will not report (its training failed): stop waiting for it. */
  forget(deviceId: string): void {
    if (this.held.has(deviceId)) return;
    this.startedAt.delete(deviceId);
    this.next();
  }

  /** No device could be sent off: the fleet idles `ms` (nothing is in flight). */
  advance(ms: number): void {
    this.now += ms;
    this.clock.advanceTo(this.now);
  }

  takeDropped(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }

  private next(): void {
    if (this.waiting !== null || !this.coordinatorIdle || this.held.size === 0) return;
    for (const id of this.startedAt.keys()) if (!this.held.has(id)) return;
    let first: Held | null = null;
    for (const h of this.held.values()) {
      if (!first || h.finish < first.finish || (h.finish === first.finish && h.deviceId < first.deviceId)) first = h;
    }
    const h = first!;
    this.held.delete(h.deviceId);
    this.startedAt.delete(h.deviceId);
    this.now = Math.max(this.now, h.finish);
    // A dropped device stays in flight until it asks to rejoin, at the time it dropped.
    if (h.outcome === 'dropout') {
      this.dropped += 1;
      this.startedAt.set(h.deviceId, { at: this.now, downBytes: 0 });
    }
    this.waiting = { deviceId: h.deviceId, settlement: SETTLED_BY[h.outcome] };
    this.coordinatorIdle = false;
    h.release();
  }
}
