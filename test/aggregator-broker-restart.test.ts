import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { build, decodeMessage, encodeMessage, type RoundMessage } from '../protocol/index.js';
import { startBroker, type BrokerHandle } from '../broker/index.js';
import { connectAggregator, createCoordinator, type RoundReport } from '../aggregator/index.js';
import { f32Delta, publishUpdate, smallEvaluator, topics, updatePayload } from './helpers.js';

/** A device as a plain client (no last will: a broker that dies publishes none), online, listening to task, global and round. */
async function device(url: string): Promise<{ client: MqttClient; seen: { topic: string; payload: Buffer }[] }> {
  const client = await mqtt.connectAsync(url, { clientId: 'a', reconnectPeriod: 0 });
  const seen: { topic: string; payload: Buffer }[] = [];
  client.on('message', (topic, payload) => seen.push({ topic, payload }));
  await client.subscribeAsync([topics.task, topics.global, topics.round], { qos: 1 });
  await client.publishAsync(topics.status('a'), Buffer.from(encodeMessage(build.status({ deviceId: 'a', state: 'online', ts: Date.now() }))), { qos: 1, retain: true });
  return { client, seen };
}

/** The round messages a device has seen, decoded. */
function rounds(seen: { topic: string; payload: Buffer }[]): RoundMessage[] {
  return seen.filter((m) => m.topic === topics.round).map((m) => decodeMessage('round', m.payload));
}

describe('an aggregator whose broker restarts without persistence', () => {
  const teardown: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of teardown.splice(0).reverse()) await step();
  });

  // Async mode: one update per global, so its second dispatch is open when the broker goes down.
  it.each([{ mode: 'sync' as const }, { mode: 'async' as const, buffer: 1 }])('subscribes again and republishes the task, the current global and the open round, in that order ($mode)', async (mode) => {
    // Prepare: a broker on a port it can come back on, an aggregator client that reconnects by
    // itself (every second), and a device that finishes round 1.
    let broker: BrokerHandle = await startBroker({ host: '127.0.0.1', port: 0 });
    const port = broker.port;
    teardown.push(() => broker.close());
    const control = await connectAggregator({ url: broker.url, fleet: 'test' });
    teardown.push(() => control.endAsync(true));
    const evaluator = await smallEvaluator();
    teardown.push(async () => evaluator.dispose());
    const coordinator = createCoordinator({ fleet: 'test', rounds: 2, minDevices: 1, codec: 'f32', roundTimeoutMs: 60_000, ...mode }, { client: control, evaluate: evaluator });
    const republished: unknown[] = [];
    coordinator.on('republished', (info) => republished.push(info));
    const first = await device(broker.url);
    teardown.push(() => first.client.endAsync(true));
    const running = coordinator.run();
    await expect.poll(() => rounds(first.seen).length).toBe(1);
    const round1 = rounds(first.seen)[0]!;
    await publishUpdate(first.client, 'a', updatePayload(round1, 'a', f32Delta(0.01)));
    await expect.poll(() => rounds(first.seen).length).toBe(2);
    const round2 = rounds(first.seen)[1]!;

    // Execute: the broker goes down in round 2 and comes back empty on the same port; the
    // device reaches it (before the aggregator, whose client retries within a second).
    await broker.close();
    broker = await startBroker({ host: '127.0.0.1', port });
    const again = await device(broker.url);
    teardown.push(() => again.client.endAsync(true));
    await expect.poll(() => again.seen.map((m) => m.topic), { timeout: 10_000 }).toEqual([topics.task, topics.global, topics.round]);
    // The aggregator is subscribed again: the device's answer to the open round is taken.
    await publishUpdate(again.client, 'a', updatePayload(round2, 'a', f32Delta(0.02)));
    const reports: RoundReport[] = await running;

    // Assert: the same task, the global of round 1 (version 1) and round 2's message as first sent.
    const [task, global] = again.seen.map((m) => m.payload);
    expect(decodeMessage('task', task!)).toMatchObject({ model: 'mlp', codec: 'f32' });
    expect(decodeMessage('global', global!)).toMatchObject({ version: 1, round: 1 });
    expect(rounds(again.seen)).toEqual([round2]);
    expect(reports[1]).toMatchObject({ round: 2, accepted: 1, closedBy: 'complete', aggregated: true });
    expect(republished).toEqual([{ sessionPresent: false, resubscribed: true, topics: [topics.task, topics.global, topics.round, topics.metrics] }]);
  });
});
