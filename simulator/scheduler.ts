import type { FinishedWork } from '../device-agent/index.js';
import { simulatedFinishMs, type DeviceProfile } from './profiles.js';

interface Held {
  deviceId: string;
  finish: number;
  release: () => void;
}

/**
 * Async mode's simulated clock, a discrete-event queue. Devices train for real, one after
 * another on this machine, but their work goes out in the order it would finish on the fleet:
 * a device sent off at simulated time t finishes at t + download + training time x its
 * profile's speed + upload, or drops out at t + the round timeout. A finish is released only
 * when every device in flight has finished training here (so no earlier finish can still
 * appear) and the coordinator has dealt with the previous one and gone idle (so the devices it
 * sends off in reply start at the right time). Ties go to the smaller device id.
 */
export class SimScheduler {
  /** Simulated ms since the first dispatch. */
  now = 0;
  /** Dropouts released since the last `takeDropped()`. */
  private dropped = 0;
  private readonly startedAt = new Map<string, { at: number; downBytes: number }>();
  private readonly held = new Map<string, Held>();
  /** The device whose released work the coordinator has not dealt with yet. */
  private waitingFor: string | null = null;
  private coordinatorIdle = false;

  constructor(
    private readonly profileOf: (deviceId: string) => DeviceProfile,
    private readonly roundTimeoutMs: number,
  ) {}

  /** The coordinator sent these devices off now; each downloads `downBytes`. */
  dispatched(deviceIds: readonly string[], downBytes: number): void {
    for (const id of deviceIds) this.startedAt.set(id, { at: this.now, downBytes });
  }

  /** A device's gate: resolves when the fleet's clock reaches its finish. */
  finished(deviceId: string, work: FinishedWork, trainMs: number): Promise<void> {
    const start = this.startedAt.get(deviceId) ?? { at: this.now, downBytes: 0 };
    this.startedAt.set(deviceId, start);
    const finish = work.outcome === 'dropout'
      ? start.at + this.roundTimeoutMs
      : start.at + simulatedFinishMs(this.profileOf(deviceId), { downBytes: start.downBytes, trainMs, upBytes: work.bytes });
    return new Promise((release) => {
      this.held.set(deviceId, { deviceId, finish, release: () => (work.outcome === 'dropout' && (this.dropped += 1), release()) });
      this.next();
    });
  }

  /** The coordinator accepted or refused the device's update, or saw it go offline. */
  settled(deviceId: string): void {
    if (this.waitingFor === deviceId) this.waitingFor = null;
  }

  /** The coordinator has nothing to do until a device reports. */
  idle(): void {
    if (this.waitingFor !== null) return;
    this.coordinatorIdle = true;
    this.next();
  }

  /** A device in flight that will not report (its training failed): stop waiting for it. */
  forget(deviceId: string): void {
    if (this.held.has(deviceId)) return;
    this.startedAt.delete(deviceId);
    this.next();
  }

  takeDropped(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }

  private next(): void {
    if (this.waitingFor !== null || !this.coordinatorIdle || this.held.size === 0) return;
    for (const id of this.startedAt.keys()) if (!this.held.has(id)) return;
    let first: Held | null = null;
    for (const h of this.held.values()) {
      if (!first || h.finish < first.finish || (h.finish === first.finish && h.deviceId < first.deviceId)) first = h;
    }
    const h = first!;
    this.held.delete(h.deviceId);
    this.startedAt.delete(h.deviceId);
    this.now = Math.max(this.now, h.finish);
    this.waitingFor = h.deviceId;
    this.coordinatorIdle = false;
    h.release();
  }
}
