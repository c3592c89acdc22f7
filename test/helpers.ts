import { afterEach } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { Rng, build, builtinTask, parseTask, taskLayout, encodeMessage, f32Codec, fleetTopics, decodeMessage, type RoundMessage, type Task } from '../protocol/index.js';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { datasetExamples, loadMnist, subset, type Dataset, type DeviceExamples } from '../datasets/index.js';
import { connectAggregator, createEvaluator, type Evaluator } from '../aggregator/index.js';

export const topics = fleetTopics('test');

export async function testBroker(): Promise<BrokerHandle> {
  return startBroker({ host: '127.0.0.1', port: 0 });
}

/** The first `n` MNIST test examples: real data, small enough for fast evaluation. */
export async function mnistSlice(n: number, from: 'train' | 'test' = 'test'): Promise<Dataset> {
  const splits = await loadMnist();
  return subset(splits[from], Array.from({ length: n }, (_, i) => i));
}

export async function smallEvaluator(): Promise<Evaluator & { dispose(): void }> {
  return createEvaluator(builtinTask('mlp'), await mnistSlice(1000));
}

/** MNIST examples as a device holds them: all for training (no held-out share), 28x28x1. */
export function mnistExamples(ds: Dataset): DeviceExamples {
  return datasetExamples(ds, [28, 28, 1]);
}

/**
 * The set-up of an aggregator integration test; call it at describe level. `start()` gives a
 * broker on an ephemeral port, an aggregator client for fleet 'test' and a small evaluator;
 * `cleanup()` adds teardown steps. After each test the steps run in reverse order, then the
 * broker closes.
 */
export function aggregatorFixture(): {
  start(): Promise<{ broker: BrokerHandle; control: MqttClient; evaluator: Evaluator & { dispose(): void } }>;
  cleanup(...steps: (() => Promise<unknown>)[]): void;
} {
  const fixture = brokerFixture();
  return {
    async start() {
      const broker = await fixture.start();
      const control = await connectAggregator({ url: broker.url, fleet: 'test' });
      fixture.cleanup(() => control.endAsync());
      const evaluator = await smallEvaluator();
      fixture.cleanup(async () => evaluator.dispose());
      return { broker, control, evaluator };
    },
    cleanup: fixture.cleanup,
  };
}

/**
 * A broker on a free port per test, and the steps to undo after it: run in reverse order
 * after each test, the broker closed last.
 */
export function brokerFixture(): { start(): Promise<BrokerHandle>; cleanup(...steps: (() => Promise<unknown>)[]): void } {
  const steps: (() => Promise<unknown>)[] = [];
  let broker: BrokerHandle | undefined;
  afterEach(async () => {
    for (const f of steps.splice(0).reverse()) await f();
    await broker?.close();
    broker = undefined;
  });
  return {
    async start() {
      broker = await testBroker();
      return broker;
    },
    cleanup(...more) {
      steps.push(...more);
    },
  };
}

/**
 * A hand-driven device: a raw mqtt.js client with the device's last will, that announces
 * itself online and hands each round message to the test.
 */
export async function rawDevice(url: string, deviceId: string): Promise<{ client: MqttClient; rounds: RoundMessage[]; nextRound(): Promise<RoundMessage> }> {
  const will = encodeMessage(build.status({ deviceId, state: 'offline', ts: Date.now() }));
  const client = await mqtt.connectAsync(url, {
    clientId: deviceId,
    reconnectPeriod: 0,
    will: { topic: topics.status(deviceId), payload: Buffer.from(will), qos: 1, retain: true },
  });
  const rounds: RoundMessage[] = [];
  const waiters: ((m: RoundMessage) => void)[] = [];
  client.on('message', (topic, payload) => {
    if (topic !== topics.round) return;
    const m = decodeMessage('round', payload);
    rounds.push(m);
    waiters.splice(0).forEach((w) => w(m));
  });
  await client.subscribeAsync(topics.round, { qos: 1 });
  await client.publishAsync(topics.status(deviceId), Buffer.from(encodeMessage(build.status({ deviceId, state: 'online', ts: Date.now() }))), { qos: 1, retain: true });
  let seen = 0;
  return {
    client,
    rounds,
    nextRound: () =>
      new Promise((resolve) => {
        const next = rounds[seen];
        if (next) {
          seen += 1;
          resolve(next);
        } else {
          waiters.push((m) => {
            seen += 1;
            resolve(m);
          });
        }
      }),
  };
}

/** An update message as a device would publish it, with fields a test may override. */
export function updatePayload(round: RoundMessage, deviceId: string, delta: Uint8Array, over: Partial<{ round: number; codec: string }> = {}): Uint8Array {
  return encodeMessage(build.update({
    round: over.round ?? round.round, deviceId, numExamples: 100, codec: over.codec ?? round.codec, delta,
    metrics: { loss: 1, accuracy: 0.5 }, trainMs: 10,
  }));
}

/** An f32-encoded mlp delta with every value set to `value`. */
export function f32Delta(value: number): Uint8Array {
  return f32Codec.encode(new Float32Array(taskLayout(builtinTask('mlp')).paramCount).fill(value), new Rng(0));
}

export function publishUpdate(client: MqttClient, topicId: string, payload: Uint8Array): Promise<unknown> {
  return client.publishAsync(topics.update(topicId), Buffer.from(payload), { qos: 1 });
}

/** A task message body whose model has exactly `paramCount` parameters: one linear unit over `paramCount - 1` features. */
export function taskOf(paramCount: number): { model: string; task: Task; paramCount: number } {
  const task = parseTask({
    name: 'linear', input: { shape: [paramCount - 1] }, output: { kind: 'regression', outputs: 1 },
    model: { layers: [{ kind: 'dense', units: 1 }] },
  });
  return { model: task.name, task, paramCount };
}
