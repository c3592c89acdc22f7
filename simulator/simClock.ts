import type { RoundReport } from '../aggregator/index.js';
import type { ManualClock, RoundMessage } from '../protocol/index.js';
import { simulatedFinishMs, type DeviceProfile } from './profiles.js';

/** This machine: measured training time, free and instant links (when no `--profiles`). */
export const LOCAL_PROFILE: DeviceProfile = { name: 'local', speed: 1, uplinkBps: Infinity, downlinkBps: Infinity, latencyMs: 0, dropout: 0 };

/** What the simulated clock says of one round. */
export interface SimulatedRound {
  /** Simulated time since the last round closed: any wait for devices, then the round itself. */
  simMs: number;
  /** Participants that dropped out (their profile's dropout). */
  dropped: number;
  /** Participants whose simulated finish fell after the deadline: their updates were cut. */
  simLate: number;
}

/**
 * Sync rounds on the fleet's simulated clock. The devices of one simulation share this
 * machine's cores, so real wall time says little of a fleet; here a participant finishes at
 * download + training time x its profile's speed + upload, counted from the round's
 * announcement. One that would finish after the round's deadline is a straggler: its update is
 * cut (`late`). The clock (the one the coordinator and the devices read) then moves:
 * - to the deadline, as soon as every participant has reported, been cut, failed or dropped
 *   out and some never will report in time: nothing can happen before it, so the coordinator
 *   closes the round by its deadline without anyone waiting for it in real time;
 * - at the close, to the slowest accepted participant's finish, or the deadline when someone
 *   never reported.
 */
export class SimClock {
  private readonly trainMs = new Map<string, number>();
  private readonly upBytes = new Map<string, number>();
  private readonly dropped = new Map<number, number>();
  private readonly stragglers = new Map<number, Set<string>>();
  /** The open round, and who of its participants has settled (reported, been cut, failed, dropped out). */
  private open: { message: RoundMessage; startedAt: number; settled: Set<string>; missing: number } | null = null;
  /** When the last round closed. */
  private closedAt: number;

  constructor(
    private readonly profiles: ReadonlyMap<string, DeviceProfile>,
    readonly clock: ManualClock,
  ) {
    this.closedAt = clock.now();
  }

  profile(deviceId: string): DeviceProfile {
    return this.profiles.get(deviceId) ?? LOCAL_PROFILE;
  }

  /** A device's training time; its latest is the one of the round it reports in. */
  trained(deviceId: string, ms: number): void {
    this.trainMs.set(deviceId, ms);
  }

  /** The simulated training time of the device's latest job (0 before its first). */
  trainedMs(deviceId: string): number {
    return this.trainMs.get(deviceId) ?? 0;
  }

  /** The coordinator announced a round now. */
  roundStarted(message: RoundMessage): void {
    const startedAt = message.issuedAt ?? this.clock.now();
    this.clock.advanceTo(startedAt);
    this.open = { message, startedAt, settled: new Set(), missing: 0 };
  }

  accepted(deviceId: string, bytes: number): void {
    this.upBytes.set(deviceId, bytes);
    this.settle(deviceId, false);
  }

  /** Keyed by round: a device may hear of its round before the simulator does. */
  droppedOut(deviceId: string, round: number): void {
    this.dropped.set(round, (this.dropped.get(round) ?? 0) + 1);
    this.settle(deviceId, false);
  }

  /** The device's training failed: it will not report this round. */
  failed(deviceId: string): void {
    this.settle(deviceId, true);
  }

  /**
   * The device's update for `round` is ready (`downBytes` to fetch the global and the round,
   * `upBytes` to send): true, and it counts as a straggler of that round, when its simulated
   * finish falls after the round's deadline.
   */
  late(deviceId: string, round: RoundMessage, downBytes: number, upBytes: number): boolean {
    const finish = simulatedFinishMs(this.profile(deviceId), { downBytes, trainMs: this.trainedMs(deviceId), upBytes });
    if (finish <= round.deadline - (round.issuedAt ?? this.clock.now())) return false;
    this.stragglers.set(round.round, (this.stragglers.get(round.round) ?? new Set<string>()).add(deviceId));
    this.settle(deviceId, true);
    return true;
  }

  /** Closes the round on the simulated clock; a wait for devices before it counts in its time. */
  closeRound(r: RoundReport): SimulatedRound {
    // bytesDown counts the global (or its delta) and the round message once per participant.
    const downBytes = r.participants > 0 ? r.bytesDown / r.participants : 0;
    let slowest = 0;
    for (const [id, upBytes] of this.upBytes) {
      slowest = Math.max(slowest, simulatedFinishMs(this.profile(id), { downBytes, trainMs: this.trainedMs(id), upBytes }));
    }
    const startedAt = this.open?.startedAt ?? this.clock.now();
    const timeout = this.open ? this.open.message.deadline - startedAt : 0;
    const end = startedAt + (r.missing.length > 0 ? timeout : Math.min(slowest, timeout));
    this.clock.advanceTo(end);
    const simMs = this.clock.now() - this.closedAt;
    this.closedAt = this.clock.now();
    this.open = null;
    const dropped = this.dropped.get(r.round) ?? 0;
    this.dropped.delete(r.round);
    const simLate = this.stragglers.get(r.round)?.size ?? 0;
    this.stragglers.delete(r.round);
    this.upBytes.clear();
    return { simMs: Math.round(simMs * 10) / 10, dropped, simLate };
  }

  /** Once every participant has settled and someone will not report in time, the deadline is next. */
  private settle(deviceId: string, missing: boolean): void {
    const o = this.open;
    if (!o || !o.message.participants.includes(deviceId) || o.settled.has(deviceId)) return;
    o.settled.add(deviceId);
    if (missing) o.missing += 1;
    if (o.missing > 0 && o.settled.size === o.message.participants.length) this.clock.advanceTo(o.message.deadline);
  }
}
