import type { CatchUpSent } from './catchUp.js';
import type { MqttClient } from 'mqtt';
import type { Clock, MessageSealer, MetricsMessage, RejectReason, RoundMessage, Task } from '../protocol/index.js';
import type { DeviceRecord } from './registry.js';
import type { KeptGlobal } from './round.js';
import type { Criterion } from './selection.js';
import type { InfluenceRound, Strategy } from './strategies/index.js';
import type { GaussianSource } from '../privacy/index.js';
import type { PrivacyRefusal } from './privacy.js';
import type { SecureRoundSummary } from './secureRound.js';

/*
 * What a coordinator (sync or async) promises: the events it emits, what one closed round
 * reports, and what it needs to run.
 */

/**
 * Mean loss and the task's metrics (by name: accuracy, f1, meanSquaredError, ...) of a global
 * model on held-out data, under `task` as the fleet runs it now (with its fleet statistics once
 * they are in).
 */
export type Evaluator = (weights: Float32Array, task: Task) => Promise<{ loss: number; metrics: Record<string, number> }>;

/** What one closed round did; the simulator's run report is a list of these. */
export interface RoundReport extends Omit<MetricsMessage, 'v' | 'type'> {
  evalMs: number;
  trainMsMax: number;
  /** Why the round stopped collecting. */
  closedBy: 'complete' | 'deadline' | 'dropouts' | 'stopped';
  /** Participants that did not report. */
  missing: string[];
  /** False when the global was kept: fewer than `quorum` updates, no step, or a step that was not finite (`kept` says which). */
  aggregated: boolean;
  /** Why the global was kept, when `aggregated` is false. */
  kept?: KeptGlobal;
  /** The default influence bound (`influence: 'adaptive'`): the L2 bound of this round and how many updates it scaled down. */
  influence?: InfluenceRound;
  /** Async mode: versions between each accepted update's base global and the one it joined. */
  staleness?: { mean: number; max: number };
}

export type CoordinatorEvents = {
  /** Waiting for devices before round 1; fired on every change of the online count. */
  waiting: [online: number, needed: number];
  /** A training round (sync) or dispatch (async) was announced. */
  roundStarted: [round: RoundMessage];
  /**
   * A round message of another kind was announced: `statistics` (before round 1, when the task
   * standardises with the fleet's statistics) or `evaluate` (after a round's new global).
   */
  phaseStarted: [round: RoundMessage];
  /** An evaluation or statistics reply was left out: from a device not asked, for another round or version, twice, late, or malformed. */
  replyRefused: [info: { round: number; kind: 'evaluate' | 'statistics'; deviceId: string; detail: string }];
  /** The fleet's feature statistics arrived (from `devices` devices) and the task was published again with them. */
  statisticsGathered: [info: { devices: number; count: number; mean: number[]; std: number[] }];
  /** A device that missed versions (or held none) was sent their chain of steps or the full global on `to/{id}`. */
  catchUpSent: [info: CatchUpSent];
  updateAccepted: [info: { round: number; deviceId: string; bytes: number }];
  updateRejected: [info: { round: number; deviceId: string; reason: RejectReason; detail: string }];
  roundClosed: [report: RoundReport];
  deviceStatus: [device: DeviceRecord];
  /** A non-update message on a fleet topic could not be decoded. */
  invalidMessage: [info: { topic: string; error: Error }];
  /** Async mode: every open assignment is out; nothing to do until a device reports or leaves. */
  idle: [];
  /** Fewer devices than needed pass selection (the criterion, or all busy): looking again at `retryAt` (a second on). */
  starved: [eligible: number, needed: number, retryAt: number];
  /**
   * The run goes on from a checkpoint: the first new round is `round + 1`. `restoredState`
   * names the state arrays put back into this run's `strategy` (empty when it keeps none, or
   * when the checkpoint was saved under another strategy, `savedStrategy`).
   */
  /**
   * The strategy's step was not finite everywhere (an update of huge values, an overflow): it
   * was thrown away, the global and the strategy's state kept; the report says `aggregated: false`.
   */
  aggregateRefused: [info: { round: number; reason: KeptGlobal['reason']; detail: string }];
  /**
   * The MQTT client connected again (after the broker or the network came back): the
   * subscriptions were renewed if the broker had lost them, and the retained state (task,
   * global, the open round, the last metrics) published again on `topics`.
   */
  republished: [info: { sessionPresent: boolean; resubscribed: boolean; topics: string[] }];
  /**
   * `--dp`: round `round` was not run, and the run ends, because it would take epsilon above
   * the budget (`budget`) or had too few participants for adaptive clipping (`participants`).
   */
  privacyStopped: [info: PrivacyRefusal & { round: number; epsilon: number }];
  /** `--secagg`: a secure round ended: its (n, k, t), survivors, dropouts, or why the sum could not be recovered. */
  secureRound: [info: SecureRoundSummary];
  resumed: [info: { file: string; round: number; version: number; strategy: string; restoredState: string[]; savedStrategy: string | null }];
};

export interface CoordinatorDeps {
  client: MqttClient;
  /** Central evaluation: required when the options' `evaluate` lists `central`. */
  evaluate?: Evaluator;
  strategy?: Strategy;
  /** Starting weights (e.g. a checkpoint); by default the model's seeded initialisation. */
  initialWeights?: Float32Array;
  /**
   * Where time comes from: round and assignment deadlines, the wait for devices, retries. A
   * simulator passes its simulated clock, so the deadlines the fleet is sent are the ones it
   * runs on. @default systemClock
   */
  clock?: Clock;
  /** A rule a device must pass to be chosen (battery, link, a simulated fleet's online windows). */
  criterion?: Criterion;
  /**
   * `--dp`: where the aggregator's DP noise comes from. @default secureGaussian() (the OS
   * CSPRNG); a seeded source is for tests only (privacy/dp/gaussian.ts).
   */
  dpNoise?: GaussianSource;
  /**
   * Signs every task, global, global step and round message (protocol/signed.ts; a
   * `MessageSigner` of privacy/signing.ts), so devices started with `--trust` can verify them.
   * By default messages go out unsigned.
   */
  signer?: MessageSealer;
}
