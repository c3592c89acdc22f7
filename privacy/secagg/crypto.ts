/**
 * The primitives of secure aggregation, all from `node:crypto`: X25519 key pairs (RFC 7748),
 * HKDF-SHA256 (RFC 5869) over the X25519 secret with a context that binds the fleet, the round
 * and both device ids, AES-256-GCM for the shares, SHA-256 for the self-mask commitment.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { SecAggError } from './errors.js';

/** The fleet and round every derived key is bound to: a key from one round is useless in another. */
export interface SecAggContext {
  readonly fleet: string;
  readonly round: number;
}

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** HKDF salt: the protocol's name and version, so no other use of these keys derives the same bytes. */
const SALT = Buffer.from('fedmq/secagg/v1');
// DER headers of an X25519 SubjectPublicKeyInfo and PKCS#8 PrivateKeyInfo (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export interface X25519KeyPair {
  readonly privateKey: KeyObject;
  /** The 32-byte raw public key (what travels). */
  readonly publicKey: Uint8Array;
}

export function generateX25519(): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey: rawPublic(publicKey) };
}

function rawPublic(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - KEY_BYTES));
}

/** The 32 raw bytes of an X25519 private key: the secret that is Shamir-shared. */
export function rawPrivate(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(der.length - KEY_BYTES));
}

export function privateFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_BYTES) throw new SecAggError('bad-message', `an X25519 private key is ${KEY_BYTES} bytes, got ${raw.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

/** The raw public key of a private key (checks a reconstructed key against the advertised one). */
export function publicOfPrivate(key: KeyObject): Uint8Array {
  return rawPublic(createPublicKey(key));
}

function publicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_BYTES) throw new SecAggError('bad-message', `an X25519 public key is ${KEY_BYTES} bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/**
 * Unambiguous HKDF `info`: a label, the fleet, the round and the ids, each length-prefixed, so no
 * two different contexts encode to the same bytes.
 */
export function contextInfo(label: string, ctx: SecAggContext, ...ids: string[]): Buffer {
  const fields = [label, ctx.fleet, String(ctx.round), ...ids].map((f) => Buffer.from(f, 'utf8'));
  const parts: Buffer[] = [];
  for (const f of fields) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(f.length);
    parts.push(len, f);
  }
  return Buffer.concat(parts);
}

export function hkdf(ikm: Uint8Array, info: Buffer): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, SALT, info, KEY_BYTES));
}

/**
 * The key two devices share for `label` (mask or share encryption): X25519 of one's private key
 * and the other's public key, through HKDF with a context of the fleet, the round and both ids in
 * a fixed (sorted) order, so both ends derive the same 256-bit key and no other pair or round does.
 */
export function pairwiseKey(label: string, ctx: SecAggContext, mine: KeyObject, theirPublic: Uint8Array, me: string, them: string): Uint8Array {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: mine, publicKey: publicFromRaw(theirPublic) });
  } catch (cause) {
    throw new SecAggError('bad-message', `X25519 with ${them}'s public key failed`, { cause });
  }
  if (shared.every((b) => b === 0)) throw new SecAggError('bad-message', `${them}'s public key is a low-order point`);
  const [lo, hi] = me < them ? [me, them] : [them, me];
  return hkdf(shared, contextInfo(label, ctx, lo, hi));
}

/** AES-256-GCM with a random 96-bit nonce: nonce | ciphertext | tag. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Buffer): Uint8Array {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return new Uint8Array(Buffer.concat([nonce, body, c.getAuthTag()]));
}

/** Opens what `seal` made, or throws `bad-share` (tampered, wrong key, or wrong sender/recipient). */
export function open(key: Uint8Array, box: Uint8Array, aad: Buffer, what: string): Uint8Array {
  if (box.length < NONCE_BYTES + TAG_BYTES) throw new SecAggError('bad-share', `${what}: ${box.length} bytes is too short`);
  try {
    const d = createDecipheriv('aes-256-gcm', key, box.subarray(0, NONCE_BYTES));
    d.setAAD(aad);
    d.setAuthTag(box.subarray(box.length - TAG_BYTES));
    return new Uint8Array(Buffer.concat([d.update(box.subarray(NONCE_BYTES, box.length - TAG_BYTES)), d.final()]));
  } catch (cause) {
    throw new SecAggError('bad-share', `${what}: authentication failed (tampered or not addressed to this device)`, { cause });
  }
}

/** SHA-256 commitment to the self-mask seed b_i, so a wrong reconstruction is detected, not summed. */
export function commitSelfSeed(ctx: SecAggContext, id: string, seed: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(contextInfo('self-seed-commit', ctx, id)).update(seed).digest());
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function randomSeed(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_BYTES));
}
