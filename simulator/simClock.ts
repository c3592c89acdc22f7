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
  /** Participants whose simulated finish fell after the deadline: their updates were cut. */
  simLate: number;
}

/**
 * The fleet's simulated clock (sync mode). The devices of one simulation share this machine's
 * cores, so real wall time says little of a fleet; here a participant finishes at download +
 * measured training ms x its profile's speed + upload. One that would finish after the deadline is a
 * straggler: its update is cut (`late`). A round lasts as long as its slowest accepted
 * participant, or until the deadline when someone never reported (a dropout or a straggler).
 */
export class SimClock {
  private readonly trainMs = new Map<string, number>();
  private readonly upBytes = new Map<string, number>();
  private readonly dropped = new Map<number, number>();
  private readonly stragglers = new Map<number, Set<string>>();
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

  /**
   * The device's update for `round` is ready (`downBytes` to fetch the global and the round,
   * `upBytes` to send): true, and it counts as a straggler of that round, when its simulated
   * finish falls after the deadline.
   */
  late(deviceId: string, round: number, downBytes: number, upBytes: number): boolean {
    const finish = simulatedFinishMs(this.profile(deviceId), { downBytes, trainMs: this.trainedMs(deviceId), upBytes });
    if (finish <= this.roundTimeoutMs) return false;
    this.stragglers.set(round, (this.stragglers.get(round) ?? new Set<string>()).add(deviceId));
    return true;
  }

  /** Whether the device was found a straggler of `round`. */
  isLate(deviceId: string, round: number): boolean {
    return this.stragglers.get(round)?.has(deviceId) ?? false;
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
    for (const [id, upBytes] of this.upBytes) {
      slowest = Math.max(slowest, simulatedFinishMs(this.profile(id), { downBytes, trainMs: this.trainedMs(id), upBytes }));
    }
    const simMs = this.waitedMs + (r.missing.length > 0 ? this.roundTimeoutMs : Math.min(slowest, this.roundTimeoutMs));
    this.waitedMs = 0;
    this.totalMs += simMs;
    const dropped = this.dropped.get(r.round) ?? 0;
    this.dropped.delete(r.round);
    const simLate = this.stragglers.get(r.round)?.size ?? 0;
    this.stragglers.delete(r.round);
    this.upBytes.clear();
    return { simMs: Math.round(simMs * 10) / 10, dropped, simLate };
  }
}
