/**
 * The fedmq messages, one per topic kind, as a tagged union on `type` (DESIGN.md, Topics).
 * Every message carries the protocol version `v`.
 */
export const PROTOCOL_VERSION = 1;

import type { Task } from './taskTypes.js';
import type { SecAggWireMessage, TaskSecAgg } from './secagg.js';

export const MessageType = {
  Task: 'task',
  Global: 'global',
  GlobalDelta: 'globalDelta',
  Round: 'round',
  Update: 'update',
  Evaluation: 'evaluation',
  Statistics: 'statistics',
  Sync: 'sync',
  CatchUp: 'catchUp',
  Status: 'status',
  Metrics: 'metrics',
  // Secure aggregation (protocol/secagg.ts): device -> aggregator on update/{id}, aggregator -> device on to/{id}.
  SecAggKeys: 'secaggKeys',
  SecAggSetup: 'secaggSetup',
  SecAggShares: 'secaggShares',
  SecAggShareDelivery: 'secaggShareDelivery',
  SecAggMasked: 'secaggMasked',
  SecAggUnmaskRequest: 'secaggUnmaskRequest',
  SecAggUnmaskResponse: 'secaggUnmaskResponse',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Local-training hyper-parameters a round asks of its participants. */
export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
}

/** Retained on `task`: what the fleet is learning. */
export interface TaskMessage {
  v: number;
  type: 'task';
  /** The task's name (`task.name`), for displays. */
  model: string;
  /** The whole task definition (protocol/task.ts): a device builds its model from it. */
  task: Task;
  /** Parameters of the task's model: the length of every weight vector and delta. */
  paramCount: number;
  codec: string;
  /** How the global travels: `f32`, `f16`, or `delta:SPEC` (see protocol/downlink.ts). */
  downlink: string;
  defaults: TrainConfig;
  /**
   * `async`: round messages are dispatches (FedBuff) and a new global comes every `buffer`
   * accepted updates; absent means `sync` (aggregators before async mode sent neither).
   */
  mode?: 'sync' | 'async';
  buffer?: number;
  /**
   * Version 0 of the global is the task's seeded initial weights (learning/task
   * `taskInitialWeights(task, seed)`, pure JS): a device with a step downlink builds it
   * itself, checks `sha256`, and catches up from it instead of downloading a full copy.
   * Absent when the first global came from elsewhere (imported weights, a checkpoint).
   */
  init?: { seed: number; sha256: string };
  /**
   * Local differential privacy (`--dp ...,local`, docs/privacy.md): every device clips its raw
   * update to L2 norm `clip` and adds N(0, (noiseMultiplier * clip)^2) to each coordinate
   * before it encodes. Absent: devices send their updates as trained.
   */
  dp?: TaskDp;
  /**
   * Secure aggregation (`--secagg`, docs/privacy.md): every training round is a SecAgg+ round;
   * a device quantizes its update with these settings and sends it masked (protocol/secagg.ts)
   * instead of an `update`. Absent: plain updates in the task's codec.
   */
  secagg?: TaskSecAgg;
}

/** What a device needs to apply local DP. */
export interface TaskDp {
  noiseMultiplier: number;
  clip: number;
}

/** Differential privacy as of a closed round (`--dp`): what the run has spent so far. */
export interface RoundPrivacy {
  /** `central`: the aggregator clips and noises the sum; `local`: each device noises its own update. */
  mode: 'central' | 'local';
  /** Epsilon spent after this round, at `delta` (local: of a device that took part in every round). */
  epsilon: number;
  delta: number;
  /** The spec's noise multiplier z. */
  noiseMultiplier: number;
  /** The clip norm of this round (adaptive clipping: it moves from round to round). */
  clip: number;
  /** Rounds accounted so far. */
  rounds: number;
  /** The budget the run stops before exceeding, when there is one. */
  budget?: number;
}

/** Retained on `global`: the model every device starts its round from. */
export interface GlobalMessage {
  v: number;
  type: 'global';
  /** Increases by one each time the aggregator publishes new weights. */
  version: number;
  /** The round that produced these weights (0 = initial). */
  round: number;
  /** Codec of `weights`: `f32` or `f16`. */
  codec: string;
  weights: Uint8Array;
  /** Hex SHA-256 of the decoded float32 weights, so a device can tell a corrupt copy. */
  sha256: string;
}

/**
 * On `global-delta` (not retained): the step from version `baseVersion` to `version`, for
 * devices that hold the base; others fetch the retained `global`.
 */
export interface GlobalDeltaMessage {
  v: number;
  type: 'globalDelta';
  version: number;
  baseVersion: number;
  round: number;
  codec: string;
  delta: Uint8Array;
  /** Hex SHA-256 of the float32 weights after applying the delta. */
  sha256: string;
}

/**
 * On `update/{id}`: a device chosen for a round holds global `have` (-1: none it can use) and
 * needs the round's. The aggregator answers on `to/{id}` with a `catchUp`.
 */
export interface SyncMessage {
  v: number;
  type: 'sync';
  deviceId: string;
  /** The round (or dispatch) the device was chosen for. */
  round: number;
  have: number;
}

/**
 * On `to/{id}`: how a device that holds version `baseVersion` gets to `version`: either the
 * chain of steps between them, each the exact bytes of the `globalDelta` message that went
 * out (applied in order, each checked by its SHA-256), when that is smaller than the model;
 * or `full`, the exact bytes of the current `global` message.
 */
export interface CatchUpMessage {
  v: number;
  type: 'catchUp';
  version: number;
  baseVersion: number;
  steps?: Uint8Array[];
  full?: Uint8Array;
}

/**
 * What a round message asks of its participants: `train` (absent means train), `evaluate` the
 * global `globalVersion` on their held-out data (an `evaluation` reply), or send `statistics`
 * of their training features (before round 1, when the task's standardisation is `fleet`).
 */
export const RoundKind = { Train: 'train', Evaluate: 'evaluate', Statistics: 'statistics' } as const;
export type RoundKind = (typeof RoundKind)[keyof typeof RoundKind];

/** Retained on `round`: who trains now, until when, and how. */
export interface RoundMessage extends TrainConfig {
  v: number;
  type: 'round';
  /** @default 'train' */
  kind?: RoundKind;
  round: number;
  /** Version of the global model the round starts from. */
  globalVersion: number;
  participants: string[];
  /** Unix epoch milliseconds, on the aggregator's clock, after which updates are refused. */
  deadline: number;
  /**
   * When the aggregator announced the round, on the same clock as `deadline`: `deadline -
   * issuedAt` is the time the round gives, whatever the reader's own clock says (a device's
   * clock may be off; a simulation runs on simulated time). Absent from older aggregators.
   */
  issuedAt?: number;
  codec: string;
  /** Seed of the round; devices derive their shuffle and rounding streams from it. */
  seed: number;
  /** FedProx's proximal coefficient for local training (0 = plain SGD). */
  mu: number;
}

/** Mean loss and the task's metrics (accuracy, f1, meanSquaredError, ...), by name. */
export interface TrainMetrics {
  loss: number;
  [metric: string]: number;
}

/** Published by one device on `update/{deviceId}`: its encoded `local - global`. */
export interface UpdateMessage {
  v: number;
  type: 'update';
  round: number;
  deviceId: string;
  numExamples: number;
  codec: string;
  delta: Uint8Array;
  metrics: TrainMetrics;
  trainMs: number;
}

/**
 * Published by one device on `update/{deviceId}`, answering an `evaluate` round: the global
 * `globalVersion` on its held-out examples. `sums` are the summed loss and confusion counts
 * (learning/task/objective.ts, EvalSums), so the fleet's metrics pool exactly; a device that
 * could not evaluate (no held-out data) answers `count` 0 and says why in `error`.
 */
export interface EvaluationMessage {
  v: number;
  type: 'evaluation';
  round: number;
  deviceId: string;
  globalVersion: number;
  count: number;
  loss: number;
  metrics: Record<string, number>;
  sums: Record<string, number>;
  error?: string;
}

/**
 * Published by one device on `update/{deviceId}`, answering a `statistics` round: per feature
 * (the task input's last dimension, after `input.scale`), the count, sum and sum of squares of
 * its training readings. Only these aggregates leave the device.
 */
export interface StatisticsMessage {
  v: number;
  type: 'statistics';
  round: number;
  deviceId: string;
  count: number[];
  sum: number[];
  sumSquares: number[];
}

/**
 * `busy`: online, but declining to train now (its `--train-when` policy: on battery, hot,
 * loaded); selection skips it until it says `online` again.
 */
export const DeviceState = { Online: 'online', Training: 'training', Busy: 'busy', Offline: 'offline' } as const;
export type DeviceState = (typeof DeviceState)[keyof typeof DeviceState];

export interface Capabilities {
  cpus: number;
  memoryMb: number;
  backend: string;
  samples: number;
}

/** What the device's OS says it can spare, as read when the status was sent; each absent when unknown. */
export interface Resources {
  /** On mains power (or charging). */
  onAc?: boolean;
  /** Battery charge, 0..100. */
  batteryPercent?: number;
  /** CPU temperature, degrees Celsius. */
  cpuTempC?: number;
  /** One-minute load average divided by the CPU count. */
  load?: number;
  /** Memory available to new work, MB. */
  freeMemMb?: number;
}

/** Retained on `status/{deviceId}`; the device's last will sets it `offline`. */
export interface StatusMessage {
  v: number;
  type: 'status';
  deviceId: string;
  state: DeviceState;
  capabilities?: Capabilities;
  resources?: Resources;
  /** Why the device is `busy` (the rule of its policy that failed, e.g. `cpu-temp<70: 74.5`). */
  reason?: string;
  /** Unix epoch milliseconds when the device sent it. */
  ts: number;
}

/** A metric's spread across the devices that evaluated: who the model serves badly. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

/** The fleet's evaluation of one global on the devices' held-out data. */
export interface FederatedMetrics {
  /** Version of the global evaluated. */
  globalVersion: number;
  /** Devices that reported held-out examples. */
  devices: number;
  /** Held-out examples in all. */
  count: number;
  /** Mean loss over every device's held-out examples (example-weighted). */
  loss: number;
  /** The task's metrics over every device's held-out examples pooled. */
  metrics: Record<string, number>;
  /** Per-device loss and metrics: min, median, max across devices. */
  spread: Record<string, Spread>;
}

/** Retained on `metrics`: the summary of the last closed round. */
export interface MetricsMessage {
  v: number;
  type: 'metrics';
  round: number;
  /** The global's accuracy: central evaluation's when there is one, else the fleet's; NaN for a task without accuracy. */
  accuracy: number;
  /** The global's mean loss, from the same evaluation as `accuracy`; NaN when nothing evaluated it. */
  loss: number;
  /** Central evaluation's metrics of the task, when the aggregator evaluates on a file. */
  central?: Record<string, number>;
  /** Federated evaluation, when the round asked devices to evaluate. */
  federated?: FederatedMetrics;
  participants: number;
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  trainMs: number;
  aggregateMs: number;
  wallMs: number;
  /** Differential privacy spent so far, when the run has `--dp`. */
  privacy?: RoundPrivacy;
}

export type Message =
  | TaskMessage
  | GlobalMessage
  | GlobalDeltaMessage
  | RoundMessage
  | UpdateMessage
  | EvaluationMessage
  | StatisticsMessage
  | SyncMessage
  | CatchUpMessage
  | StatusMessage
  | MetricsMessage
  | SecAggWireMessage;

/** Omit `v` and `type`: what callers fill in; the builders add the rest. */
export type Body<M extends Message> = Omit<M, 'v' | 'type'>;
