import { describe, expect, it } from 'vitest';
import { Rng, build, encodeMessage, f32Codec, fleetTopics, type RoundMessage } from '../protocol/index.js';
import { FleetState } from './state.js';

const topics = fleetTopics('lab');
const T0 = 1_700_000_000_000;
const caps = { cpus: 4, memoryMb: 1024, backend: 'wasm', samples: 600 };

const status = (deviceId: string, state: 'online' | 'training' | 'offline', ts = T0): Uint8Array =>
  encodeMessage(build.status({ deviceId, state, ts, capabilities: caps }));
const roundMessage = (round: number, participants: string[], deadline = T0 + 60_000): RoundMessage =>
  build.round({ round, globalVersion: round - 1, participants, deadline, codec: 'f32', seed: 1, epochs: 1, batchSize: 10, lr: 0.1 });
const update = (round: number, deviceId: string, codec = 'f32'): Uint8Array =>
  encodeMessage(build.update({
    round, deviceId, numExamples: 10, codec, delta: f32Codec.encode(new Float32Array([3, 4]), new Rng(0)),
    metrics: { loss: 0.5, accuracy: 0.8 }, trainMs: 120,
  }));
const metrics = (round: number, accuracy: number, loss: number, rejectedByReason: Record<string, number> = {}): Uint8Array =>
  encodeMessage(build.metrics({
    round, accuracy, loss, participants: 2, accepted: 2, rejected: Object.values(rejectedByReason).reduce((a, b) => a + b, 0),
    rejectedByReason, bytesUp: 200, bytesDown: 800, trainMs: 240, aggregateMs: 1, wallMs: 1500,
  }));

describe('the fleet state of the monitor', () => {
  it('counts devices by their status and dates a retained status by its own timestamp', () => {
    // Prepare
    const state = new FleetState({ fleet: 'lab' });
    // Execute: two retained statuses on subscribe, then a live change.
    state.ingest(topics.status('pi-1'), status('pi-1', 'online', T0 - 5_000), true, T0);
    state.ingest(topics.status('pi-2'), status('pi-2', 'offline', T0 - 60_000), true, T0);
    state.ingest(topics.status('pi-3'), status('pi-3', 'online'), false, T0 + 1_000);
    state.ingest(topics.status('pi-3'), status('pi-3', 'training'), false, T0 + 2_000);
    const s = state.snapshot(T0 + 3_000);
    // Assert
    expect(s.devices).toMatchObject({ total: 3, online: 1, training: 1, offline: 1 });
    expect(s.devices.list.map((d) => [d.id, d.state])).toEqual([['pi-3', 'training'], ['pi-1', 'online'], ['pi-2', 'offline']]);
    expect(s.devices.list.find((d) => d.id === 'pi-2')).toMatchObject({ lastSeen: T0 - 60_000, backend: 'wasm', samples: 600 });
    expect(s.devices.list.find((d) => d.id === 'pi-3')!.lastSeen).toBe(T0 + 2_000);
  });

  it('forgets a device whose retained status was cleared', () => {
    const state = new FleetState({ fleet: 'lab' });
    state.ingest(topics.status('pi-1'), status('pi-1', 'online'), true, T0);
    state.ingest(topics.status('pi-1'), new Uint8Array(), false, T0 + 1);
    expect(state.snapshot(T0 + 2).devices.total).toBe(0);
  });

  it('follows a round: updates received of expected, the countdown, and who is still missing', () => {
    // Prepare
    const state = new FleetState({ fleet: 'lab' });
    // Execute
    state.ingest(topics.round, encodeMessage(roundMessage(1, ['pi-1', 'pi-2', 'pi-3'])), false, T0);
    state.ingest(topics.update('pi-2'), update(1, 'pi-2'), false, T0 + 2_000);
    const s = state.snapshot(T0 + 20_000);
    // Assert
    expect(s.round).toMatchObject({ round: 1, expected: 3, received: 1, pending: ['pi-1', 'pi-3'], remainingMs: 40_000, closed: false, rejected: 0, joinedLate: false });
    expect(s.devices.list[0]).toMatchObject({ id: 'pi-2', state: 'unknown', lastUpdateRound: 1, trainAccuracy: 0.8, trainMs: 120 });
    expect(s.devices.list[0]!.lastUpdateBytes).toBe(update(1, 'pi-2').byteLength);
  });

  it("infers rejections from traffic while the round is open, then takes the aggregator's numbers", () => {
    // Prepare
    const state = new FleetState({ fleet: 'lab' });
    state.ingest(topics.round, encodeMessage(roundMessage(4, ['pi-1', 'pi-2'])), true, T0);
    // Execute: garbage, a payload naming another device, a stale round, an outsider, a repeat, a wrong codec.
    state.ingest(topics.update('pi-1'), new Uint8Array([0xff, 0x00, 0x13]), false, T0 + 1);
    state.ingest(topics.update('pi-1'), update(4, 'pi-2'), false, T0 + 2);
    state.ingest(topics.update('pi-1'), update(3, 'pi-1'), false, T0 + 3);
    state.ingest(topics.update('pi-9'), update(4, 'pi-9'), false, T0 + 4);
    state.ingest(topics.update('pi-1'), update(4, 'pi-1'), false, T0 + 5);
    state.ingest(topics.update('pi-1'), update(4, 'pi-1'), false, T0 + 6);
    state.ingest(topics.update('pi-2'), update(4, 'pi-2', 'int8'), false, T0 + 7);
    const open = state.snapshot(T0 + 10).round!;
    state.ingest(topics.metrics, metrics(4, 0.9, 0.3, { malformed: 1, 'id-mismatch': 1, 'wrong-round': 1, 'not-selected': 1, duplicate: 1, 'bad-length': 1 }), false, T0 + 20);
    state.ingest(topics.update('pi-2'), update(4, 'pi-2'), false, T0 + 30);
    const closed = state.snapshot(T0 + 40).round!;
    // Assert
    expect(open).toMatchObject({
      received: 1, rejected: 6, rejectionsFrom: 'traffic', joinedLate: true,
      rejectedByReason: { malformed: 1, 'id-mismatch': 1, 'wrong-round': 1, 'not-selected': 1, duplicate: 1, 'bad-codec': 1 },
    });
    expect(closed).toMatchObject({ closed: true, remainingMs: 0, rejectionsFrom: 'aggregator', rejected: 6 });
    expect(closed.rejectedByReason['bad-length']).toBe(1);
    expect(state.snapshot(T0 + 40).invalid.count).toBe(1);
  });

  it('follows async mode: dispatches add devices in flight, updates fill the buffer of the next global', () => {
    // Prepare: an async aggregator's task (buffer 2) and its first dispatch.
    const state = new FleetState({ fleet: 'lab' });
    const task = build.task({ model: 'mlp', inputShape: [2], numClasses: 2, paramCount: 2, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 10, lr: 0.1 }, mode: 'async', buffer: 2 });
    state.ingest(topics.task, encodeMessage(task), false, T0);
    state.ingest(topics.round, encodeMessage(roundMessage(1, ['pi-1', 'pi-2'])), false, T0);
    // Execute: pi-1 reports and is sent off again; pi-2 reports on its older dispatch; pi-1 repeats itself.
    state.ingest(topics.update('pi-1'), update(1, 'pi-1'), false, T0 + 1);
    state.ingest(topics.round, encodeMessage(roundMessage(2, ['pi-1'])), false, T0 + 2);
    state.ingest(topics.update('pi-2'), update(1, 'pi-2'), false, T0 + 3);
    state.ingest(topics.update('pi-1'), update(1, 'pi-1'), false, T0 + 4);
    const full = state.snapshot(T0 + 5).round!;
    // pi-1's second update comes in before the global's metrics: the aggregator keeps it for the next global.
    state.ingest(topics.update('pi-1'), update(2, 'pi-1'), false, T0 + 5);
    state.ingest(topics.metrics, metrics(1, 0.9, 0.3, { duplicate: 1 }), false, T0 + 6);
    state.ingest(topics.update('pi-3'), update(2, 'pi-3'), false, T0 + 7);
    const next = state.snapshot(T0 + 8).round!;
    // Assert: nothing reported on an older dispatch counts as a wrong round.
    expect(full).toMatchObject({ mode: 'async', round: 1, expected: 2, received: 2, pending: ['pi-1'], rejectedByReason: { duplicate: 1 } });
    expect(next).toMatchObject({ mode: 'async', round: 2, received: 1, pending: [], rejectedByReason: { 'not-selected': 1 } });
  });

  it('keeps accuracy and loss per round, in round order, from the metrics messages', () => {
    const state = new FleetState({ fleet: 'lab' });
    state.ingest(topics.metrics, metrics(2, 0.91, 0.30), true, T0);
    state.ingest(topics.metrics, metrics(3, 0.93, 0.25), false, T0 + 1);
    state.ingest(topics.metrics, metrics(1, 0.88, 0.41), false, T0 + 2);
    const history = state.snapshot(T0 + 3).history;
    expect(history.map((h) => [h.round, h.accuracy, h.loss])).toEqual([[1, 0.88, 0.41], [2, 0.91, 0.30], [3, 0.93, 0.25]]);
    expect(history[0]).toMatchObject({ participants: 2, accepted: 2, bytesUp: 200, bytesDown: 800, wallMs: 1500 });
  });

  it('starts a new history when the aggregator starts over', () => {
    const state = new FleetState({ fleet: 'lab' });
    const task = encodeMessage(build.task({ model: 'mlp', inputShape: [2], numClasses: 2, paramCount: 2, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 10, lr: 0.1 } }));
    state.ingest(topics.task, task, true, T0);
    state.ingest(topics.round, encodeMessage(roundMessage(5, ['pi-1'])), true, T0);
    state.ingest(topics.metrics, metrics(4, 0.9, 0.3), true, T0);
    // A restarted aggregator: its round 1 (or its live task) ends the old history.
    state.ingest(topics.round, encodeMessage(roundMessage(1, ['pi-1'])), false, T0 + 1);
    expect(state.snapshot(T0 + 2).history).toEqual([]);
    state.ingest(topics.metrics, metrics(1, 0.5, 0.9), false, T0 + 3);
    state.ingest(topics.task, task, false, T0 + 4);
    expect(state.snapshot(T0 + 5).history).toEqual([]);
  });

  it('measures message and byte rates per topic family over the last ten seconds', () => {
    // Prepare
    const state = new FleetState({ fleet: 'lab' });
    const payload = update(1, 'pi-1');
    // Execute: 20 updates in the first 2 s, nothing for 20 s, then 5 statuses.
    for (let i = 0; i < 20; i++) state.ingest(topics.update('pi-1'), payload, false, T0 + i * 100);
    const early = state.snapshot(T0 + 1_999).traffic;
    for (let i = 0; i < 5; i++) state.ingest(topics.status('pi-1'), status('pi-1', 'online'), false, T0 + 22_000 + i);
    const late = state.snapshot(T0 + 22_500).traffic;
    // Assert: 20 messages over the 2 s seen so far, then none left in the window.
    expect(early.update).toMatchObject({ messages: 20, bytes: 20 * payload.byteLength, messagesPerSec: 10 });
    expect(late.update).toMatchObject({ messages: 20, messagesPerSec: 0, bytesPerSec: 0 });
    expect(late.status!.messagesPerSec).toBeCloseTo(0.5);
    expect(late.total!.messages).toBe(25);
  });

  it('reads the task, the global and the broker $SYS topics, and ignores other fleets', () => {
    const state = new FleetState({ fleet: 'lab' });
    const task = build.task({ model: 'mlp', inputShape: [28, 28, 1], numClasses: 10, paramCount: 2, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 10, lr: 0.1 } });
    state.ingest(topics.task, encodeMessage(task), true, T0);
    const global = encodeMessage(build.global({ version: 3, round: 2, codec: 'f32', weights: f32Codec.encode(new Float32Array(2), new Rng(0)), sha256: '0'.repeat(64) }));
    state.ingest(topics.global, global, true, T0);
    state.ingest(fleetTopics('other').status('pi-1'), status('pi-1', 'online'), true, T0);
    state.ingest(topics.status('pi-1'), status('pi-1', 'offline', T0 - 10_000), true, T0);
    state.ingest('$SYS/abc/new/clients', new TextEncoder().encode('pi-1'), false, T0 + 5);
    state.ingest('$SYS/abc/heartbeat', new TextEncoder().encode('abc'), false, T0 + 6);
    const s = state.snapshot(T0 + 10);
    expect(s.task).toMatchObject({ model: 'mlp', paramCount: 2, downlink: 'f32' });
    expect(s.global).toMatchObject({ version: 3, round: 2, bytes: global.byteLength });
    expect(s.devices.total).toBe(1);
    expect(s.devices.list[0]!.lastSeen).toBe(T0 + 5);
    expect(s.broker).toMatchObject({ sys: 'allowed', brokerId: 'abc', connects: 1, clientsSeen: 1, lastHeartbeat: T0 + 6 });
    expect(s.traffic.other!.messages).toBe(1);
    expect(s.traffic.$SYS!.messages).toBe(2);
  });

  it('counts messages that fail validation instead of throwing', () => {
    const state = new FleetState({ fleet: 'lab' });
    expect(() => {
      state.ingest(topics.status('pi-1'), encodeMessage(build.status({ deviceId: 'pi-2', state: 'online', ts: T0 })), false, T0);
      state.ingest(topics.round, new Uint8Array([1, 2, 3]), false, T0);
      state.ingest(topics.metrics, encodeMessage(build.status({ deviceId: 'pi-1', state: 'online', ts: T0 })), false, T0);
    }).not.toThrow();
    const s = state.snapshot(T0);
    expect(s.invalid.count).toBe(3);
    expect(s.invalid.last?.topic).toBe(topics.metrics);
    expect(s.devices.total).toBe(0);
    expect(s.round).toBeNull();
  });
});
