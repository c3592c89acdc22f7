/**
 * The fedmq messages, one per topic kind, as a tagged union on `type` (DESIGN.md, Topics).
 * Every message carries the protocol version `v`.
 */
export const PROTOCOL_VERSION = 1;

export const MessageType = {
  Task: 'task',
  Global: 'global',
  GlobalDelta: 'globalDelta',
  Round: 'round',
  Update: 'update',
  Status: 'status',
  Metrics: 'metrics',
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
  model: string;
  inputShape: number[];
  numClasses: number;
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

/** Retained on `round`: who trains now, until when, and how. */
export interface RoundMessage extends TrainConfig {
  v: number;
  type: 'round';
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

export interface TrainMetrics {
  loss: number;
  accuracy: number;
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

export const DeviceState = { Online: 'online', Training: 'training', Offline: 'offline' } as const;
export type DeviceState = (typeof DeviceState)[keyof typeof DeviceState];

export interface Capabilities {
  cpus: number;
  memoryMb: number;
  backend: string;
  samples: number;
}

/** Retained on `status/{deviceId}`; the device's last will sets it `offline`. */
export interface StatusMessage {
  v: number;
  type: 'status';
  deviceId: string;
  state: DeviceState;
  capabilities?: Capabilities;
  /** Unix epoch milliseconds when the device sent it. */
  ts: number;
}

/** Retained on `metrics`: the summary of the last closed round. */
export interface MetricsMessage {
  v: number;
  type: 'metrics';
  round: number;
  accuracy: number;
  loss: number;
  participants: number;
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  trainMs: number;
  aggregateMs: number;
  wallMs: number;
}

export type Message =
  | TaskMessage
  | GlobalMessage
  | GlobalDeltaMessage
  | RoundMessage
  | UpdateMessage
  | StatusMessage
  | MetricsMessage;

/** Omit `v` and `type`: what callers fill in; the builders add the rest. */
export type Body<M extends Message> = Omit<M, 'v' | 'type'>;
