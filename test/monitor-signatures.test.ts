import { describe, expect, it } from 'vitest';
import { MessageSigner, rawPublicKey, signatureVerifier } from '../privacy/index.js';
import { build, encodeMessage, fleetTopics } from '../protocol/index.js';
import { renderTerminal } from '../monitor/terminal.js';
import { FleetState } from '../monitor/state.js';
import { webCryptoTrust } from '../monitor/signatures.js';

const topics = fleetTopics('lab');
const round = (n: number): Uint8Array => encodeMessage(build.round({
  round: n, globalVersion: 0, participants: ['pi-01'], deadline: 2000, issuedAt: 1000, codec: 'f32', seed: 1, epochs: 1, batchSize: 20, lr: 0.05,
}));

describe('the monitor shows whether the fleet\'s messages verify', () => {
  it('verified with the aggregator\'s key (node:crypto), failed for another key, unsigned for a bare message', () => {
    // Prepare
    const signer = MessageSigner.ephemeral();
    const state = new FleetState({ fleet: 'lab', trust: signatureVerifier(signer.publicKey) });

    // Execute + Assert: a signed round verifies; the state still reads it.
    state.ingest(topics.round, signer.seal('lab', round(1)), true, 1);
    expect(state.snapshot(2).signatures).toMatchObject({ state: 'verified', trustedKey: signer.keyId, byKind: { round: { state: 'verified', key: signer.keyId } } });
    expect(state.snapshot(2).round?.round).toBe(1);
    const stranger = MessageSigner.ephemeral();
    state.ingest(topics.round, stranger.seal('lab', round(2)), false, 3);
    expect(state.snapshot(4).signatures).toMatchObject({ state: 'failed', byKind: { round: { state: 'failed', key: stranger.keyId } } });
    state.ingest(topics.round, round(3), false, 5);
    expect(state.snapshot(6).signatures.byKind.round?.state).toBe('unsigned');
    expect(state.snapshot(6).signatures.counts).toEqual({ verified: 1, failed: 1, unverified: 0, unsigned: 1 });
    expect(renderTerminal(state.snapshot(6)).join('\n')).toMatch(/signed unsigned \(key [0-9a-f]{16}\) {2}round unsigned {2}1 failed/);
  });

  it('says unverified, and why, with no key to check with', () => {
    const state = new FleetState({ fleet: 'lab', trust: null, trustNote: 'no --trust key' });
    state.ingest(topics.round, MessageSigner.ephemeral().seal('lab', round(1)), true, 1);
    expect(state.snapshot(2).signatures).toMatchObject({ state: 'unverified', note: 'no --trust key' });
  });

  it('checks with WebCrypto Ed25519 where the runtime has it (the dashboard\'s way), asynchronously', async () => {
    // Prepare
    const signer = MessageSigner.ephemeral();
    const trust = await webCryptoTrust(rawPublicKey(signer.publicKey));
    // Node 20 has Ed25519 in WebCrypto; a runtime without it gets null and the view says unverified.
    expect(trust?.keyId).toBe(signer.keyId);
    const state = new FleetState({ fleet: 'lab', trust });

    // Execute
    state.ingest(topics.round, signer.seal('lab', round(1)), true, 1);
    const tampered = signer.seal('lab', round(2));
    tampered[tampered.length - 1]! ^= 1;
    state.ingest(topics.global, tampered, true, 2);
    for (let i = 0; i < 500 && !state.snapshot(3).signatures.byKind.global; i++) await new Promise((resolve) => setTimeout(resolve, 10));

    // Assert
    expect(state.snapshot(3).signatures.byKind).toMatchObject({ round: { state: 'verified' }, global: { state: 'failed' } });
  });
});
