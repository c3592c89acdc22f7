import { encode } from 'cbor-x';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { PROTOCOL_VERSION, build, builtinTask, encodeMessage, fleetTopics, taskLayout } from '../protocol/index.js';
import { FedmqProcess } from './processes.js';

/**
 * `fedmq monitor` against a real broker where clients published strings holding terminal
 * control sequences (retitle, clear screen, 8-bit CSI, DEL): whether it draws the fleet view,
 * prints every topic, or NDJSON, its output holds no control character but line breaks.
 */
const topics = fleetTopics('default');
const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J';
const HOSTILE = `${TITLE}${CLEAR}\u009b31m\x7f`;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

let broker: BrokerHandle;
const publishers: mqtt.MqttClient[] = [];

beforeAll(async () => {
  broker = await startBroker({ host: '127.0.0.1', port: 0 });
  // Retained, so every monitor started later receives them on subscribing.
  const anyone = await mqtt.connectAsync(broker.url, { clientId: 'hub' });
  const mlp = builtinTask('mlp');
  const task = { v: PROTOCOL_VERSION, type: 'task', model: `mlp${TITLE}`, task: mlp, paramCount: taskLayout(mlp).paramCount, codec: `int8${CLEAR}`, downlink: `f32${HOSTILE}`, defaults: { epochs: 1, batchSize: 20, lr: 0.05 } };
  await anyone.publishAsync(topics.task, Buffer.from(encode(task)), { retain: true, qos: 1 });
  // Metric names are strings from the network too: a federated evaluation naming its metric to clear the screen.
  const metrics = build.metrics({
    round: 1, accuracy: NaN, loss: 0.5, participants: 1, accepted: 1, rejected: 0, rejectedByReason: {}, bytesUp: 1, bytesDown: 1, trainMs: 1, aggregateMs: 1, wallMs: 1,
    federated: { globalVersion: 1, devices: 1, count: 10, loss: 0.5, metrics: { [`f1${CLEAR}`]: 0.7 }, spread: { [`f1${CLEAR}`]: { min: 0.7, median: 0.7, max: 0.7 } } },
  });
  await anyone.publishAsync(topics.metrics, Buffer.from(encodeMessage(metrics)), { retain: true, qos: 1 });
  // A topic of the fleet's that no message type uses, named to retitle the terminal.
  await anyone.publishAsync(`fedmq/v1/default/notes${TITLE}`, 'hello', { retain: true, qos: 1 });
  const device = await mqtt.connectAsync(broker.url, { clientId: 'pi-1' });
  const status = build.status({ deviceId: 'pi-1', state: 'online', ts: Date.now(), capabilities: { cpus: 4, memoryMb: 512, backend: `wasm${CLEAR}`, samples: 10 } });
  await device.publishAsync(topics.status('pi-1'), Buffer.from(encodeMessage(status)), { retain: true, qos: 1 });
  publishers.push(anyone, device);
});

afterAll(async () => {
  for (const p of publishers) await p.endAsync();
  await broker?.close();
});

describe('fedmq monitor escapes what clients sent', () => {
  it.each([
    { view: 'fleet view (not a terminal: plain frames)', flags: [] as string[], shows: /task +mlp\\x1b\]0;pwned\\x07 .*codec int8\\x1b\[2J/ },
    { view: '--topics', flags: ['--topics'], shows: /fedmq\/v1\/default\/task \[retained\] .*"model":"mlp\\u001b\]0;pwned\\u0007"/ },
    { view: '--topics --json', flags: ['--topics', '--json'], shows: /"topic":"fedmq\/v1\/default\/status\/pi-1".*"backend":"wasm\\u001b\[2J"/ },
    { view: '--json', flags: ['--json'], shows: /"downlink":"f32\\u001b\]0;pwned\\u0007\\u001b\[2J\\u009b31m\\u007f"/ },
  ])('$view', async ({ flags, shows }) => {
    // Execute
    const monitor = new FedmqProcess(['monitor', '--broker', broker.url, ...flags]);
    try {
      await monitor.waitFor(shows, 20_000);
      await monitor.waitFor(/pi-1/, 5_000);
      await monitor.waitFor(/f1\\(x1b|u001b)\[2J/, 5_000);
      if (flags.includes('--topics')) await monitor.waitFor(/fedmq\/v1\/default\/notes\\(x1b|u001b)\]0;pwned\\(x07|u0007)/, 5_000);
    } finally {
      await monitor.stop();
    }

    // Assert: the hostile strings are shown, escaped; no line holds a control character.
    const bad = monitor.lines.filter((line) => CONTROL.test(line));
    expect(bad).toEqual([]);
  });
});
