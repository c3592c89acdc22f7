import { Encoder } from 'cbor-x';
import { DecodeError, DecodeReason } from './errors.js';
import { SIGNED_TYPE, envelopeOf } from './signed.js';
import {
  DeviceState,
  MessageType,
  PROTOCOL_VERSION,
  RoundKind,
  type Body,
  type EvaluationMessage,
  type FederatedMetrics,
  type Resources,
  type RoundPrivacy,
  type Spread,
  type StatisticsMessage,
  type SyncMessage,
  type CatchUpMessage,
  type TrainMetrics,
  type GlobalDeltaMessage,
  type GlobalMessage,
  type Message,
  type MetricsMessage,
  type RoundMessage,
  type StatusMessage,
  type TaskDp,
  type TaskMessage,
  type UpdateMessage,
} from './messages.js';
import { isValidId } from './topics.js';
import {
  PROTOCOL_SECAGG_BUILD, SECAGG_DEVICE_TYPES, secaggValidators, taskSecAgg,
  type SecAggKeysMessage, type SecAggMaskedMessage, type SecAggSetupMessage, type SecAggShareDeliveryMessage, type SecAggSharesMessage,
  type SecAggUnmaskRequestMessage, type SecAggUnmaskResponseMessage,
} from './secagg.js';
import { parseTask } from './task.js';
import { taskLayout } from './taskLayout.js';
import type { Task } from './taskTypes.js';
import * as f from './validate.js';

export {
  DEFAULT_MAX_MESSAGE_BYTES, MAX_PARTICIPANTS, MAX_EPOCHS, MAX_BATCH_SIZE, MAX_LR, MAX_MU, MAX_ROUND_MS, MAX_PARAM_COUNT,
} from './limits.js';
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LR, MAX_MU, MAX_PARAM_COUNT, MAX_PARTICIPANTS, MAX_ROUND_MS } from './limits.js';

/** Largest async buffer K a task may announce. */
export const MAX_BUFFER = 1_000_000;
/** Longest codec or downlink spec a message may carry. */
export const MAX_SPEC_LENGTH = 128;
/** Largest DP noise multiplier a message may carry (privacy/dp/dpSpec.ts refuses more). */
export const MAX_DP_NOISE_MULTIPLIER = 1000;
/** Largest DP clip norm a message may carry. */
export const MAX_DP_CLIP = 1e6;
/** Most bytes of weights a `global`, or of step a `globalDelta`, may carry: float32 of the largest model. */
export const MAX_WEIGHTS_BYTES = MAX_PARAM_COUNT * 4;

// Plain maps (no cbor-x records) so any CBOR decoder in any language reads fedmq messages;
// typed arrays travel as RFC 8746 typed-array tags.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

/** CBOR-encodes a message into a fresh buffer the caller owns. */
export function encodeMessage(message: Message): Uint8Array {
  const encoded = cbor.encode(message);
  // cbor-x may hand out a view of its reusable buffer; copy so later encodes cannot overwrite it.
  return new Uint8Array(encoded);
}

export { sha256Hex } from './hash.js';

export const build = {
  task: (b: Body<TaskMessage>): TaskMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Task, ...b }),
  global: (b: Body<GlobalMessage>): GlobalMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Global, ...b }),
  globalDelta: (b: Body<GlobalDeltaMessage>): GlobalDeltaMessage => ({ v: PROTOCOL_VERSION, type: MessageType.GlobalDelta, ...b }),
  round: (b: Omit<Body<RoundMessage>, 'mu'> & { mu?: number }): RoundMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Round, ...b, mu: b.mu ?? 0 }),
  update: (b: Body<UpdateMessage>): UpdateMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Update, ...b }),
  evaluation: (b: Body<EvaluationMessage>): EvaluationMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Evaluation, ...b }),
  statistics: (b: Body<StatisticsMessage>): StatisticsMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Statistics, ...b }),
  sync: (b: Body<SyncMessage>): SyncMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Sync, ...b }),
  catchUp: (b: Body<CatchUpMessage>): CatchUpMessage => ({ v: PROTOCOL_VERSION, type: MessageType.CatchUp, ...b }),
  status: (b: Body<StatusMessage>): StatusMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Status, ...b }),
  metrics: (b: Body<MetricsMessage>): MetricsMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Metrics, ...b }),
  ...PROTOCOL_SECAGG_BUILD,
};

type ByType = {
  task: TaskMessage;
  global: GlobalMessage;
  globalDelta: GlobalDeltaMessage;
  round: RoundMessage;
  update: UpdateMessage;
  evaluation: EvaluationMessage;
  statistics: StatisticsMessage;
  sync: SyncMessage;
  catchUp: CatchUpMessage;
  status: StatusMessage;
  metrics: MetricsMessage;
  secaggKeys: SecAggKeysMessage;
  secaggSetup: SecAggSetupMessage;
  secaggShares: SecAggSharesMessage;
  secaggShareDelivery: SecAggShareDeliveryMessage;
  secaggMasked: SecAggMaskedMessage;
  secaggUnmaskRequest: SecAggUnmaskRequestMessage;
  secaggUnmaskResponse: SecAggUnmaskResponseMessage;
};

export interface DecodeOptions {
  /** @default DEFAULT_MAX_MESSAGE_BYTES */
  maxBytes?: number;
}

/**
 * Decodes and validates a message of the expected type. Throws `DecodeError` for anything
 * too large, not CBOR, of another type or version, or with a missing or ill-typed field.
 */
export function decodeMessage<T extends MessageType>(
  expected: T | readonly T[],
  payload: Uint8Array,
  options: DecodeOptions = {},
): ByType[T] {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (payload.byteLength > maxBytes) {
    throw new DecodeError(DecodeReason.TooLarge, `message of ${payload.byteLength} bytes exceeds ${maxBytes}`);
  }
  let raw: unknown;
  try {
    raw = cbor.decode(payload);
  } catch (cause) {
    throw new DecodeError(DecodeReason.Malformed, 'payload is not valid CBOR', { cause });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new DecodeError(DecodeReason.Malformed, 'payload is not a CBOR map');
  }
  let o = raw as f.Obj;
  // A signed envelope (protocol/signed.ts): a reader that does not verify reads what it carries
  // (one level: an envelope inside an envelope is refused by its type).
  if (o.type === SIGNED_TYPE) o = innerMap(envelopeOf(o).payload);
  // One expected type, or any of a list (what a device may send on update/{id}).
  const types: readonly T[] = typeof expected === 'string' ? [expected] : expected;
  const type = types.find((t) => t === o.type);
  if (type === undefined) {
    throw new DecodeError(DecodeReason.BadType, `expected ${types.map((t) => `a "${t}"`).join(' or ')} message, got "${String(o.type)}"`);
  }
  if (o.v !== PROTOCOL_VERSION) {
    throw new DecodeError(DecodeReason.BadVersion, `protocol version ${String(o.v)} is not ${PROTOCOL_VERSION}`);
  }
  return validators[type](o) as ByType[T];
}

function innerMap(payload: Uint8Array): f.Obj {
  let raw: unknown;
  try {
    raw = cbor.decode(payload);
  } catch (cause) {
    throw new DecodeError(DecodeReason.Malformed, 'signed payload is not valid CBOR', { cause });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new DecodeError(DecodeReason.Malformed, 'signed payload is not a CBOR map');
  return raw as f.Obj;
}

/** What a device may publish on `update/{id}`. */
export const DEVICE_MESSAGE_TYPES = [MessageType.Update, MessageType.Evaluation, MessageType.Statistics, MessageType.Sync, ...SECAGG_DEVICE_TYPES] as const;

/** Most steps a `catchUp` may chain: more than any model's worth of steps an aggregator keeps. */
export const MAX_CATCHUP_STEPS = 4096;

function deviceId(o: f.Obj, field = 'deviceId'): string {
  const id = f.str(o, field, 64);
  if (!isValidId(id)) throw new DecodeError(DecodeReason.BadField, `field "${field}" is not a valid device id`);
  return id;
}

function trainConfig(o: f.Obj): { epochs: number; batchSize: number; lr: number } {
  return { epochs: f.int(o, 'epochs', 1, MAX_EPOCHS), batchSize: f.int(o, 'batchSize', 1, MAX_BATCH_SIZE), lr: f.positive(o, 'lr', MAX_LR) };
}

function participants(o: f.Obj): string[] {
  const ids = f.strArray(o, 'participants', MAX_PARTICIPANTS, 64);
  for (const id of ids) if (!isValidId(id)) throw new DecodeError(DecodeReason.BadField, 'field "participants" must list valid device ids');
  return ids;
}

/** The task definition, checked whole by `parseTask`, and the parameter count it must agree with. */
function taskAndParams(o: f.Obj): { task: Task; paramCount: number } {
  let task: Task;
  try {
    task = parseTask(f.obj(o, 'task'));
  } catch (cause) {
    if (cause instanceof DecodeError) throw cause;
    throw new DecodeError(DecodeReason.BadField, `field "task": ${(cause as Error).message}`, { cause });
  }
  const paramCount = f.int(o, 'paramCount', 1, MAX_PARAM_COUNT);
  const actual = taskLayout(task).paramCount;
  if (actual !== paramCount) throw new DecodeError(DecodeReason.BadField, `field "paramCount" is ${paramCount} but the task's model has ${actual} parameters`);
  return { task, paramCount };
}

/** Loss and metrics by name; `loss` is required. */
function trainMetrics(o: f.Obj): TrainMetrics {
  const m = f.numberRecord(o, 'metrics', 16);
  return { ...m, loss: f.num(m, 'loss') };
}

/** Most features a statistics message may carry: a task's largest input dimension. */
const MAX_FEATURES = 65_536;

/** `deadline`, and `issuedAt` when given: a round may not end before it starts nor last more than `MAX_ROUND_MS`. */
function roundTimes(o: f.Obj): { deadline: number; issuedAt?: number } {
  // Milliseconds; a simulated clock runs on fractions of one.
  const deadline = f.nonNegative(o, 'deadline');
  if (o.issuedAt === undefined) return { deadline };
  const issuedAt = f.nonNegative(o, 'issuedAt');
  if (!(issuedAt <= deadline && deadline - issuedAt <= MAX_ROUND_MS)) {
    throw new DecodeError(DecodeReason.BadField, `field "deadline" must be within ${MAX_ROUND_MS} ms after "issuedAt"`);
  }
  return { deadline, issuedAt };
}

const validators: { [K in MessageType]: (o: f.Obj) => ByType[K] } = {
  task: (o) =>
    build.task({
      model: f.str(o, 'model', 64),
      ...taskAndParams(o),
      codec: f.str(o, 'codec', MAX_SPEC_LENGTH),
      downlink: f.str(o, 'downlink', MAX_SPEC_LENGTH),
      defaults: trainConfig(f.obj(o, 'defaults')),
      ...(o.mode !== undefined && { mode: f.oneOf(o, 'mode', ['sync', 'async'] as const) }),
      ...(o.buffer !== undefined && { buffer: f.int(o, 'buffer', 1, MAX_BUFFER) }),
      ...(o.init !== undefined && { init: initialWeights(f.obj(o, 'init')) }),
      ...(o.dp !== undefined && { dp: taskDp(f.obj(o, 'dp')) }),
      ...(o.secagg !== undefined && { secagg: taskSecAgg(f.obj(o, 'secagg')) }),
    }),
  // The weights are checked (length, finiteness, sha256) when decoded against the task's
  // parameter count: see protocol/downlink.ts.
  global: (o) =>
    build.global({
      version: f.int(o, 'version'), round: f.int(o, 'round'), codec: f.str(o, 'codec', MAX_SPEC_LENGTH),
      weights: f.bytes(o, 'weights', MAX_WEIGHTS_BYTES), sha256: f.sha256(o, 'sha256'),
    }),
  globalDelta: (o) =>
    build.globalDelta({
      version: f.int(o, 'version', 1), baseVersion: f.int(o, 'baseVersion'), round: f.int(o, 'round'),
      codec: f.str(o, 'codec', MAX_SPEC_LENGTH), delta: f.bytes(o, 'delta', MAX_WEIGHTS_BYTES), sha256: f.sha256(o, 'sha256'),
    }),
  round: (o) =>
    build.round({
      ...(o.kind !== undefined && { kind: f.oneOf(o, 'kind', Object.values(RoundKind)) }),
      round: f.int(o, 'round', 1),
      globalVersion: f.int(o, 'globalVersion'),
      participants: participants(o),
      ...roundTimes(o),
      codec: f.str(o, 'codec', MAX_SPEC_LENGTH),
      seed: f.int(o, 'seed', 0, 0xffffffff),
      mu: o.mu === undefined ? 0 : f.nonNegative(o, 'mu', MAX_MU),
      ...trainConfig(o),
    }),
  update: (o) => {
    return build.update({
      round: f.int(o, 'round', 1),
      deviceId: deviceId(o),
      numExamples: f.int(o, 'numExamples', 1, 1e9),
      codec: f.str(o, 'codec', 128),
      delta: f.bytes(o, 'delta'),
      metrics: trainMetrics(o),
      trainMs: f.num(o, 'trainMs'),
    });
  },
  evaluation: (o) =>
    build.evaluation({
      round: f.int(o, 'round', 1),
      deviceId: deviceId(o),
      globalVersion: f.int(o, 'globalVersion'),
      count: f.int(o, 'count', 0, 1e9),
      loss: f.num(o, 'loss'),
      metrics: f.numberRecord(o, 'metrics', 16),
      sums: f.numberRecord(o, 'sums', 16),
      ...(o.error !== undefined && { error: f.str(o, 'error', 256) }),
    }),
  statistics: (o) => {
    const count = f.numArray(o, 'count', MAX_FEATURES);
    const sum = f.numArray(o, 'sum', MAX_FEATURES);
    const sumSquares = f.numArray(o, 'sumSquares', MAX_FEATURES);
    if (sum.length !== count.length || sumSquares.length !== count.length || count.length === 0) {
      throw new DecodeError(DecodeReason.BadField, 'fields "count", "sum" and "sumSquares" must have one entry per feature each');
    }
    if (count.some((n) => !Number.isInteger(n) || n < 0) || sumSquares.some((n) => n < 0)) {
      throw new DecodeError(DecodeReason.BadField, 'field "count" must hold integers >= 0 and "sumSquares" numbers >= 0');
    }
    return build.statistics({ round: f.int(o, 'round', 1), deviceId: deviceId(o), count, sum, sumSquares });
  },
  sync: (o) => build.sync({ deviceId: deviceId(o), round: f.int(o, 'round', 1), have: f.int(o, 'have', -1) }),
  catchUp: (o) => {
    const version = f.int(o, 'version');
    const baseVersion = f.int(o, 'baseVersion', -1);
    const hasSteps = o.steps !== undefined;
    if (hasSteps === (o.full !== undefined)) throw new DecodeError(DecodeReason.BadField, 'a catch-up carries either "steps" or "full"');
    if (!hasSteps) return build.catchUp({ version, baseVersion, full: f.bytes(o, 'full') });
    const steps = f.bytesArray(o, 'steps', MAX_CATCHUP_STEPS);
    if (steps.length !== version - baseVersion || baseVersion < 0) {
      throw new DecodeError(DecodeReason.BadField, `a catch-up from v${baseVersion} to v${version} must chain ${version - baseVersion} steps, not ${steps.length}`);
    }
    return build.catchUp({ version, baseVersion, steps });
  },
  status: (o) => {
    const caps = o.capabilities === undefined ? undefined : f.obj(o, 'capabilities');
    return build.status({
      deviceId: deviceId(o),
      state: f.oneOf(o, 'state', Object.values(DeviceState)),
      ts: f.num(o, 'ts'),
      ...(caps && {
        capabilities: {
          cpus: f.int(caps, 'cpus'),
          memoryMb: f.num(caps, 'memoryMb'),
          backend: f.str(caps, 'backend', 32),
          samples: f.int(caps, 'samples'),
        },
      }),
      ...(o.resources !== undefined && { resources: resources(f.obj(o, 'resources')) }),
      ...(o.reason !== undefined && { reason: f.str(o, 'reason', 128) }),
    });
  },
  metrics: (o) =>
    build.metrics({
      round: f.int(o, 'round'),
      accuracy: f.numOrNaN(o, 'accuracy'),
      loss: f.numOrNaN(o, 'loss'),
      ...(o.central !== undefined && { central: f.numberRecord(o, 'central', 16) }),
      ...(o.federated !== undefined && { federated: federatedMetrics(f.obj(o, 'federated')) }),
      participants: f.int(o, 'participants'),
      accepted: f.int(o, 'accepted'),
      rejected: f.int(o, 'rejected'),
      rejectedByReason: f.numberRecord(o, 'rejectedByReason'),
      bytesUp: f.num(o, 'bytesUp'),
      bytesDown: f.num(o, 'bytesDown'),
      trainMs: f.num(o, 'trainMs'),
      aggregateMs: f.num(o, 'aggregateMs'),
      wallMs: f.num(o, 'wallMs'),
      ...(o.privacy !== undefined && { privacy: roundPrivacy(f.obj(o, 'privacy')) }),
    }),
  ...secaggValidators,
};

function taskDp(o: f.Obj): TaskDp {
  return { noiseMultiplier: f.positive(o, 'noiseMultiplier', MAX_DP_NOISE_MULTIPLIER), clip: f.positive(o, 'clip', MAX_DP_CLIP) };
}

function roundPrivacy(o: f.Obj): RoundPrivacy {
  const delta = f.positive(o, 'delta', 1);
  if (delta >= 1) throw new DecodeError(DecodeReason.BadField, 'field "delta" must be in (0, 1)');
  return {
    mode: f.oneOf(o, 'mode', ['central', 'local'] as const),
    epsilon: f.nonNegative(o, 'epsilon'),
    delta,
    noiseMultiplier: f.positive(o, 'noiseMultiplier', MAX_DP_NOISE_MULTIPLIER),
    clip: f.positive(o, 'clip', MAX_DP_CLIP),
    rounds: f.int(o, 'rounds'),
    ...(o.budget !== undefined && { budget: f.positive(o, 'budget') }),
  };
}

function initialWeights(o: f.Obj): { seed: number; sha256: string } {
  return { seed: f.int(o, 'seed', 0, 0xffffffff), sha256: f.sha256(o, 'sha256') };
}

function federatedMetrics(o: f.Obj): FederatedMetrics {
  const spreads = f.obj(o, 'spread');
  const spread: Record<string, Spread> = {};
  const names = Object.keys(spreads);
  if (names.length > 16) throw new DecodeError(DecodeReason.BadField, 'field "spread" must have at most 16 entries');
  for (const name of names) {
    if (name.length > 64 || name === '__proto__') throw new DecodeError(DecodeReason.BadField, 'field "spread" must map metric names to spreads');
    const s = f.obj(spreads, name);
    spread[name] = { min: f.num(s, 'min'), median: f.num(s, 'median'), max: f.num(s, 'max') };
  }
  return {
    globalVersion: f.int(o, 'globalVersion'), devices: f.int(o, 'devices'), count: f.int(o, 'count'),
    loss: f.numOrNaN(o, 'loss'), metrics: f.numberRecord(o, 'metrics', 16), spread,
  };
}

function resources(o: f.Obj): Resources {
  const r: Resources = {};
  if (o.onAc !== undefined) {
    if (typeof o.onAc !== 'boolean') throw new DecodeError(DecodeReason.BadField, 'field "onAc" must be a boolean');
    r.onAc = o.onAc;
  }
  const within = (field: 'batteryPercent' | 'cpuTempC' | 'load' | 'freeMemMb', min: number, max: number): void => {
    if (o[field] === undefined) return;
    const v = f.num(o, field);
    if (v < min || v > max) throw new DecodeError(DecodeReason.BadField, `field "${field}" must be in [${min}, ${max}]`);
    r[field] = v;
  };
  within('batteryPercent', 0, 100);
  within('cpuTempC', -100, 250);
  within('load', 0, 1e6);
  within('freeMemMb', 0, 1e9);
  return r;
}
