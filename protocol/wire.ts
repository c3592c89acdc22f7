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
/** Most participants a round message may list. */
export const MAX_PARTICIPANTS = 100_000;

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
  return { epochs: f.int(o, 'epochs', 1, 10_000), batchSize: f.int(o, 'batchSize', 1, 1_000_000), lr: f.positive(o, 'lr') };
}

const validators: { [K in MessageType]: (o: f.Obj) => ByType[K] } = {
  task: (o) =>
    build.task({
      model: f.str(o, 'model', 64),
      inputShape: f.intArray(o, 'inputShape', 8),
      numClasses: f.int(o, 'numClasses', 2, 100_000),
      paramCount: f.int(o, 'paramCount', 1),
      codec: f.str(o, 'codec', 128),
      downlink: f.str(o, 'downlink', 128),
      defaults: trainConfig(f.obj(o, 'defaults')),
      ...(o.mode !== undefined && { mode: f.oneOf(o, 'mode', ['sync', 'async'] as const) }),
      ...(o.buffer !== undefined && { buffer: f.int(o, 'buffer', 1, 1_000_000) }),
    }),
  // The weights are checked (length, finiteness, sha256) when decoded against the task's
  // parameter count: see protocol/downlink.ts.
  global: (o) =>
    build.global({
      version: f.int(o, 'version'), round: f.int(o, 'round'), codec: f.str(o, 'codec', 128),
      weights: f.bytes(o, 'weights'), sha256: f.sha256(o, 'sha256'),
    }),
  globalDelta: (o) =>
    build.globalDelta({
      version: f.int(o, 'version', 1), baseVersion: f.int(o, 'baseVersion'), round: f.int(o, 'round'),
      codec: f.str(o, 'codec', 128), delta: f.bytes(o, 'delta'), sha256: f.sha256(o, 'sha256'),
    }),
  round: (o) =>
    build.round({
      round: f.int(o, 'round', 1),
      globalVersion: f.int(o, 'globalVersion'),
      participants: f.strArray(o, 'participants', MAX_PARTICIPANTS),
      // Milliseconds; a simulated clock runs on fractions of one.
      deadline: f.nonNegative(o, 'deadline'),
      ...(o.issuedAt !== undefined && { issuedAt: f.nonNegative(o, 'issuedAt') }),
      codec: f.str(o, 'codec', 128),
      seed: f.int(o, 'seed', 0, 0xffffffff),
      mu: o.mu === undefined ? 0 : f.nonNegative(o, 'mu'),
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
