/**
 * Ed25519 with node:crypto for signed fleet messages (protocol/signed.ts holds the envelope and
 * the rules, and stays pure for the browser). It lives in privacy/ because both sides need it
 * and DESIGN.md lets exactly the aggregator and the device agent (and the simulator and the CLI
 * above them) import privacy/: the aggregator signs, the agent verifies. The monitor may import
 * only protocol/; its CLI hands it a verifier made here.
 *
 * Keys are PEM: PKCS#8 for the private key, SPKI for the public one (what `openssl pkey` and
 * every TLS tool read). A public key may also be given as its 32 raw bytes in base64 or hex.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { FleetTrust, keyIdOf, sealEnvelope, signingInput, type VerifySignature } from '../protocol/index.js';

/** The aggregator's side: signs each message it publishes and wraps it in the envelope. */
export class MessageSigner {
  readonly keyId: string;
  readonly publicKey: KeyObject;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
      throw new TypeError(`a signing key must be an Ed25519 private key, got a ${privateKey.asymmetricKeyType ?? 'unknown'} ${privateKey.type} key`);
    }
    this.publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(rawPublicKey(this.publicKey));
  }

  /** A fresh key pair that lives as long as this process (a simulation's). */
  static ephemeral(): MessageSigner {
    return new MessageSigner(generateKeyPairSync('ed25519').privateKey);
  }

  /** From a PKCS#8 PEM private key; throws a one-line `TypeError` for anything else. */
  static fromPem(pem: string): MessageSigner {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new TypeError('not a PEM private key');
    }
    return new MessageSigner(key);
  }

  /** The envelope around `payload`, signed for `fleet`. */
  seal(fleet: string, payload: Uint8Array): Uint8Array {
    return sealEnvelope(this.keyId, sign(null, signingInput(fleet, payload), this.privateKey), payload);
  }

  /** A verifier for this signer's own key (a simulated fleet trusts its aggregator's ephemeral key). */
  trust(fleet: string): FleetTrust {
    return trustKey(fleet, this.publicKey);
  }

  get publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }
}

/** A new key pair as PEM text, and its key id. */
export function generateSigningKey(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(rawPublicKey(publicKey)),
  };
}

/**
 * An Ed25519 public key from a file's text: SPKI PEM, or the 32 raw bytes in base64 or hex.
 * Throws a one-line `TypeError` for anything else (a private key included: it is not shared).
 */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.includes('PRIVATE KEY')) throw new TypeError('this is a private key; give the public one (fedmq keygen writes both)');
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) key = createPublicKey(trimmed);
    else {
      const raw = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
      if (raw.byteLength !== 32) throw new TypeError('not 32 bytes');
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    }
  } catch {
    throw new TypeError('not an Ed25519 public key (SPKI PEM, or 32 raw bytes in base64 or hex)');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  return key;
}

/** Checks signatures by `publicKey`, synchronously. */
export function signatureVerifier(publicKey: KeyObject): { keyId: string; verify: VerifySignature } {
  return { keyId: keyIdOf(rawPublicKey(publicKey)), verify: (data, sig) => verify(null, data, publicKey, sig) };
}

/** What a device started with `--trust` applies: the rules of protocol/signed.ts with this key. */
export function trustKey(fleet: string, publicKey: KeyObject): FleetTrust {
  const { keyId, verify: check } = signatureVerifier(publicKey);
  return new FleetTrust(fleet, keyId, check);
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x as string, 'base64url'));
}
