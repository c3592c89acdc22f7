import type { RoundReport } from '../aggregator/index.js';
import { simulatedFinishMs, type DeviceProfile } from './profiles.js';

/** This machine: measured training time, free and instant links (when no `--profiles`). */
export const LOCAL_PROFILE: DeviceProfile = { name: 'local', speed: 1, uplinkBps: Infinity, downlinkBps: Infinity, latencyMs: 0, dropout: 0 };

/** What the simulated clock says of one round. */
export interface SimulatedRound {
  /** Simulated time from the announcement to the close: the slowest accepted participant, or the deadline. */
  simMs: number;
  /** Participants that dropped out (their profile's dropout). */
  dropped: number;
  /** Accepted participants whose simulated finish fell after the deadline. */
  simLate: number;
}

/**
 * The fleet's simulated clock. Devices of one process train one after another, so real wall
 * time says nothing of a fleet; here a participant finishes at download + measured training
 * ms x its profile's speed + upload, and a round lasts as long as its slowest accepted
 * participant, or until the deadline when someone never reported (a dropout waits it out).
 */
export class SimClock {
  private readonly trainMs = new Map<string, number>();
  private readonly upBytes = new Map<string, number>();
  private readonly dropped = new Map<number, number>();
  /** Simulated time spent waiting for available devices since the last round closed. */
  private waitedMs = 0;
  totalMs = 0;

  constructor(
    private readonly profiles: ReadonlyMap<string, DeviceProfile>,
    private readonly roundTimeoutMs: number,
  ) {}

  profile(deviceId: string): DeviceProfile {
    return this.profiles.get(deviceId) ?? LOCAL_PROFILE;
  }

  /** A device's measured training time; its latest is the one of the round it reports in. */
  trained(deviceId: string, ms: number): void {
    this.trainMs.set(deviceId, ms);
  }

  /** The simulated training time of the device's latest job (0 before its first). */
  trainedMs(deviceId: string): number {
    return this.trainMs.get(deviceId) ?? 0;
  }

  accepted(deviceId: string, bytes: number): void {
    this.upBytes.set(deviceId, bytes);
  }

  /** Keyed by round: a device may hear of its round before the simulator does. */
  droppedOut(round: number): void {
    this.dropped.set(round, (this.dropped.get(round) ?? 0) + 1);
  }

  /** Simulated time now: the closed rounds and any wait since. */
  get now(): number {
    return this.totalMs + this.waitedMs;
  }

  /** Too few devices could be chosen: the fleet idles `ms` before the next try. */
  waited(ms: number): void {
    this.waitedMs += ms;
  }

  /** Closes the round on the simulated clock (a wait before it counts in its time). */
  closeRound(r: RoundReport): SimulatedRound {
    // bytesDown counts the global (or its delta) and the round message once per participant.
    const downBytes = r.participants > 0 ? r.bytesDown / r.participants : 0;
    let slowest = 0;
    let simLate = 0;
    for (const [id, upBytes] of this.upBytes) {
      const finish = simulatedFinishMs(this.profile(id), { downBytes, trainMs: this.trainMs.get(id) ?? 0, upBytes });
      if (finish > this.roundTimeoutMs) simLate += 1;
      slowest = Math.max(slowest, finish);
    }
    const simMs = this.waitedMs + (r.missing.length > 0 ? this.roundTimeoutMs : Math.min(slowest, this.roundTimeoutMs));
    this.waitedMs = 0;
    this.totalMs += simMs;
    const dropped = this.dropped.get(r.round) ?? 0;
    this.dropped.delete(r.round);
    this.upBytes.clear();
    return { simMs: Math.round(simMs * 10) / 10, dropped, simLate };
  }
}
