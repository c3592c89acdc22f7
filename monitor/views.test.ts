import { describe, expect, it } from 'vitest';
import { encode } from 'cbor-x';
import { Rng, build, builtinTask, encodeMessage, fleetTopics, int8Codec, parseCodec, parseTask, taskLayout } from '../protocol/index.js';
import { MAX_METRICS_SHOWN, boundedRecord, evaluationRows, formatMetric, mainMetric } from './evaluation.js';
import { sparkline } from './format.js';
import { inspectPayload, l2, topicLine } from './inspect.js';
import { FleetState } from './state.js';
import { frameSignature, renderTerminal } from './terminal.js';

const topics = fleetTopics('default');
const T0 = 1_700_000_000_000;

describe('the payload inspector', () => {
  it("summarises an update's delta by decoding it with its codec: length and L2 norm", () => {
    // Prepare: an int8 update of a 3,000-parameter model.
    const delta = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i) * 0.01);
    const bytes = int8Codec().encode(delta, new Rng(1));
    const payload = encodeMessage(build.update({ round: 2, deviceId: 'pi-1', numExamples: 50, codec: 'int8', delta: bytes, metrics: { loss: 1, accuracy: 0.5 }, trainMs: 9 }));
    // Execute
    const { format, value } = inspectPayload(topics.update('pi-1'), payload, { paramCount: 3000 });
    // Assert: the norm is that of what the aggregator will decode.
    const decoded = parseCodec('int8').decode(bytes, 3000);
    expect(format).toBe('cbor');
    expect(value).toMatchObject({ type: 'update', round: 2, deviceId: 'pi-1', delta: { $bytes: bytes.byteLength, codec: 'int8', values: 3000 } });
    expect((value as { delta: { l2: number } }).delta.l2).toBeCloseTo(l2(decoded), 4);
  });

  it('shows large typed arrays and byte strings as a summary, small ones whole', () => {
    const payload = encode({ weights: new Float32Array([3, 4, ...new Array(98).fill(0)]), tiny: new Float32Array([1, 2]), blob: new Uint8Array(1000), id: new Uint8Array([0xca, 0xfe]) });
    const { value } = inspectPayload('lab/raw', payload);
    expect(value).toEqual({ weights: { $typed: 'Float32Array', length: 100, l2: 5, min: 0, max: 4 }, tiny: [1, 2], blob: { $bytes: 1000 }, id: '0xcafe' });
  });

  it('reads $SYS payloads as text, or JSON when they are', () => {
    expect(inspectPayload('$SYS/x/new/clients', new TextEncoder().encode('pi-1'))).toEqual({ format: 'text', value: 'pi-1' });
    expect(inspectPayload('$SYS/x/new/subscribes', new TextEncoder().encode('{"clientId":"a"}'))).toEqual({ format: 'json', value: { clientId: 'a' } });
    expect(inspectPayload('x', new Uint8Array([0xff, 0xfe, 0xfd, 0xfc]))).toMatchObject({ format: 'binary' });
  });

  it('prints one line per message, or one JSON object with --json', () => {
    const message = { topic: topics.status('pi-1'), payload: encodeMessage(build.status({ deviceId: 'pi-1', state: 'online', ts: 5 })), retained: true, at: T0 };
    expect(topicLine(message)).toMatch(/^\d\d:\d\d:\d\d\.\d{3} fedmq\/v1\/default\/status\/pi-1 \[retained\] \(\d+ B\) \{"v":1,"type":"status","deviceId":"pi-1","state":"online","ts":5\}$/);
    expect(JSON.parse(topicLine(message, { json: true }))).toMatchObject({ ts: T0, topic: message.topic, retained: true, format: 'cbor', payload: { state: 'online' } });
  });
});

describe('the terminal view', () => {
  function fleet(): FleetState {
    const state = new FleetState({ fleet: 'default', url: 'mqtt://hub:1883' });
    state.connection('connected', T0);
    state.ingest(topics.status('pi-1'), encodeMessage(build.status({ deviceId: 'pi-1', state: 'training', ts: T0 })), false, T0);
    state.ingest(topics.round, encodeMessage(build.round({ round: 3, globalVersion: 2, participants: ['pi-1'], deadline: T0 + 90_000, codec: 'int8', seed: 1, epochs: 1, batchSize: 20, lr: 0.05 })), false, T0);
    for (const [round, accuracy] of [[1, 0.8], [2, 0.9]] as const) {
      state.ingest(topics.metrics, encodeMessage(build.metrics({ round, accuracy, loss: 1 - accuracy, participants: 1, accepted: 1, rejected: 0, rejectedByReason: {}, bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 2_000 })), false, T0);
    }
    return state;
  }

  it('shows the round, a sparkline of accuracy and loss, the devices and the traffic, in plain text when asked', () => {
    const lines = renderTerminal(fleet().snapshot(T0 + 30_000), { width: 120, color: false });
    const text = lines.join('\n');
    expect(text).toContain('Round 3  updates 0/1');
    expect(text).toContain('deadline in 1m 00s');
    expect(text).toMatch(/Accuracy ▁█ +0\.9000 +Loss █▁ +0\.1000/);
    expect(text).toMatch(/pi-1 +training/);
    expect(text).toMatch(/metrics +0\.\d\/s/);
    expect(text).not.toContain('\x1b[');
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(120);
  });

  it('colours when asked and never exceeds the width', () => {
    const lines = renderTerminal(fleet().snapshot(T0), { width: 40, color: true });
    expect(lines.join('\n')).toContain('\x1b[32m');
    // eslint-disable-next-line no-control-regex
    for (const line of lines) expect([...line.replace(/\x1b\[[0-9;]*m/g, '')].length).toBeLessThanOrEqual(40);
  });

  it('changes its plain-output signature on events, not on the clock', () => {
    const state = fleet();
    const a = frameSignature(state.snapshot(T0 + 1_000));
    expect(frameSignature(state.snapshot(T0 + 9_000))).toBe(a);
    state.ingest(topics.status('pi-1'), encodeMessage(build.status({ deviceId: 'pi-1', state: 'online', ts: T0 })), false, T0 + 9_500);
    expect(frameSignature(state.snapshot(T0 + 10_000))).not.toBe(a);
  });

  it('shows an evaluation phase as part of its round, the fleet evaluation with its spread, and each device\'s last evaluation', () => {
    // Prepare: round 3 collected; its global (v3) evaluated on pi-1, round 2's metrics with a federated evaluation.
    const state = fleet();
    const mlp = builtinTask('mlp');
    state.ingest(topics.task, encodeMessage(build.task({ model: 'mlp', task: mlp, paramCount: taskLayout(mlp).paramCount, codec: 'int8', downlink: 'f32', defaults: { epochs: 1, batchSize: 20, lr: 0.05 } })), true, T0);
    state.ingest(topics.round, encodeMessage(build.round({ kind: 'evaluate', round: 3, globalVersion: 3, participants: ['pi-1', 'pi-2'], deadline: T0 + 60_000, issuedAt: T0, codec: 'int8', seed: 1, epochs: 1, batchSize: 20, lr: 0.05 })), false, T0 + 1_000);
    state.ingest(topics.update('pi-1'), encodeMessage(build.evaluation({ round: 3, deviceId: 'pi-1', globalVersion: 3, count: 40, loss: 0.25, metrics: { accuracy: 0.925 }, sums: {} })), false, T0 + 2_000);
    const federated = { globalVersion: 2, devices: 4, count: 1200, loss: 0.3, metrics: { accuracy: 0.91 }, spread: { loss: { min: 0.1, median: 0.3, max: 0.8 }, accuracy: { min: 0.7, median: 0.92, max: 0.99 } } };
    state.ingest(topics.metrics, encodeMessage(build.metrics({ round: 2, accuracy: 0.9, loss: 0.1, federated, participants: 1, accepted: 1, rejected: 0, rejectedByReason: {}, bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 2_000 })), false, T0 + 3_000);
    // Execute
    const lines = renderTerminal(state.snapshot(T0 + 11_000), { width: 100 });
    const text = lines.join('\n');
    expect(lines.filter((l) => l.endsWith('…'))).toEqual([]);
    // Assert
    expect(text).toContain('task   mlp [28x28x1] -> 10 classes  101,770 params');
    expect(text).toContain('Round 3  updates 0/1 ');
    expect(text).toMatch(/ {2}collected {2}rejected 0/);
    expect(text).toContain('Round 3: evaluating on 2 devices  global v3  1/2 █████░░░░░  deadline in 50.0 s  waiting for pi-2');
    expect(text).not.toMatch(/Round 3 .*\n.*waiting for/);
    expect(text).toContain('Evaluation round 2: global v2 on 4 devices, 1,200 held-out examples');
    expect(text).toMatch(/METRIC +FLEET +MIN +MEDIAN +MAX +CENTRAL/);
    expect(text).toMatch(/loss +0\.3000 +0\.1000 +0\.3000 +0\.8000 +-\n/);
    expect(text).toMatch(/accuracy +0\.9100 +0\.7000 +0\.9200 +0\.9900 +-\n/);
    expect(text).toMatch(/TRAIN ACC EVAL LOSS +ACCURACY/);
    expect(text).toMatch(/pi-1 +training .* 0\.2500 +0\.9250/);
  });

  it('prints "-" for what nothing measured: a regression task has no accuracy', () => {
    const state = new FleetState({ fleet: 'default' });
    const task = parseTask({ name: 'energy', input: { shape: [4] }, output: { kind: 'regression', outputs: 1 }, model: { layers: [{ kind: 'dense', units: 1 }] } });
    state.ingest(topics.task, encodeMessage(build.task({ model: 'energy', task, paramCount: taskLayout(task).paramCount, codec: 'f32', downlink: 'f32', defaults: { epochs: 1, batchSize: 20, lr: 0.05 } })), true, T0);
    state.ingest(topics.round, encodeMessage(build.round({ kind: 'statistics', round: 1, globalVersion: 0, participants: ['pi-1', 'pi-2', 'pi-3', 'pi-4'], deadline: T0 + 60_000, codec: 'f32', seed: 1, epochs: 1, batchSize: 20, lr: 0.05 })), false, T0);
    state.ingest(topics.metrics, encodeMessage(build.metrics({ round: 1, accuracy: NaN, loss: NaN, participants: 1, accepted: 1, rejected: 0, rejectedByReason: {}, bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 2_000 })), false, T0);
    const text = renderTerminal(state.snapshot(T0 + 1_000), { width: 140 }).join('\n');
    expect(text).toContain('[4] -> 1 regression output');
    expect(text).toContain('Statistics: 4 devices  0/4 ');
    expect(text).not.toContain('Round (none yet)');
    expect(text).toMatch(/Accuracy +- +Loss +- +\(round 1/);
    expect(text).not.toContain('NaN');
  });

  it('bounds metric names and picks the main metric', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`m${i}`, i]));
    expect(Object.keys(boundedRecord(many))).toHaveLength(MAX_METRICS_SHOWN);
    const rows = evaluationRows({ round: 1, central: many });
    expect(rows).toHaveLength(MAX_METRICS_SHOWN);
    expect(rows[0]).toEqual({ metric: 'loss' });
    expect(rows[1]).toEqual({ metric: 'm0', central: 0 });
    expect(mainMetric({ loss: 1, f1: 0.5, accuracy: 0.7 }, ['f1'])).toEqual({ name: 'f1', value: 0.5 });
    expect(mainMetric({ loss: 1, f1: 0.5, accuracy: 0.7 })).toEqual({ name: 'accuracy', value: 0.7 });
    expect(mainMetric({ loss: 1, meanSquaredError: 2 })).toEqual({ name: 'meanSquaredError', value: 2 });
    expect(mainMetric({ loss: 1 })).toBeUndefined();
    expect([formatMetric(NaN), formatMetric(undefined, '–'), formatMetric(0.12345)]).toEqual(['-', '–', '0.1235']);
  });

  it('draws sparklines between the min and max of the series', () => {
    expect(sparkline([0, 0.5, 1])).toBe('▁▅█');
    expect(sparkline([2, 2])).toBe('▄▄');
    expect(sparkline([1, 2, 3, 4], 2)).toBe('▁█');
    expect(sparkline([])).toBe('');
  });
});
