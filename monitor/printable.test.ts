import { encode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, build, builtinTask, encodeMessage, fleetTopics, taskLayout } from '../protocol/index.js';
import { topicLine } from './inspect.js';
import { printable, printableDeep, printableJson } from './printable.js';
import { FleetState } from './state.js';
import { renderTerminal } from './terminal.js';

const topics = fleetTopics('default');
const T0 = 1_700_000_000_000;

// What a hostile client sends: retitle the terminal, clear it, an 8-bit CSI, DEL, a bidi override.
const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J';
const HOSTILE = `${TITLE}${CLEAR}\u009b31m\x7f\u202e`;

/** Any C0, DEL, C1 or bidi control left in `text` once the view's own colours (SGR) are taken out. */
function rawControls(text: string): string[] {
  // eslint-disable-next-line no-control-regex
  return [...text.replace(/\x1b\[[0-9;]*m/g, '').matchAll(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g)].map((m) => m[0]);
}

describe('printable', () => {
  it('writes control characters as visible escapes and leaves other text alone', () => {
    expect(printable(HOSTILE)).toBe('\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x7f\\u202e');
    expect(printable('pi-01 ünïcødé ✓ 数据')).toBe('pi-01 ünïcødé ✓ 数据');
    const clean = { a: ['x', { b: 'y' }] };
    expect(printableDeep(clean)).toBe(clean);
    expect(printableDeep({ [CLEAR]: [1, { b: TITLE }] })).toEqual({ '\\x1b[2J': [1, { b: '\\x1b]0;pwned\\x07' }] });
  });

  it('JSON: no raw control character, and it parses back to the same strings', () => {
    const json = printableJson({ s: HOSTILE });
    expect(rawControls(json)).toEqual([]);
    expect(JSON.parse(json)).toEqual({ s: HOSTILE });
  });
});

describe('the monitor prints nothing a client sent as a control sequence', () => {
  it('terminal view: hostile task, round, capabilities, $SYS topics, rejection reasons, error messages', () => {
    // Prepare: every string field a client can set reaches the state.
    const state = new FleetState({ fleet: 'default', url: 'mqtt://hub:1883' });
    state.connection('reconnecting', T0, `connect failed: ${HOSTILE}`);
    const mlp = builtinTask('mlp');
    const task = { v: PROTOCOL_VERSION, type: 'task', model: `mlp${TITLE}`, task: mlp, paramCount: taskLayout(mlp).paramCount, codec: `int8${CLEAR}`, downlink: `f32${HOSTILE}`, defaults: { epochs: 1, batchSize: 20, lr: 0.05 } };
    state.ingest(topics.task, encode(task), true, T0);
    const status = build.status({ deviceId: 'pi-1', state: 'online', ts: T0, capabilities: { cpus: 4, memoryMb: 512, backend: `wasm${CLEAR}`, samples: 10 } });
    state.ingest(topics.status('pi-1'), encodeMessage(status), false, T0);
    state.ingest(topics.round, encodeMessage(build.round({ round: 3, globalVersion: 2, participants: ['pi-1'], deadline: T0 + 90_000, codec: `int8${TITLE}`, seed: 1, epochs: 1, batchSize: 20, lr: 0.05 })), false, T0);
    // Metric names are strings from the network too: central, federated, its spread, a device's evaluation.
    const federated = {
      globalVersion: 2, devices: 1, count: 10, loss: 0.2, metrics: { [`f1${TITLE}`]: 0.7 },
      spread: { loss: { min: 0.2, median: 0.2, max: 0.2 }, [`f1${TITLE}`]: { min: 0.7, median: 0.7, max: 0.7 } },
    };
    state.ingest(topics.metrics, encodeMessage(build.metrics({
      round: 2, accuracy: 0.9, loss: 0.1, central: { [`recall${HOSTILE}`]: 0.5 }, federated, participants: 1, accepted: 1, rejected: 1,
      rejectedByReason: { [HOSTILE]: 1 }, bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 2_000,
    })), false, T0);
    const evaluation = build.evaluation({ round: 2, deviceId: 'pi-1', globalVersion: 2, count: 0, loss: 0, metrics: { [`acc${CLEAR}`]: 0.8 }, sums: {}, error: `no held-out data${HOSTILE}` });
    state.ingest(topics.update('pi-1'), encodeMessage(evaluation), false, T0);
    // An undecodable status whose error message quotes the type it was sent.
    state.ingest(topics.status('pi-2'), encode({ v: PROTOCOL_VERSION, type: HOSTILE }), false, T0);
    state.sysSubscription(true);
    state.ingest(`$SYS/${CLEAR}/heartbeat`, new TextEncoder().encode('1'), false, T0);
    state.ingest('$SYS/broker/clients/connected', new TextEncoder().encode(HOSTILE), false, T0);
    const snapshot = state.snapshot(T0 + 1_000);
    expect(JSON.stringify(snapshot)).toContain('pwned');

    for (const color of [false, true]) {
      // Execute
      const text = renderTerminal(snapshot, { width: 400, color }).join('\n');

      // Assert: the hostile strings are on screen, escaped; no control character but the view's colours.
      expect(rawControls(text)).toEqual([]);
      expect(text).toContain('mlp\\x1b]0;pwned\\x07');
      expect(text).toContain('wasm\\x1b[2J');
      expect(text).toContain('\\x9b31m\\x7f\\u202e');
      expect(text).toContain('f1\\x1b]0;pwned\\x07');
      // Cut to the column's 20 characters, after escaping.
      expect(text).toContain('recall\\x1b]0;pwned\\…');
    }
    // --json prints the same snapshot: the device's evaluation, escaped.
    const json = printableJson(snapshot);
    expect(rawControls(json)).toEqual([]);
    expect(JSON.parse(json).devices.list[0]).toMatchObject({ id: 'pi-1', evalMetrics: { [`acc${CLEAR}`]: 0.8 }, evalError: `no held-out data${HOSTILE}` });
  });

  it('--topics: a hostile topic and payload strings, as a line and as JSON', () => {
    const messages = [
      { topic: `fedmq/v1/default/status/${TITLE}`, payload: encode({ deviceId: HOSTILE, nested: [{ [CLEAR]: HOSTILE }] }), retained: false, at: T0 },
      { topic: `$SYS/x/new/clients`, payload: new TextEncoder().encode(`pi\n12:00:00.000 fedmq/v1/default/round (forged line)${HOSTILE}`), retained: false, at: T0 },
      { topic: `other/${CLEAR}`, payload: new TextEncoder().encode(`{"a":"${'\\u001b'}]0;x${'\\u0007'}"}`), retained: true, at: T0 },
    ];
    for (const message of messages) {
      // Execute
      const line = topicLine(message);
      const json = topicLine(message, { json: true });

      // Assert
      expect(rawControls(line), line).toEqual([]);
      expect(line).not.toContain('\n');
      expect(rawControls(json), json).toEqual([]);
      expect(JSON.parse(json)).toMatchObject({ topic: message.topic });
    }
    expect(topicLine(messages[0]!)).toContain('fedmq/v1/default/status/\\x1b]0;pwned\\x07 (');
  });
});
