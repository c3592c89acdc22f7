import { encodeMessage, type ManualClock } from '../protocol/index.js';
import type { Coordinator } from '../aggregator/index.js';
import type { AgentDeps, FinishedWork } from '../device-agent/index.js';
import type { DeviceProfile } from './profiles.js';
import { OrderedRelease } from './orderedRelease.js';
import { SimScheduler } from './scheduler.js';
import { SimClock, type SimulatedRound } from './simClock.js';

/**
 * How a simulated fleet's time runs: the one place where sync and async simulations differ.
 * Both move the same simulated clock, which the coordinator and every device read; they differ
 * in what moves it and in when a device's finished work may go out (its `gate`).
 */
export interface FleetTiming {
  /** Listens to the coordinator's rounds, updates and statuses. */
  attach(coordinator: Coordinator): void;
  /** The gate `deviceId`'s agent awaits before its work for a round goes out. */
  gate(deviceId: string): NonNullable<AgentDeps['gate']>;
  /** A device's training took `ms` of simulated time (before its profile's speed). */
  trained(deviceId: string, ms: number): void;
  /** A device's training failed: it will not report. */
  failed(deviceId: string): void;
  /** A device's work for a round was published, withheld or skipped: the next may go. */
  finished(deviceId: string): void;
  /** A chosen device dropped out of `round`. */
  droppedOut(deviceId: string, round: number): void;
  /** No device could be chosen: the fleet idles `ms`. */
  idle(ms: number): void;
  /** What the simulated clock says of the round just closed. */
  closeRound(report: Parameters<SimClock['closeRound']>[0]): SimulatedRound;
}

/**
 * Sync rounds: the clock moves at each round's close (and to its deadline when only stragglers
 * are left); updates go out in the round's participant order when several threads train
 * (reproducible sums); a straggler's update is withheld (`'late'`).
 */
export function syncTiming(clock: ManualClock, profiles: ReadonlyMap<string, DeviceProfile>, parallel: boolean): FleetTiming {
  const time = new SimClock(profiles, clock);
  const ordered = parallel ? new OrderedRelease() : null;
  // What each participant of the open round downloads: the round message, and the global's step
  // or, for a device that missed versions, what its catch-up sent instead.
  let roundBytes = 0;
  let stepBytes = 0;
  const caughtUp = new Map<string, number>();
  const downBytes = (id: string): number => roundBytes + (caughtUp.get(id) ?? stepBytes);
  return {
    attach(coordinator) {
      coordinator.on('roundStarted', (m) => {
        roundBytes = encodeMessage(m).byteLength;
        stepBytes = coordinator.downloadBytes;
        caughtUp.clear();
        time.roundStarted(m);
        ordered?.roundStarted(m.participants);
      });
      coordinator.on('catchUpSent', (c) => caughtUp.set(c.deviceId, (caughtUp.get(c.deviceId) ?? 0) + c.bytes));
      coordinator.on('updateAccepted', (u) => time.accepted(u.deviceId, u.bytes));
    },
    gate: (id) => async (work: FinishedWork) => {
      if (work.outcome === 'update' && time.late(id, work.round, downBytes(id), work.bytes)) return 'late';
      if (ordered) await (work.outcome === 'update' ? ordered.turn(id) : ordered.finished(id));
    },
    trained: (id, ms) => time.trained(id, ms),
    failed(id) {
      time.failed(id);
      ordered?.finished(id);
    },
    finished: (id) => ordered?.finished(id),
    droppedOut: (id, round) => time.droppedOut(id, round),
    idle: (ms) => clock.advance(ms),
    closeRound: (report) => time.closeRound(report),
  };
}

/** Async mode: a discrete-event queue releases each device's work at its simulated finish (scheduler.ts). */
export function asyncTiming(clock: ManualClock, profileOf: (deviceId: string) => DeviceProfile): FleetTiming {
  const scheduler = new SimScheduler(profileOf, clock);
  const trainMs = new Map<string, number>();
  let closedAt = scheduler.now;
  return {
    attach(coordinator) {
      coordinator.on('roundStarted', (m) => scheduler.dispatched(m.participants, coordinator.downloadBytes));
      coordinator.on('idle', () => scheduler.idle());
      coordinator.on('updateAccepted', (u) => scheduler.settled(u.deviceId, 'update'));
      coordinator.on('updateRejected', (u) => scheduler.settled(u.deviceId, 'update'));
      // Simulated devices never decline work (no train-when policy): busy is online here.
      coordinator.on('deviceStatus', (d) => d.state !== 'training' && scheduler.settled(d.deviceId, d.state === 'busy' ? 'online' : d.state));
    },
    gate: (id) => (work: FinishedWork) => scheduler.finished(id, work, trainMs.get(id) ?? 0),
    trained: (id, ms) => trainMs.set(id, ms),
    failed: (id) => scheduler.forget(id),
    finished: () => undefined,
    droppedOut: () => undefined,
    idle: (ms) => scheduler.advance(ms),
    closeRound() {
      const simMs = Math.round((scheduler.now - closedAt) * 10) / 10;
      closedAt = scheduler.now;
      return { simMs, dropped: scheduler.takeDropped(), simLate: 0 };
    },
  };
}
