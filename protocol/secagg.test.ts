import { describe, expect, it } from 'vitest';
import { Encoder } from 'cbor-x';
import { DecodeError } from './errors.js';
import { DEVICE_MESSAGE_TYPES, build, decodeMessage, encodeMessage } from './wire.js';
import { builtinTask } from './taskBuiltins.js';
import { taskLayout } from './taskLayout.js';
import { MAX_SECAGG_NEIGHBOURS, SECAGG_AGGREGATOR_TYPES, SECAGG_DEVICE_TYPES } from './secagg.js';

/** The secure-aggregation messages on the wire: round trips, and every hostile size, count and id refused. */
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });
const key = (b = 1): Uint8Array => new Uint8Array(32).fill(b);
const peer = (id: string) => ({ deviceId: id, maskPublicKey: key(2), encPublicKey: key(3) });
const setup = (over: Record<string, unknown> = {}) => ({
  ...build.secaggSetup({ round: 1, deviceId: 'a', n: 5, k: 2, t: 2, vectorLength: 10, prg: 'aes-256-ctr', neighbours: [peer('b'), peer('c')] }), ...over,
});

function refused(message: Record<string, unknown>): DecodeError {
  try {
    decodeMessage([...SECAGG_DEVICE_TYPES, ...SECAGG_AGGREGATOR_TYPES], cbor.encode(message));
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return e as DecodeError;
  }
  throw new Error('accepted');
}

describe('secure-aggregation messages on the wire', () => {
  it('round-trip every message, typed arrays included', () => {
    const masked = build.secaggMasked({ round: 3, deviceId: 'd-1', masked: Uint32Array.of(0, 1, 0xffffffff) });
    expect(decodeMessage('secaggMasked', encodeMessage(masked))).toEqual(masked);
    expect(decodeMessage('secaggSetup', encodeMessage(setup()))).toEqual(setup());
    const response = build.secaggUnmaskResponse({ round: 1, deviceId: 'a', selfSeedShares: [{ of: 'b', share: new Uint8Array(33) }], maskKeyShares: [] });
    expect(decodeMessage('secaggUnmaskResponse', encodeMessage(response))).toEqual(response);
    expect(DEVICE_MESSAGE_TYPES).toEqual(expect.arrayContaining([...SECAGG_DEVICE_TYPES]));
  });

  it('refuses hostile fields', () => {
    const keys = build.secaggKeys({ round: 1, deviceId: 'a', maskPublicKey: key(), encPublicKey: key() });
    expect(refused({ ...keys, maskPublicKey: new Uint8Array(31) }).message).toMatch(/32 bytes/);
    expect(refused({ ...keys, encPublicKey: new Uint8Array(1 << 20) }).reason).toBe('bad-field');
    expect(refused({ ...keys, deviceId: 'a/b' }).message).toMatch(/valid device id/);
    expect(refused({ ...keys, round: 0 }).reason).toBe('bad-field');
    expect(refused({ ...keys, v: 2 }).reason).toBe('bad-version');
    // A setup: k neighbours, other than the recipient, no repeats; k < n, 2 <= t <= k <= 255.
    expect(refused(setup({ neighbours: [peer('b')] })).message).toMatch(/k neighbours/);
    expect(refused(setup({ neighbours: [peer('b'), peer('b')] })).message).toMatch(/twice/);
    expect(refused(setup({ neighbours: [peer('a'), peer('b')] })).message).toMatch(/other than its recipient/);
    expect(refused(setup({ t: 3 })).reason).toBe('bad-field');
    expect(refused(setup({ k: 256 })).reason).toBe('bad-field');
    expect(refused(setup({ n: 2 })).reason).toBe('bad-field');
    expect(refused(setup({ prg: 'rc4' })).reason).toBe('bad-field');
    expect(refused(setup({ vectorLength: 1e12 })).reason).toBe('bad-field');
    const many = Array.from({ length: MAX_SECAGG_NEIGHBOURS + 1 }, (_, i) => ({ peer: `p${i}`, box: new Uint8Array(94) }));
    const shares = build.secaggShares({ round: 1, deviceId: 'a', selfSeedCommitment: key(), boxes: [] });
    expect(refused({ ...shares, boxes: many }).message).toMatch(/at most 255/);
    expect(refused({ ...shares, boxes: [{ peer: 'b', box: new Uint8Array(257) }] }).reason).toBe('bad-field');
    expect(refused({ ...shares, boxes: [{ peer: 'b', box: 'x' }] }).reason).toBe('bad-field');
    expect(refused({ ...shares, boxes: [7] }).message).toMatch(/maps/);
    const masked = build.secaggMasked({ round: 1, deviceId: 'a', masked: Uint32Array.of(1) });
    expect(refused({ ...masked, masked: new Uint8Array(8) }).message).toMatch(/uint32/);
    expect(refused({ ...masked, masked: new Uint32Array(0) }).message).toMatch(/uint32/);
    const request = build.secaggUnmaskRequest({ round: 1, deviceId: 'a', survivors: ['b'], dropped: ['c'] });
    expect(refused({ ...request, dropped: ['b'] }).message).toMatch(/both surviving and dropped/);
    expect(refused({ ...request, survivors: ['b', 'b'] }).reason).toBe('bad-field');
    const response = build.secaggUnmaskResponse({ round: 1, deviceId: 'a', selfSeedShares: [], maskKeyShares: [] });
    expect(refused({ ...response, maskKeyShares: [{ of: 'b', share: new Uint8Array(32) }] }).message).toMatch(/33 bytes/);
    expect(refused({ ...response, selfSeedShares: [{ of: 'b', share: new Uint8Array(33) }, { of: 'b', share: new Uint8Array(33) }] }).message).toMatch(/twice/);
  });

  it('carries task.secagg bounded', () => {
    const task = build.task({
      model: 'mlp', task: builtinTask('mlp'), paramCount: taskLayout(builtinTask('mlp')).paramCount, codec: 'f32', downlink: 'f32',
      defaults: { epochs: 1, batchSize: 20, lr: 0.05 }, secagg: { clip: 0.5, normClip: 2 },
    });
    expect(decodeMessage('task', encodeMessage(task)).secagg).toEqual({ clip: 0.5, normClip: 2 });
    expect(() => decodeMessage('task', cbor.encode({ ...task, secagg: { clip: -1 } }))).toThrow(/"clip"/);
    expect(() => decodeMessage('task', cbor.encode({ ...task, secagg: { clip: 1, normClip: Infinity } }))).toThrow(/"normClip"/);
  });
});
