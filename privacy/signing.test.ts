import { describe, expect, it } from 'vitest';
import {
  UntrustedMessageError, build, decodeMessage, encodeMessage, openEnvelope, signingInput, type TrustRefusal,
} from '../protocol/index.js';
import { MessageSigner, generateSigningKey, parsePublicKey, signatureVerifier, trustKey } from './signing.js';

const global = (version: number): Uint8Array => encodeMessage(build.global({ version, round: version, codec: 'f32', weights: new Uint8Array(8), sha256: '0'.repeat(64) }));
const round = (n: number, issuedAt: number, deadline: number): Uint8Array => encodeMessage(build.round({
  round: n, globalVersion: 0, participants: ['pi-01'], deadline, issuedAt, codec: 'f32', seed: 1, epochs: 1, batchSize: 20, lr: 0.05,
}));

function refusal(run: () => unknown): TrustRefusal | 'none' {
  try {
    run();
    return 'none';
  } catch (error) {
    if (error instanceof UntrustedMessageError) return error.reason;
    throw error;
  }
}

describe('signed fleet messages (Ed25519, node:crypto)', () => {
  it('seals the exact bytes: a reader that does not verify decodes the message as it was, a trusting one verifies it', () => {
    const signer = MessageSigner.ephemeral();
    const bytes = global(3);
    const sealed = signer.seal('lab', bytes);
    expect(openEnvelope(sealed)?.payload).toEqual(bytes);
    expect(decodeMessage('global', sealed).version).toBe(3);
    expect(signer.trust('lab').open('global', sealed)).toEqual(bytes);
  });

  it('refuses unsigned, another key, altered bytes, another fleet', () => {
    const signer = MessageSigner.ephemeral();
    const trust = signer.trust('lab');
    const sealed = signer.seal('lab', global(1));
    const altered = new Uint8Array(sealed);
    altered[altered.length - 1]! ^= 1;
    expect(refusal(() => trust.open('global', global(1)))).toBe('unsigned');
    expect(refusal(() => trust.open('global', MessageSigner.ephemeral().seal('lab', global(1))))).toBe('other-key');
    expect(refusal(() => trust.open('global', altered))).toBe('bad-signature');
    expect(refusal(() => trust.open('global', signer.seal('other-fleet', global(1))))).toBe('bad-signature');
    expect(refusal(() => trust.open('global', sealed))).toBe('none');
  });

  it('verifies each step and full copy inside a catch-up', () => {
    const signer = MessageSigner.ephemeral();
    const trust = signer.trust('lab');
    const step = (v: number): Uint8Array => encodeMessage(build.globalDelta({ version: v, baseVersion: v - 1, round: v, codec: 'f32', delta: new Uint8Array(8), sha256: '0'.repeat(64) }));
    expect(refusal(() => trust.openCatchUp({ steps: [signer.seal('lab', step(2)), signer.seal('lab', step(3))] }))).toBe('none');
    expect(refusal(() => trust.openCatchUp({ steps: [signer.seal('lab', step(2)), step(3)] }))).toBe('unsigned');
    expect(refusal(() => trust.openCatchUp({ full: MessageSigner.ephemeral().seal('lab', global(3)) }))).toBe('other-key');
  });

  it('refuses a global older than the one held, an expired round and a round issued before the newest taken', () => {
    const trust = MessageSigner.ephemeral().trust('lab');
    expect(refusal(() => trust.freshGlobal('global', 4, 5))).toBe('replay');
    expect(refusal(() => trust.freshGlobal('global', 5, 5))).toBe('none');
    expect(refusal(() => trust.freshRound(decodeMessage('round', round(2, 1000, 2000)), 2500))).toBe('expired');
    expect(refusal(() => trust.freshRound(decodeMessage('round', round(3, 3000, 9000)), 3500))).toBe('none');
    expect(refusal(() => trust.freshRound(decodeMessage('round', round(3, 3000, 9000)), 3600))).toBe('none');
    expect(refusal(() => trust.freshRound(decodeMessage('round', round(2, 1000, 9000)), 3700))).toBe('replay');
  });

  it('reads keys as keygen writes them (PEM) and public keys as 32 raw bytes in hex or base64', () => {
    const { privatePem, publicPem, keyId } = generateSigningKey();
    const signer = MessageSigner.fromPem(privatePem);
    expect(signer.keyId).toBe(keyId);
    const pub = parsePublicKey(publicPem);
    const raw = Buffer.from(pub.export({ format: 'jwk' }).x as string, 'base64url');
    expect(signatureVerifier(parsePublicKey(raw.toString('hex'))).keyId).toBe(keyId);
    expect(signatureVerifier(parsePublicKey(raw.toString('base64'))).keyId).toBe(keyId);
    const sealed = signer.seal('f', global(1));
    expect(trustKey('f', pub).open('global', sealed).byteLength).toBeGreaterThan(0);
    expect(() => parsePublicKey(privatePem)).toThrow(/private key/);
    expect(() => parsePublicKey('hello')).toThrow(/not an Ed25519 public key/);
    expect(() => MessageSigner.fromPem(publicPem)).toThrow(/not a PEM private key/);
    const envelope = openEnvelope(sealed)!;
    expect(signatureVerifier(pub).verify(signingInput('f', envelope.payload), envelope.sig)).toBe(true);
  });
});
