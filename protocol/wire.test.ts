import { describe, expect, it } from 'vitest';
import { Encoder } from 'cbor-x';
import { DecodeError } from './errors.js';
import { build, decodeMessage, encodeMessage } from './wire.js';
import { fleetTopics, parseTopic } from './topics.js';
import { builtinTask, parseTask } from './task.js';

/** A task of 3 parameters: one linear unit over 2 features. */
const tiny = parseTask({ input: { shape: [2] }, output: { kind: 'regression', outputs: 1 }, model: { layers: [{ kind: 'dense', units: 1 }] } });

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as DecodeError).reason;
  }
  return 'accepted';
}

describe('messages on the wire', () => {
  it('round-trips every message type with typed arrays intact', () => {
    // Prepare
    const weights = new Uint8Array([1, 0, 0, 0, 3, 0, 0, 0]);
    const messages = [
      build.task({ model: 'mlp', task: builtinTask('mlp'), paramCount: 101_770, codec: 'int8', downlink: 'delta:f16', defaults: { epochs: 1, batchSize: 20, lr: 0.05 } }),
      build.task({ model: 'task', task: tiny, paramCount: 3, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 20, lr: 0.05 }, mode: 'async', buffer: 10 }),
      build.global({ version: 2, round: 1, codec: 'f32', weights, sha256: 'ab'.repeat(32) }),
      build.globalDelta({ version: 3, baseVersion: 2, round: 2, codec: 'f16', delta: weights, sha256: 'cd'.repeat(32) }),
      build.round({ round: 3, globalVersion: 2, participants: ['a', 'b'], deadline: 1_700_000_000_000, codec: 'int8', seed: 7, epochs: 1, batchSize: 20, lr: 0.1 }),
      build.round({ kind: 'evaluate', round: 3, globalVersion: 3, participants: ['a'], deadline: 1_700_000_000_000, codec: 'int8', seed: 7, epochs: 1, batchSize: 20, lr: 0.1 }),
      build.evaluation({ round: 3, deviceId: 'dev-1', globalVersion: 3, count: 40, loss: 0.2, metrics: { accuracy: 0.9, f1: 0.5 }, sums: { loss: 8, correct: 36, tp: 2, fp: 1, fn: 3, tn: 34 } }),
      build.evaluation({ round: 3, deviceId: 'dev-2', globalVersion: 3, count: 0, loss: 0, metrics: {}, sums: {}, error: 'no held-out data' }),
      build.statistics({ round: 1, deviceId: 'dev-1', count: [10, 10], sum: [215.5, -3], sumSquares: [4700.25, 9] }),
      build.update({ round: 3, deviceId: 'dev-1', numExamples: 600, codec: 'f32', delta: new Uint8Array([1, 2, 3]), metrics: { loss: 0.3, accuracy: 0.9 }, trainMs: 120 }),
      build.status({ deviceId: 'dev-1', state: 'online', ts: 1, capabilities: { cpus: 4, memoryMb: 1024, backend: 'wasm', samples: 600 } }),
      build.metrics({ round: 1, accuracy: 0.9, loss: 0.3, participants: 10, accepted: 9, rejected: 1, rejectedByReason: { 'bad-length': 1 }, bytesUp: 10, bytesDown: 20, trainMs: 5, aggregateMs: 1, wallMs: 6 }),
      build.metrics({
        round: 2, accuracy: NaN, loss: 0.1, participants: 4, accepted: 4, rejected: 0, rejectedByReason: {}, bytesUp: 10, bytesDown: 20, trainMs: 5, aggregateMs: 1, wallMs: 6,
        central: { meanSquaredError: 0.1 },
        federated: { globalVersion: 2, devices: 4, count: 80, loss: 0.12, metrics: { meanSquaredError: 0.12 }, spread: { loss: { min: 0.05, median: 0.1, max: 0.3 } } },
      }),
    ];
    for (const m of messages) {
      // Execute
      const decoded = decodeMessage(m.type, encodeMessage(m));
      // Assert
      expect(decoded).toEqual(m);
    }
  });

  it('rejects garbage, oversize, the wrong type, another version and bad fields with reasons', () => {
    const status = build.status({ deviceId: 'd', state: 'online', ts: 1 });
    const raw = new Encoder({ useRecords: false, mapsAsObjects: true });
    expect(reasonOf(() => decodeMessage('status', new Uint8Array([0xff, 0x00, 0x13])))).toBe('malformed');
    expect(reasonOf(() => decodeMessage('status', encodeMessage(status), { maxBytes: 8 }))).toBe('too-large');
    expect(reasonOf(() => decodeMessage('update', encodeMessage(status)))).toBe('bad-type');
    expect(reasonOf(() => decodeMessage('status', raw.encode({ ...status, v: 99 })))).toBe('bad-version');
    expect(reasonOf(() => decodeMessage('status', raw.encode({ ...status, state: 'asleep' })))).toBe('bad-field');
    expect(reasonOf(() => decodeMessage('status', raw.encode({ ...status, deviceId: 'a/b' })))).toBe('bad-field');
    expect(reasonOf(() => decodeMessage('status', raw.encode([1, 2])))).toBe('malformed');
    const task = build.task({ model: 'task', task: tiny, paramCount: 3, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 20, lr: 0.05 } });
    expect(reasonOf(() => decodeMessage('task', raw.encode({ ...task, mode: 'eventual' })))).toBe('bad-field');
    expect(reasonOf(() => decodeMessage('task', raw.encode({ ...task, mode: 'async', buffer: 0 })))).toBe('bad-field');
    // The task is checked whole, and must agree with the parameter count.
    expect(reasonOf(() => decodeMessage('task', raw.encode({ ...task, paramCount: 4 })))).toBe('bad-field');
    expect(reasonOf(() => decodeMessage('task', raw.encode({ ...task, task: { ...tiny, model: { layers: [{ kind: 'dense', units: 0 }] } } })))).toBe('bad-field');
    expect(reasonOf(() => decodeMessage('task', raw.encode({ ...task, task: 'mlp' })))).toBe('bad-field');
    // Device replies: one entry per feature, counts whole, metrics bounded.
    const stats = build.statistics({ round: 1, deviceId: 'd', count: [1], sum: [1], sumSquares: [1] });
    expect(reasonOf(() => decodeMessage('statistics', raw.encode({ ...stats, sum: [1, 2] })))).toBe('bad-field');
    expect(reasonOf(() => decodeMessage('statistics', raw.encode({ ...stats, count: [0.5] })))).toBe('bad-field');
    expect(reasonOf(() => decodeMessage('statistics', raw.encode({ ...stats, sumSquares: [-1] })))).toBe('bad-field');
    const evaluation = build.evaluation({ round: 1, deviceId: 'd', globalVersion: 1, count: 1, loss: 1, metrics: {}, sums: {} });
    expect(reasonOf(() => decodeMessage('evaluation', raw.encode({ ...evaluation, metrics: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`m${i}`, 1])) })))).toBe('bad-field');
    expect(reasonOf(() => decodeMessage('evaluation', raw.encode({ ...evaluation, loss: Infinity })))).toBe('bad-field');
    // One decoder for what a device may send on update/{id}.
    expect(decodeMessage(['update', 'evaluation', 'statistics'], encodeMessage(stats)).type).toBe('statistics');
    expect(reasonOf(() => decodeMessage(['update', 'evaluation'], encodeMessage(stats)))).toBe('bad-type');
  });

  it('refuses a global whose sha256 is not a hex digest', () => {
    const g = build.global({ version: 1, round: 0, codec: 'f32', weights: new Uint8Array(8), sha256: '00'.repeat(32) });
    const raw = new Encoder({ useRecords: false, mapsAsObjects: true });
    expect(reasonOf(() => decodeMessage('global', raw.encode({ ...g, sha256: 'xyz' })))).toBe('bad-field');
  });
});

describe('topics', () => {
  it('builds the fleet topics of DESIGN.md and parses them back', () => {
    const t = fleetTopics('home');
    expect(t.update('pi-1')).toBe('fedmq/v1/home/update/pi-1');
    expect(parseTopic(t.status('pi-1'))).toEqual({ kind: 'status', fleet: 'home', deviceId: 'pi-1' });
    expect(parseTopic(t.round)).toEqual({ kind: 'round', fleet: 'home' });
    expect(parseTopic('fedmq/v1/home/update/a/b')).toBeNull();
    expect(parseTopic('other/topic')).toBeNull();
  });

  it('refuses ids that would break the topic tree', () => {
    expect(() => fleetTopics('a/b')).toThrow(/fleet/);
    expect(() => fleetTopics().update('+')).toThrow(/id/);
    expect(() => fleetTopics().status('#')).toThrow(/id/);
  });
});
