import { describe, expect, it } from 'vitest';
import { Rng, build, builtinTask, encodeMessage, f32Codec, fleetTopics, taskLayout, type RoundMessage } from '../protocol/index.js';
import { FleetState } from './state.js';

const topics = fleetTopics('lab');
const T0 = 1_700_000_000_000;
const caps = { cpus: 4, memoryMb: 1024, backend: 'wasm', samples: 600 };
const mlp = builtinTask('mlp');
const MLP_PARAMS = taskLayout(mlp).paramCount;

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

const kindRound = (kind: 'evaluate' | 'statistics', round: number, globalVersion: number, participants: string[], deadline = T0 + 60_000): Uint8Array =>
  encodeMessage(build.round({ kind, round, globalVersion, participants, deadline, codec: 'f32', seed: 1, epochs: 1, batchSize: 10, lr: 0.1 }));
const evaluation = (round: number, deviceId: string, globalVersion: number, loss: number, accuracy: number): Uint8Array =>
  encodeMessage(build.evaluation({ round, deviceId, globalVersion, count: 50, loss, metrics: { accuracy }, sums: { loss: loss * 50, correct: accuracy * 50 } }));
const statistics = (deviceId: string): Uint8Array =>
  encodeMessage(build.statistics({ round: 1, deviceId, count: [10], sum: [5], sumSquares: [3] }));
const federated = { globalVersion: 1, devices: 2, count: 100, loss: 0.35, metrics: { accuracy: 0.85 }, spread: { loss: { min: 0.3, median: 0.35, max: 0.4 }, accuracy: { min: 0.8, median: 0.85, max: 0.9 } } };

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
    const task = build.task({ model: 'mlp', task: mlp, paramCount: MLP_PARAMS, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 10, lr: 0.1 }, mode: 'async', buffer: 2 });
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
    const task = encodeMessage(build.task({ model: 'mlp', task: mlp, paramCount: MLP_PARAMS, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 10, lr: 0.1 } }));
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

  it('shows statistics and evaluate round messages as phases of a round, not as training rounds', () => {
    // Prepare: a fleet-standardised task, then the statistics round before round 1.
    const state = new FleetState({ fleet: 'lab' });
    const task = (standardize: { mean: number[]; std: number[] } | 'fleet'): Uint8Array =>
      encodeMessage(build.task({ model: 'mlp', task: { ...mlp, preprocessing: { standardize } }, paramCount: MLP_PARAMS, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 10, lr: 0.1 } }));
    state.ingest(topics.task, task('fleet'), false, T0);
    state.ingest(topics.round, kindRound('statistics', 1, 0, ['pi-1', 'pi-2']), false, T0);
    // Execute: statistics from pi-1 and from an outsider, then the task again with the fleet's statistics.
    state.ingest(topics.update('pi-1'), statistics('pi-1'), false, T0 + 1);
    state.ingest(topics.update('pi-9'), statistics('pi-9'), false, T0 + 2);
    const gathering = state.snapshot(T0 + 3);
    state.ingest(topics.task, task({ mean: [0.1], std: [0.3] }), false, T0 + 4);
    const gathered = state.snapshot(T0 + 5);
    // Round 1 trains, then its new global is evaluated by both devices.
    state.ingest(topics.round, encodeMessage(roundMessage(1, ['pi-1', 'pi-2'])), false, T0 + 10);
    const training = state.snapshot(T0 + 11);
    state.ingest(topics.update('pi-1'), update(1, 'pi-1'), false, T0 + 12);
    state.ingest(topics.round, kindRound('evaluate', 1, 1, ['pi-1', 'pi-2']), false, T0 + 20);
    state.ingest(topics.update('pi-1'), evaluation(1, 'pi-1', 1, 0.3, 0.9), false, T0 + 21);
    // An answer about another global, and one naming another device, do not count.
    state.ingest(topics.update('pi-2'), evaluation(1, 'pi-2', 0, 0.9, 0.1), false, T0 + 22);
    state.ingest(topics.update('pi-2'), evaluation(1, 'pi-1', 1, 0.9, 0.1), false, T0 + 23);
    // A training update after the round closed is refused as the aggregator would.
    state.ingest(topics.update('pi-2'), update(1, 'pi-2'), false, T0 + 24);
    const evaluating = state.snapshot(T0 + 30);
    state.ingest(topics.metrics, encodeMessage(build.metrics({
      round: 1, accuracy: 0.85, loss: 0.35, federated, participants: 2, accepted: 2, rejected: 0, rejectedByReason: {},
      bytesUp: 200, bytesDown: 800, trainMs: 240, aggregateMs: 1, wallMs: 1500,
    })), false, T0 + 40);
    const reported = state.snapshot(T0 + 41);
    state.ingest(topics.round, encodeMessage(roundMessage(2, ['pi-1', 'pi-2'])), false, T0 + 50);
    const next = state.snapshot(T0 + 51);

    // Assert: statistics before round 1 are no round; the outsider is not counted.
    expect(gathering.round).toBeNull();
    expect(gathering.phase).toMatchObject({ kind: 'statistics', round: 1, expected: 2, received: 1, pending: ['pi-2'], done: false, remainingMs: 60_000 - 3 });
    expect(gathered.phase).toMatchObject({ kind: 'statistics', done: true, remainingMs: 0 });
    expect(training.phase).toBeNull();
    expect(training.round).toMatchObject({ round: 1, expected: 2 });
    // The evaluation is a phase of round 1: round 1 stopped collecting (pi-2's late update is refused); no evaluation counts as an update.
    expect(evaluating.round).toMatchObject({ round: 1, received: 1, rejected: 1, rejectedByReason: { 'round-closed': 1 }, remainingMs: 0 });
    expect(evaluating.phase).toMatchObject({ kind: 'evaluate', round: 1, globalVersion: 1, expected: 2, received: 1, pending: ['pi-2'], done: false });
    expect(evaluating.invalid.count).toBe(0);
    expect(evaluating.devices.list.find((d) => d.id === 'pi-1')).toMatchObject({ evalRound: 1, evalGlobalVersion: 1, evalCount: 50, evalLoss: 0.3, evalMetrics: { accuracy: 0.9 } });
    expect(evaluating.devices.list.find((d) => d.id === 'pi-2')).toMatchObject({ evalGlobalVersion: 0, evalLoss: 0.9 });
    // The metrics carry the fleet's evaluation of global 1: the phase is done, the history has one round.
    expect(reported.phase).toMatchObject({ kind: 'evaluate', done: true });
    expect(reported.history.map((h) => h.round)).toEqual([1]);
    expect(reported.evaluation).toEqual({ round: 1, federated });
    expect(next.phase).toBeNull();
    expect(next.round).toMatchObject({ round: 2, received: 0 });
    expect(next.evaluation?.round).toBe(1);
  });

  it('takes a catch-up request on update/{id} as protocol traffic, not as an invalid update', () => {
    // Prepare
    const state = new FleetState({ fleet: 'lab' });
    state.ingest(topics.status('pi-1'), status('pi-1', 'online'), true, T0);
    // Execute: pi-1 asks for the versions it missed; a stranger's junk on pi-2's topic.
    state.ingest(topics.update('pi-1'), encodeMessage(build.sync({ deviceId: 'pi-1', round: 3, have: 1 })), false, T0 + 1);
    state.ingest(topics.update('pi-2'), encodeMessage({ v: 1, type: 'sync', deviceId: 'pi-2', round: 0, have: -7 } as never), false, T0 + 2);
    const s = state.snapshot(T0 + 3);
    // Assert: the valid sync counts as nothing wrong; the malformed one (round 0, have -7) is invalid.
    expect(s.invalid.count).toBe(1);
    expect(s.invalid.last?.topic).toBe(topics.update('pi-2'));
  });

  it('keeps the central and federated evaluation, and a NaN accuracy, from the metrics messages', () => {
    // Prepare: a regression task's metrics: no accuracy; central and federated metrics by name.
    const state = new FleetState({ fleet: 'lab' });
    const body = { participants: 2, accepted: 2, rejected: 0, rejectedByReason: {}, bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 1 };
    const fed = { ...federated, metrics: { meanSquaredError: 0.5 }, spread: { loss: { min: 0.1, median: 0.2, max: 0.9 }, meanSquaredError: { min: 0.1, median: 0.4, max: 1.2 } } };
    // Execute
    state.ingest(topics.metrics, encodeMessage(build.metrics({ round: 1, accuracy: NaN, loss: 0.6, central: { meanSquaredError: 0.6 }, federated: fed, ...body })), false, T0);
    state.ingest(topics.metrics, encodeMessage(build.metrics({ round: 2, accuracy: NaN, loss: NaN, ...body })), false, T0 + 1);
    const s = state.snapshot(T0 + 2);
    // Assert: round 2 evaluated nothing; the last evaluation shown is round 1's, central with the message's loss.
    expect(s.invalid.count).toBe(0);
    expect(s.history.map((h) => [h.round, h.accuracy, h.loss])).toEqual([[1, NaN, 0.6], [2, NaN, NaN]]);
    expect(s.history[0]).toMatchObject({ central: { meanSquaredError: 0.6 }, federated: fed });
    expect(s.evaluation).toEqual({ round: 1, federated: fed, central: { loss: 0.6, meanSquaredError: 0.6 } });
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
    const task = build.task({ model: 'mlp', task: mlp, paramCount: MLP_PARAMS, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 10, lr: 0.1 } });
    state.ingest(topics.task, encodeMessage(task), true, T0);
    const global = encodeMessage(build.global({ version: 3, round: 2, codec: 'f32', weights: f32Codec.encode(new Float32Array(2), new Rng(0)), sha256: '0'.repeat(64) }));
    state.ingest(topics.global, global, true, T0);
    state.ingest(fleetTopics('other').status('pi-1'), status('pi-1', 'online'), true, T0);
    state.ingest(topics.status('pi-1'), status('pi-1', 'offline', T0 - 10_000), true, T0);
    state.ingest('$SYS/abc/new/clients', new TextEncoder().encode('pi-1'), false, T0 + 5);
    state.ingest('$SYS/abc/heartbeat', new TextEncoder().encode('abc'), false, T0 + 6);
    const s = state.snapshot(T0 + 10);
    expect(s.task).toMatchObject({ model: 'mlp', paramCount: MLP_PARAMS, downlink: 'f32', task: { name: 'mlp', output: { kind: 'classes', classes: 10 } } });
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
