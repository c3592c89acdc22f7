import { Encoder } from 'cbor-x';
import { DecodeError, DecodeReason, FedmqError } from './errors.js';
import { sha256Hex } from './hash.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './limits.js';
import { PROTOCOL_VERSION } from './messages.js';

/**
 * Signed fleet messages (docs/protocol.md, Signed messages; docs/security.md). The aggregator
 * signs the exact bytes of each `task`, `global`, `globalDelta` and `round` message it
 * publishes with its Ed25519 key and sends them inside an envelope:
 *
 *   { v: 1, type: 'signed', key: KEY_ID, sig: 64 bytes, payload: the message's CBOR bytes }
 *
 * An envelope, not a signature field inside the message: the signature covers bytes that are
 * never re-encoded, so no canonical CBOR is needed and any reader in any language checks it as
 * it came; a reader that does not verify takes `payload` and decodes it as before
 * (`decodeMessage` does so by itself). A catch-up on `to/{id}` nests these envelopes as they
 * were published, so a device checks each step and each full copy it is given by the same rule.
 *
 * What is signed is `fedmq/v1 signed FLEET\n` followed by the payload: a message signed for one
 * fleet does not verify in another that happens to trust the same key.
 *
 * This file is pure (it runs in the browser too): the Ed25519 itself is a caller's
 * `VerifySignature` (privacy/signing.ts with node:crypto; WebCrypto in the dashboard).
 */

export const SIGNED_TYPE = 'signed';
/** An Ed25519 signature's length. */
export const SIGNATURE_BYTES = 64;
/** Hex characters of a key id: the first 8 bytes of SHA-256 of the 32-byte raw public key. */
export const KEY_ID_LENGTH = 16;

/** The message kinds an aggregator signs (a `catchUp` carries signed ones: see `catchUpContents`). */
export const SIGNED_KINDS = ['task', 'global', 'globalDelta', 'round'] as const;
export type SignedKind = (typeof SIGNED_KINDS)[number];

export interface SignedEnvelope {
  v: number;
  type: typeof SIGNED_TYPE;
  /** Which key signed: `keyIdOf(raw public key)`. */
  key: string;
  sig: Uint8Array;
  /** The exact bytes of the signed message. */
  payload: Uint8Array;
}

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });
const utf8 = new TextEncoder();

/** A key's id: lower-case hex of the first 8 bytes of SHA-256 of its 32-byte raw public key. */
export function keyIdOf(rawPublicKey: Uint8Array): string {
  if (rawPublicKey.byteLength !== 32) throw new RangeError(`an Ed25519 public key is 32 bytes, got ${rawPublicKey.byteLength}`);
  return sha256Hex(rawPublicKey).slice(0, KEY_ID_LENGTH);
}

/** The bytes a signature covers: the fleet's context, then the message exactly as published. */
export function signingInput(fleet: string, payload: Uint8Array): Uint8Array {
  const context = utf8.encode(`fedmq/v${PROTOCOL_VERSION} signed ${fleet}\n`);
  const out = new Uint8Array(context.byteLength + payload.byteLength);
  out.set(context, 0);
  out.set(payload, context.byteLength);
  return out;
}

/** Encodes the envelope around `payload` (a fresh buffer). */
export function sealEnvelope(key: string, sig: Uint8Array, payload: Uint8Array): Uint8Array {
  const envelope: SignedEnvelope = { v: PROTOCOL_VERSION, type: SIGNED_TYPE, key, sig, payload };
  return new Uint8Array(cbor.encode(envelope));
}

/**
 * The envelope in `bytes`, or null when they are not one (an unsigned message). Throws
 * `DecodeError` for an envelope that is malformed (a signature of the wrong length, a key id
 * that is not one, an envelope inside an envelope).
 */
export function openEnvelope(bytes: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): SignedEnvelope | null {
  if (bytes.byteLength > maxBytes) throw new DecodeError(DecodeReason.TooLarge, `message of ${bytes.byteLength} bytes exceeds ${maxBytes}`);
  let raw: unknown;
  try {
    raw = cbor.decode(bytes);
  } catch (cause) {
    throw new DecodeError(DecodeReason.Malformed, 'payload is not valid CBOR', { cause });
  }
  if (typeof raw !== 'object' || raw === null || (raw as { type?: unknown }).type !== SIGNED_TYPE) return null;
  return envelopeOf(raw as Record<string, unknown>);
}

/** Checks a decoded CBOR map that says `type: 'signed'`; what `decodeMessage` unwraps. */
export function envelopeOf(o: Record<string, unknown>): SignedEnvelope {
  const bad = (what: string): never => { throw new DecodeError(DecodeReason.BadField, `signed envelope: ${what}`); };
  if (o.v !== PROTOCOL_VERSION) throw new DecodeError(DecodeReason.BadVersion, `protocol version ${String(o.v)} is not ${PROTOCOL_VERSION}`);
  if (typeof o.key !== 'string' || !/^[0-9a-f]{16}$/.test(o.key)) bad('"key" must be a 16-hex-digit key id');
  if (!(o.sig instanceof Uint8Array) || o.sig.byteLength !== SIGNATURE_BYTES) bad(`"sig" must be ${SIGNATURE_BYTES} bytes`);
  if (!(o.payload instanceof Uint8Array)) bad('"payload" must be bytes');
  return { v: PROTOCOL_VERSION, type: SIGNED_TYPE, key: o.key as string, sig: o.sig as Uint8Array, payload: o.payload as Uint8Array };
}

/** Checks an Ed25519 signature of `data` by the trusted key (synchronously: node:crypto). */
export type VerifySignature = (data: Uint8Array, sig: Uint8Array) => boolean;

/**
 * Why a device (`--trust`) refused a message: `unsigned`; signed by `other-key`; a signature
 * that does not verify (`bad-signature`: forged, or altered on the way); a `replay` of an older
 * global version or round; a round whose deadline passed (`expired`).
 */
export const TRUST_REFUSALS = ['unsigned', 'other-key', 'bad-signature', 'replay', 'expired'] as const;
export type TrustRefusal = (typeof TRUST_REFUSALS)[number];

/** A message a device that trusts a key refused; it keeps what it held. */
export class UntrustedMessageError extends FedmqError {
  override name = 'UntrustedMessageError';
  constructor(
    readonly reason: TrustRefusal,
    readonly kind: SignedKind | 'catchUp',
    message: string,
  ) {
    super(message);
  }
}

/** The signed messages inside a catch-up: each step, or the full copy (checked like the messages on their own topics). */
export function catchUpContents(message: { steps?: Uint8Array[]; full?: Uint8Array }): { kind: 'globalDelta' | 'global'; bytes: Uint8Array }[] {
  if (message.full) return [{ kind: 'global', bytes: message.full }];
  return (message.steps ?? []).map((bytes) => ({ kind: 'globalDelta', bytes }));
}

/**
 * The rules a device that trusts one key applies (pure; the signature check is `verify`):
 * - every `task`, `global`, `globalDelta`, `round`, and every step or full copy inside a
 *   `catchUp`, is an envelope signed by the trusted key for this fleet;
 * - a global (full, step or caught up) is not older than the version the device holds
 *   (`freshGlobal`), so an old signed model cannot be replayed to take the fleet back;
 * - a round's deadline has not passed on the device's clock, and it was not issued before the
 *   newest round already taken (`freshRound`), so an old signed round cannot be replayed.
 * Version 0 a device builds from the signed task's seed (`task.init`, checked by its SHA-256)
 * needs no signature of its own.
 */
export class FleetTrust {
  /** `issuedAt` of the newest signed round taken. */
  private newestIssued = -Infinity;

  constructor(
    readonly fleet: string,
    readonly keyId: string,
    private readonly verify: VerifySignature,
  ) {
    if (!/^[0-9a-f]{16}$/.test(keyId)) throw new RangeError(`not a key id: ${keyId}`);
  }

  /** The signed message's own bytes, or `UntrustedMessageError` (`unsigned`, `other-key`, `bad-signature`). */
  open(kind: SignedKind | 'catchUp', bytes: Uint8Array): Uint8Array {
    const envelope = openEnvelope(bytes);
    const name = kindName(kind);
    if (!envelope) throw new UntrustedMessageError('unsigned', kind, `unsigned ${name}`);
    if (envelope.key !== this.keyId) throw new UntrustedMessageError('other-key', kind, `${name} signed by key ${envelope.key}, not the trusted ${this.keyId}`);
    if (!this.verify(signingInput(this.fleet, envelope.payload), envelope.sig)) {
      throw new UntrustedMessageError('bad-signature', kind, `${name} whose signature does not verify with key ${this.keyId}`);
    }
    return envelope.payload;
  }

  /** Every step or full copy inside a catch-up, each by `open`. */
  openCatchUp(message: { steps?: Uint8Array[]; full?: Uint8Array }): void {
    for (const { kind, bytes } of catchUpContents(message)) {
      try {
        this.open(kind, bytes);
      } catch (error) {
        if (!(error instanceof UntrustedMessageError)) throw error;
        throw new UntrustedMessageError(error.reason, 'catchUp', `catch-up carrying ${error.message}`);
      }
    }
  }

  /** A global of `version` (full, step, or the end of a catch-up) while the device holds `held` (-1: none). */
  freshGlobal(kind: 'global' | 'globalDelta' | 'catchUp', version: number, held: number): void {
    if (version < held) throw new UntrustedMessageError('replay', kind, `${kindName(kind)} of v${version}, older than the v${held} held`);
  }

  /** A round, at `now` on the device's clock; taken, it becomes the newest. */
  freshRound(round: { round: number; deadline: number; issuedAt?: number }, now: number): void {
    if (round.deadline < now) throw new UntrustedMessageError('expired', 'round', `round ${round.round} whose deadline passed`);
    const issued = round.issuedAt ?? -Infinity;
    if (issued < this.newestIssued) throw new UntrustedMessageError('replay', 'round', `round ${round.round} issued before the newest round taken`);
    this.newestIssued = issued;
  }
}

function kindName(kind: SignedKind | 'catchUp'): string {
  return kind === 'globalDelta' ? 'global-delta' : kind === 'catchUp' ? 'catch-up' : kind;
}

/** What signs an aggregator's messages (privacy/signing.ts's `MessageSigner`). */
export interface MessageSealer {
  readonly keyId: string;
  /** The envelope around `payload`, signed for `fleet`. */
  seal(fleet: string, payload: Uint8Array): Uint8Array;
}
