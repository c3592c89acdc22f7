import { Encoder } from 'cbor-x';
import { DecodeError, DecodeReason } from './errors.js';
import {
  DeviceState,
  MessageType,
  PROTOCOL_VERSION,
  type Body,
  type GlobalDeltaMessage,
  type GlobalMessage,
  type Message,
  type MetricsMessage,
  type RoundMessage,
  type StatusMessage,
  type TaskMessage,
  type UpdateMessage,
} from './messages.js';
import { isValidId } from './topics.js';
import * as f from './validate.js';

/** Largest message any decoder accepts unless told otherwise: a CNN global in f32 is 6.7 MB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Most participants a round message may list; each must be a valid device id. */
export const MAX_PARTICIPANTS = 100_000;

// Bounds on what a `task` or `round` may ask of a device, read by both sides: the aggregator's
// options must stay inside them, and a device refuses a message outside them (DecodeError
// 'bad-field'). They are sanity limits against a hostile or broken publisher, not tuning advice.

/** Most local epochs a round may ask (McMahan et al. use E <= 20). */
export const MAX_EPOCHS = 1_000;
/**
 * Largest local batch a round may ask. A device trains on min(B, its example count); a CNN batch
 * of 1,024 MNIST images needs about half a GB of activations, about what a small device can give.
 */
export const MAX_BATCH_SIZE = 1_024;
/** Largest learning rate a round may ask; beyond it SGD only diverges. */
export const MAX_LR = 10;
/** Largest FedProx proximal coefficient mu a round may ask (Li et al. 2020 use at most 1). */
export const MAX_MU = 10;
/**
 * Longest a round may last, from `issuedAt` to `deadline` (and, on a device, from now to the
 * deadline): one day. Also keeps every deadline timer far below Node's 2^31 - 1 ms limit.
 */
export const MAX_ROUND_MS = 24 * 60 * 60 * 1000;
/** Most parameters a task may announce: the largest model whose float32 global fits in one message (8,388,608). */
export const MAX_PARAM_COUNT = Math.floor(DEFAULT_MAX_MESSAGE_BYTES / 4);
/** Most dimensions of a task's input shape, and most values in one example. */
export const MAX_INPUT_DIMS = 8;
export const MAX_INPUT_VALUES = 1 << 24;
/** Most classes a task may announce. */
export const MAX_CLASSES = 100_000;
/** Largest async buffer K a task may announce. */
export const MAX_BUFFER = 1_000_000;
/** Longest codec or downlink spec a message may carry. */
export const MAX_SPEC_LENGTH = 128;
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
  status: (b: Body<StatusMessage>): StatusMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Status, ...b }),
  metrics: (b: Body<MetricsMessage>): MetricsMessage => ({ v: PROTOCOL_VERSION, type: MessageType.Metrics, ...b }),
};

type ByType = {
  task: TaskMessage;
  global: GlobalMessage;
  globalDelta: GlobalDeltaMessage;
  round: RoundMessage;
  update: UpdateMessage;
  status: StatusMessage;
  metrics: MetricsMessage;
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
  expected: T,
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
  const o = raw as f.Obj;
  if (o.type !== expected) {
    throw new DecodeError(DecodeReason.BadType, `expected a "${expected}" message, got "${String(o.type)}"`);
  }
  if (o.v !== PROTOCOL_VERSION) {
    throw new DecodeError(DecodeReason.BadVersion, `protocol version ${String(o.v)} is not ${PROTOCOL_VERSION}`);
  }
  return validators[expected](o) as ByType[T];
}

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

function inputShape(o: f.Obj): number[] {
  const shape = f.intArray(o, 'inputShape', MAX_INPUT_DIMS);
  let values = 1;
  for (const n of shape) values *= n;
  if (shape.length === 0 || values < 1 || values > MAX_INPUT_VALUES) {
    throw new DecodeError(DecodeReason.BadField, `field "inputShape" must be 1 to ${MAX_INPUT_DIMS} positive sizes of at most ${MAX_INPUT_VALUES} values in all`);
  }
  return shape;
}

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
      inputShape: inputShape(o),
      numClasses: f.int(o, 'numClasses', 2, MAX_CLASSES),
      paramCount: f.int(o, 'paramCount', 1, MAX_PARAM_COUNT),
      codec: f.str(o, 'codec', MAX_SPEC_LENGTH),
      downlink: f.str(o, 'downlink', MAX_SPEC_LENGTH),
      defaults: trainConfig(f.obj(o, 'defaults')),
      ...(o.mode !== undefined && { mode: f.oneOf(o, 'mode', ['sync', 'async'] as const) }),
      ...(o.buffer !== undefined && { buffer: f.int(o, 'buffer', 1, MAX_BUFFER) }),
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
    const metrics = f.obj(o, 'metrics');
    return build.update({
      round: f.int(o, 'round', 1),
      deviceId: deviceId(o),
      numExamples: f.int(o, 'numExamples', 1, 1e9),
      codec: f.str(o, 'codec', 128),
      delta: f.bytes(o, 'delta'),
      metrics: { loss: f.num(metrics, 'loss'), accuracy: f.num(metrics, 'accuracy') },
      trainMs: f.num(o, 'trainMs'),
    });
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
    });
  },
  metrics: (o) =>
    build.metrics({
      round: f.int(o, 'round'),
      accuracy: f.num(o, 'accuracy'),
      loss: f.num(o, 'loss'),
      participants: f.int(o, 'participants'),
      accepted: f.int(o, 'accepted'),
      rejected: f.int(o, 'rejected'),
      rejectedByReason: f.numberRecord(o, 'rejectedByReason'),
      bytesUp: f.num(o, 'bytesUp'),
      bytesDown: f.num(o, 'bytesDown'),
      trainMs: f.num(o, 'trainMs'),
      aggregateMs: f.num(o, 'aggregateMs'),
      wallMs: f.num(o, 'wallMs'),
    }),
};
