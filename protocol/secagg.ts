/**
 * Secure aggregation (SecAgg+, privacy/secagg/) on the wire: the seven messages of one masked
 * round as fedmq messages (`v`, `type`), and their validators. Devices send theirs on
 * `update/{id}` (`deviceId` is the sender, which the topic must name); the aggregator sends
 * each device its own on `to/{id}` (`deviceId` is the recipient). Nothing here is trusted: every
 * size, count and id is bounded before the state machines see it (docs/protocol.md, Secure
 * aggregation).
 */
import { DecodeError, DecodeReason } from './errors.js';
import { MAX_PARAM_COUNT, MAX_PARTICIPANTS } from './limits.js';
import { PROTOCOL_VERSION } from './messages.js';
import { isValidId } from './topics.js';
import * as f from './validate.js';

/** Bytes of an X25519 public key, of the self-seed commitment (SHA-256). */
export const SECAGG_KEY_BYTES = 32;
/** Bytes of one Shamir share of a 32-byte secret (GF(2^8): the secret's bytes and the x-coordinate). */
export const SECAGG_SHARE_BYTES = 33;
/** Most neighbours a device may have: Shamir over GF(2^8) makes at most 255 shares. */
export const MAX_SECAGG_NEIGHBOURS = 255;
/** Largest share box: two shares, a 12-byte nonce and a 16-byte tag are 94 bytes; room for a header. */
export const MAX_SECAGG_BOX_BYTES = 256;
/** The mask generators a round may use (privacy/secagg/prg.ts). */
export const SECAGG_PRGS = ['aes-256-ctr', 'chacha20'] as const;
export type SecAggPrgName = (typeof SECAGG_PRGS)[number];

/** The task's secure-aggregation settings: every training round is masked (`--secagg`). */
export interface TaskSecAgg {
  /**
   * Each coordinate of an update is clipped to [-clip, clip] before it is quantized into
   * Z_2^32 with `levels = floor((2^31 - 1) / n)`, n the round's participants
   * (privacy/secagg/quantize.ts `secaggQuantizer(clip, n)`).
   */
  clip: number;
  /**
   * Central DP with secure aggregation: each device clips its update to this L2 norm before
   * quantizing (the aggregator cannot, it sees only the sum), and the aggregator noises the sum.
   */
  normClip?: number;
}

export interface SecAggWirePeer {
  deviceId: string;
  maskPublicKey: Uint8Array;
  encPublicKey: Uint8Array;
}

export interface SecAggWireBox {
  /** The other end: the recipient in `secaggShares`, the sender in `secaggShareDelivery`. */
  peer: string;
  box: Uint8Array;
}

export interface SecAggWireShare {
  /** The device whose secret this is a share of. */
  of: string;
  share: Uint8Array;
}

/** `update/{id}`: round 0, the device's two X25519 public keys. */
export interface SecAggKeysMessage {
  v: number;
  type: 'secaggKeys';
  round: number;
  deviceId: string;
  maskPublicKey: Uint8Array;
  encPublicKey: Uint8Array;
}

/** `to/{id}`: the round's parameters and this device's neighbours' keys. */
export interface SecAggSetupMessage {
  v: number;
  type: 'secaggSetup';
  round: number;
  deviceId: string;
  n: number;
  k: number;
  t: number;
  vectorLength: number;
  prg: SecAggPrgName;
  neighbours: SecAggWirePeer[];
}

/** `update/{id}`: round 1, one encrypted box of shares per neighbour and the self-seed commitment. */
export interface SecAggSharesMessage {
  v: number;
  type: 'secaggShares';
  round: number;
  deviceId: string;
  selfSeedCommitment: Uint8Array;
  boxes: SecAggWireBox[];
}

/** `to/{id}`: the boxes this device's neighbours addressed to it. */
export interface SecAggShareDeliveryMessage {
  v: number;
  type: 'secaggShareDelivery';
  round: number;
  deviceId: string;
  boxes: SecAggWireBox[];
}

/** `update/{id}`: round 2, the masked quantized update (uint32 words). */
export interface SecAggMaskedMessage {
  v: number;
  type: 'secaggMasked';
  round: number;
  deviceId: string;
  masked: Uint32Array;
}

/** `to/{id}`: which of this device's neighbours survived, which dropped. */
export interface SecAggUnmaskRequestMessage {
  v: number;
  type: 'secaggUnmaskRequest';
  round: number;
  deviceId: string;
  survivors: string[];
  dropped: string[];
}

/** `update/{id}`: round 3, b-shares of surviving neighbours, s-shares of dropped ones. */
export interface SecAggUnmaskResponseMessage {
  v: number;
  type: 'secaggUnmaskResponse';
  round: number;
  deviceId: string;
  selfSeedShares: SecAggWireShare[];
  maskKeyShares: SecAggWireShare[];
}

export type SecAggDeviceWireMessage = SecAggKeysMessage | SecAggSharesMessage | SecAggMaskedMessage | SecAggUnmaskResponseMessage;
export type SecAggAggregatorWireMessage = SecAggSetupMessage | SecAggShareDeliveryMessage | SecAggUnmaskRequestMessage;
export type SecAggWireMessage = SecAggDeviceWireMessage | SecAggAggregatorWireMessage;

/** The message types a device sends in a secure round (on `update/{id}`). */
export const SECAGG_DEVICE_TYPES = ['secaggKeys', 'secaggShares', 'secaggMasked', 'secaggUnmaskResponse'] as const;
/** The message types the aggregator sends one device in a secure round (on `to/{id}`). */
export const SECAGG_AGGREGATOR_TYPES = ['secaggSetup', 'secaggShareDelivery', 'secaggUnmaskRequest'] as const;

function bad(what: string): never {
  throw new DecodeError(DecodeReason.BadField, what);
}

function id(o: f.Obj, field: string): string {
  const v = f.str(o, field, 64);
  if (!isValidId(v)) bad(`field "${field}" is not a valid device id`);
  return v;
}

function exactBytes(o: f.Obj, field: string, length: number): Uint8Array {
  const v = f.bytes(o, field, length);
  if (v.byteLength !== length) bad(`field "${field}" must be ${length} bytes`);
  return v;
}

/** An array of at most `max` maps, each read by `item`; ids named by `key` must not repeat. */
function list<T>(o: f.Obj, field: string, max: number, key: keyof T, item: (x: f.Obj) => T): T[] {
  const v = o[field];
  if (!Array.isArray(v) || v.length > max) bad(`field "${field}" must be an array of at most ${max} entries`);
  const out = v.map((x) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x) || ArrayBuffer.isView(x)) bad(`field "${field}" must hold maps`);
    return item(x as f.Obj);
  });
  if (new Set(out.map((x) => x[key])).size !== out.length) bad(`field "${field}" names a device twice`);
  return out;
}

function ids(o: f.Obj, field: string): string[] {
  const v = f.strArray(o, field, MAX_SECAGG_NEIGHBOURS, 64);
  if (!v.every(isValidId) || new Set(v).size !== v.length) bad(`field "${field}" must list distinct valid device ids`);
  return v;
}

const boxes = (o: f.Obj): SecAggWireBox[] => list<SecAggWireBox>(o, 'boxes', MAX_SECAGG_NEIGHBOURS, 'peer', (b) => ({ peer: id(b, 'peer'), box: f.bytes(b, 'box', MAX_SECAGG_BOX_BYTES) }));
const shares = (o: f.Obj, field: string): SecAggWireShare[] => list<SecAggWireShare>(o, field, MAX_SECAGG_NEIGHBOURS, 'of', (s) => ({ of: id(s, 'of'), share: exactBytes(s, 'share', SECAGG_SHARE_BYTES) }));
const head = (o: f.Obj): { round: number; deviceId: string } => ({ round: f.int(o, 'round', 1), deviceId: id(o, 'deviceId') });

/**
 * Validators by type, for protocol/wire.ts's `decodeMessage` (which has checked `v` and `type`):
 * each returns the message with only its known fields.
 */
export const secaggValidators = {
  secaggKeys: (o: f.Obj): SecAggKeysMessage => ({
    v: o.v as number, type: 'secaggKeys', ...head(o),
    maskPublicKey: exactBytes(o, 'maskPublicKey', SECAGG_KEY_BYTES), encPublicKey: exactBytes(o, 'encPublicKey', SECAGG_KEY_BYTES),
  }),
  secaggSetup: (o: f.Obj): SecAggSetupMessage => {
    const k = f.int(o, 'k', 2, MAX_SECAGG_NEIGHBOURS);
    const m: SecAggSetupMessage = {
      v: o.v as number, type: 'secaggSetup', ...head(o),
      n: f.int(o, 'n', 3, MAX_PARTICIPANTS), k, t: f.int(o, 't', 2, k), vectorLength: f.int(o, 'vectorLength', 1, MAX_PARAM_COUNT),
      prg: f.oneOf(o, 'prg', SECAGG_PRGS),
      neighbours: list<SecAggWirePeer>(o, 'neighbours', MAX_SECAGG_NEIGHBOURS, 'deviceId', (p) => ({
        deviceId: id(p, 'deviceId'), maskPublicKey: exactBytes(p, 'maskPublicKey', SECAGG_KEY_BYTES), encPublicKey: exactBytes(p, 'encPublicKey', SECAGG_KEY_BYTES),
      })),
    };
    if (m.k >= m.n || m.neighbours.length !== m.k || m.neighbours.some((p) => p.deviceId === m.deviceId)) bad('a setup lists k neighbours (k < n), other than its recipient');
    return m;
  },
  secaggShares: (o: f.Obj): SecAggSharesMessage => ({
    v: o.v as number, type: 'secaggShares', ...head(o), selfSeedCommitment: exactBytes(o, 'selfSeedCommitment', SECAGG_KEY_BYTES), boxes: boxes(o),
  }),
  secaggShareDelivery: (o: f.Obj): SecAggShareDeliveryMessage => ({ v: o.v as number, type: 'secaggShareDelivery', ...head(o), boxes: boxes(o) }),
  secaggMasked: (o: f.Obj): SecAggMaskedMessage => {
    const masked = o.masked;
    if (!(masked instanceof Uint32Array) || masked.length === 0 || masked.length > MAX_PARAM_COUNT) bad(`field "masked" must be a uint32 array of 1 to ${MAX_PARAM_COUNT} words`);
    return { v: o.v as number, type: 'secaggMasked', ...head(o), masked };
  },
  secaggUnmaskRequest: (o: f.Obj): SecAggUnmaskRequestMessage => {
    const m: SecAggUnmaskRequestMessage = { v: o.v as number, type: 'secaggUnmaskRequest', ...head(o), survivors: ids(o, 'survivors'), dropped: ids(o, 'dropped') };
    if (m.survivors.some((s) => m.dropped.includes(s))) bad('an unmask request declares a device both surviving and dropped');
    return m;
  },
  secaggUnmaskResponse: (o: f.Obj): SecAggUnmaskResponseMessage => ({
    v: o.v as number, type: 'secaggUnmaskResponse', ...head(o), selfSeedShares: shares(o, 'selfSeedShares'), maskKeyShares: shares(o, 'maskKeyShares'),
  }),
};

type Body<M> = Omit<M, 'v' | 'type'>;

/** Builders (`build.secaggKeys(...)` etc. in protocol/wire.ts): the version and type filled in. */
export const PROTOCOL_SECAGG_BUILD = {
  secaggKeys: (b: Body<SecAggKeysMessage>): SecAggKeysMessage => ({ v: PROTOCOL_VERSION, type: 'secaggKeys', ...b }),
  secaggSetup: (b: Body<SecAggSetupMessage>): SecAggSetupMessage => ({ v: PROTOCOL_VERSION, type: 'secaggSetup', ...b }),
  secaggShares: (b: Body<SecAggSharesMessage>): SecAggSharesMessage => ({ v: PROTOCOL_VERSION, type: 'secaggShares', ...b }),
  secaggShareDelivery: (b: Body<SecAggShareDeliveryMessage>): SecAggShareDeliveryMessage => ({ v: PROTOCOL_VERSION, type: 'secaggShareDelivery', ...b }),
  secaggMasked: (b: Body<SecAggMaskedMessage>): SecAggMaskedMessage => ({ v: PROTOCOL_VERSION, type: 'secaggMasked', ...b }),
  secaggUnmaskRequest: (b: Body<SecAggUnmaskRequestMessage>): SecAggUnmaskRequestMessage => ({ v: PROTOCOL_VERSION, type: 'secaggUnmaskRequest', ...b }),
  secaggUnmaskResponse: (b: Body<SecAggUnmaskResponseMessage>): SecAggUnmaskResponseMessage => ({ v: PROTOCOL_VERSION, type: 'secaggUnmaskResponse', ...b }),
};

/** The task's `secagg` settings, bounded. */
export function taskSecAgg(o: f.Obj): TaskSecAgg {
  return { clip: f.positive(o, 'clip', 1e6), ...(o.normClip !== undefined && { normClip: f.positive(o, 'normClip', 1e6) }) };
}
