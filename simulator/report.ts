import os from 'node:os';
import type { Body, MetricsMessage } from '../protocol/index.js';
import type { CoordinatorEvents, RoundReport, coordinatorSpecs } from '../aggregator/index.js';
import type { SimulationSpecs } from './options.js';

/**
 * One round as the run report records it (DESIGN.md, Run report): the aggregator's
 * `metrics` message (bytesUp = update payload bytes devices really published; bytesDown =
 * global and round bytes times the participants that download them; trainMs = sum of the
 * participants' local training times) plus what only the simulator measures.
 */
export interface ReportRound extends Body<MetricsMessage> {
  evalMs: number;
  closedBy: RoundReport['closedBy'];
  heapUsedMb: number;
  rssMb: number;
  /** Simulated duration of the round (simulator only): the slowest accepted device's download + training x speed + upload, or the deadline when some never reported. */
  simMs?: number;
  /** Participants that dropped out (their profile's dropout). */
  dropped?: number;
  /** Participants whose simulated finish fell after the deadline: their updates were cut (sync mode). */
  simLate?: number;
  /** Async mode: versions between each accepted update's base global and the one it joined. */
  staleness?: RoundReport['staleness'];
}

export interface RunReport {
  /** Every setting used, specs as strings: a simulation's, or an aggregator's with what it knows of the fleet. */
  config: ReturnType<typeof coordinatorSpecs> & Partial<SimulationSpecs>;
  environment: { backend: string; node: string; cpus: number; platform: string; arch: string; memoryMb: number };
  /** The fleet as it ran: devices asked for, live MQTT connections, the simulator's peak RSS. */
  fleet?: { devices: number; connected: number; attackers: number; peakRssMb: number; profiles?: Record<string, number> };
  /** Wall time per phase: set-up stages, then the rounds' training, aggregation, evaluation and the rest. */
  phases?: Record<string, number>;
  rounds: ReportRound[];
  /**
   * `simWallMs`: the rounds' simulated durations summed (simulator only). `target`: with a
   * target accuracy, the first round that reached it, and the wall and simulated time until then.
   */
  final: {
    accuracy: number; rounds: number; wallMs: number; bytesUpTotal: number; bytesDownTotal: number; simWallMs?: number;
    target?: { accuracy: number; reached: boolean; round?: number; wallMs?: number; simWallMs?: number };
    /** `--dp`: the privacy spent by the whole run (the last round's), and why it stopped early, if it did. */
    privacy?: NonNullable<ReportRound['privacy']> & { stopped?: PrivacyStop };
  };
}

/** A `--dp` run that stopped before round `round`: over its budget, or too few participants for adaptive clipping. */
export type PrivacyStop = CoordinatorEvents['privacyStopped'][0];

export function reportRound(r: RoundReport): ReportRound {
  const mem = process.memoryUsage();
  return {
    round: r.round, accuracy: r.accuracy, loss: r.loss, participants: r.participants, accepted: r.accepted,
    rejected: r.rejected, rejectedByReason: r.rejectedByReason, bytesUp: r.bytesUp, bytesDown: r.bytesDown,
    trainMs: round1(r.trainMs), aggregateMs: round1(r.aggregateMs), evalMs: round1(r.evalMs), wallMs: round1(r.wallMs),
    closedBy: r.closedBy, heapUsedMb: round1(mem.heapUsed / 2 ** 20), rssMb: round1(mem.rss / 2 ** 20),
    ...(r.staleness && { staleness: r.staleness }),
    ...(r.privacy && { privacy: r.privacy }),
    ...(r.central && { central: r.central }), ...(r.federated && { federated: r.federated }),
  };
}

export function buildReport(
  config: RunReport['config'],
  backend: string,
  rounds: ReportRound[],
  wallMs: number,
  extra: Pick<RunReport, 'fleet' | 'phases'> & { privacyStop?: PrivacyStop } = {},
): RunReport {
  const last = rounds[rounds.length - 1];
  const sum = (k: 'trainMs' | 'aggregateMs' | 'evalMs' | 'wallMs'): number => round1(rounds.reduce((s, r) => s + r[k], 0));
  const phases = extra.phases && {
    ...extra.phases,
    trainMs: sum('trainMs'), aggregateMs: sum('aggregateMs'), evalMs: sum('evalMs'),
    otherRoundMs: round1(sum('wallMs') - sum('trainMs') - sum('aggregateMs') - sum('evalMs')),
  };
  return {
    config,
    environment: { backend, node: process.version, cpus: os.cpus().length, platform: process.platform, arch: process.arch, memoryMb: Math.round(os.totalmem() / 2 ** 20) },
    ...(extra.fleet && { fleet: extra.fleet }),
    ...(phases && { phases }),
    rounds,
    final: {
      accuracy: last?.accuracy ?? 0,
      rounds: rounds.length,
      wallMs: round1(wallMs),
      bytesUpTotal: rounds.reduce((s, r) => s + r.bytesUp, 0),
      bytesDownTotal: rounds.reduce((s, r) => s + r.bytesDown, 0),
      ...(rounds.some((r) => r.simMs !== undefined) && { simWallMs: round1(rounds.reduce((s, r) => s + (r.simMs ?? 0), 0)) }),
      ...(config.targetAccuracy !== undefined && { target: timeToTarget(rounds, config.targetAccuracy) }),
      ...(last?.privacy && { privacy: { ...last.privacy, ...(extra.privacyStop && { stopped: extra.privacyStop }) } }),
    },
  };
}

/** The first round at `accuracy` and the time until it closed, wall and simulated. */
function timeToTarget(rounds: ReportRound[], accuracy: number): NonNullable<RunReport['final']['target']> {
  const i = rounds.findIndex((r) => r.accuracy >= accuracy);
  if (i < 0) return { accuracy, reached: false };
  const until = rounds.slice(0, i + 1);
  const simulated = until.some((r) => r.simMs !== undefined);
  return {
    accuracy, reached: true, round: rounds[i]!.round, wallMs: round1(until.reduce((s, r) => s + r.wallMs, 0)),
    ...(simulated && { simWallMs: round1(until.reduce((s, r) => s + (r.simMs ?? 0), 0)) }),
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
