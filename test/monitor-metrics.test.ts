import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { Registry } from 'prom-client';
import { Rng, TypedEmitter, build, encodeMessage, f32Codec, builtinTask, taskLayout, type FederatedMetrics, type RoundMessage } from '../protocol/index.js';
import { Coordinator, registerAggregatorMetrics, type CoordinatorEvents, type RoundReport } from '../aggregator/index.js';
import { registerBrokerMetrics, startBroker, type BrokerHandle } from '../broker/index.js';
import { serveMetrics, type MetricsServer } from '../cli/metrics-server.js';
import { publishUpdate, rawDevice, smallEvaluator, testBroker } from './helpers.js';
import { parsePrometheus, sample, scrape, type PromText } from './monitor-support.js';
import { FedmqProcess } from './processes.js';

const PARAMS = taskLayout(builtinTask('mlp')).paramCount;
const goodUpdate = (round: RoundMessage, deviceId: string): Uint8Array =>
  encodeMessage(build.update({
    round: round.round, deviceId, numExamples: 10, codec: 'f32', delta: f32Codec.encode(new Float32Array(PARAMS), new Rng(0)),
    metrics: { loss: 1, accuracy: 0.5 }, trainMs: 1,
  }));

/** A sync coordinator's events, fired by hand, feeding `registerAggregatorMetrics` on a fresh registry. */
function handDriven(): { events: { fire(report: RoundReport): void }; registry: Registry } {
  class Events extends TypedEmitter<CoordinatorEvents> {
    readonly options = { mode: 'sync' as const };
    readonly registry = { online: (): string[] => [] };
    fire(report: RoundReport): void {
      this.emit('roundClosed', report);
    }
  }
  const events = new Events();
  const registry = new Registry();
  registerAggregatorMetrics(events as unknown as Coordinator, registry);
  return { events, registry };
}

describe('Prometheus metrics', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('fedmq broker --metrics-port serves Prometheus text whose counters advance with the traffic', async () => {
    // Prepare: the broker as a process, metrics on a free port.
    const proc = new FedmqProcess(['broker', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0']);
    cleanup.push(() => proc.stop());
    const [, url] = await proc.waitFor(/^broker listening on (mqtt:\S+)/);
    const [, metricsUrl] = await proc.waitFor(/^metrics on (http:\S+)/);
    const before = await scrape(metricsUrl!);
    // Execute: a subscriber, 5 messages of 100 bytes, then a publish to a reserved topic.
    const sub = await mqtt.connectAsync(url!, { reconnectPeriod: 0 });
    cleanup.push(() => sub.endAsync(true));
    await sub.subscribeAsync('lab/#', { qos: 1 });
    const pub = await mqtt.connectAsync(url!, { reconnectPeriod: 0 });
    pub.on('error', () => undefined);
    for (let i = 0; i < 5; i++) await pub.publishAsync('lab/x', Buffer.alloc(100), { qos: 1 });
    const closed = new Promise<void>((resolve) => pub.once('close', () => resolve()));
    pub.publish('$SYS/forged', 'x', { qos: 0 });
    await closed;
    pub.end(true);
    const after = await scrape(metricsUrl!);
    // Assert: a well-formed exposition with the broker's families typed, and counters that moved.
    expect(before.types.get('fedmq_broker_messages_received_total')).toBe('counter');
    expect(before.types.get('fedmq_broker_clients')).toBe('gauge');
    expect(before.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(sample(after, 'fedmq_broker_connections_total') - sample(before, 'fedmq_broker_connections_total')).toBe(2);
    expect(sample(after, 'fedmq_broker_messages_received_total') - sample(before, 'fedmq_broker_messages_received_total')).toBe(5);
    expect(sample(after, 'fedmq_broker_received_bytes_total') - sample(before, 'fedmq_broker_received_bytes_total')).toBe(500);
    expect(sample(after, 'fedmq_broker_messages_sent_total') - sample(before, 'fedmq_broker_messages_sent_total')).toBe(5);
    expect(sample(after, 'fedmq_broker_sent_bytes_total') - sample(before, 'fedmq_broker_sent_bytes_total')).toBe(500);
    expect(sample(before, 'fedmq_broker_publishes_rejected_total', { reason: 'reserved-topic' })).toBe(0);
    expect(sample(after, 'fedmq_broker_publishes_rejected_total', { reason: 'reserved-topic' })).toBe(1);
    expect(sample(after, 'fedmq_broker_clients')).toBe(1);
  });

  it('keeps two brokers in one process apart: a registry each', async () => {
    const brokers: BrokerHandle[] = [await startBroker({ host: '127.0.0.1', port: 0 }), await startBroker({ host: '127.0.0.1', port: 0 })];
    cleanup.push(() => Promise.all(brokers.map((b) => b.close())));
    const servers: MetricsServer[] = [];
    for (const b of brokers) servers.push(await serveMetrics('127.0.0.1:0', '127.0.0.1', (r) => registerBrokerMetrics(b, r)));
    cleanup.push(() => Promise.all(servers.map((s) => s.close())));
    const client = await mqtt.connectAsync(brokers[0]!.url, { reconnectPeriod: 0 });
    await client.publishAsync('lab/x', 'hello', { qos: 1 });
    await client.endAsync();
    const [a, b] = await Promise.all(servers.map((s) => scrape(s.url)));
    expect(sample(a!, 'fedmq_broker_messages_received_total')).toBe(1);
    expect(sample(b!, 'fedmq_broker_messages_received_total')).toBe(0);
  });

  it("the aggregator's metrics count rounds, updates by verdict and reason, bytes and round durations", async () => {
    // Prepare: a coordinator for one round over two hand-driven devices, its metrics served.
    const broker = await testBroker();
    cleanup.push(() => broker.close());
    const control = await mqtt.connectAsync(broker.url, { clientId: 'aggregator' });
    const evaluator = await smallEvaluator();
    cleanup.push(() => control.endAsync(), async () => evaluator.dispose());
    const coordinator = new Coordinator({ fleet: 'test', rounds: 1, minDevices: 2, codec: 'f32', roundTimeoutMs: 30_000 }, { client: control, evaluate: evaluator });
    const server = await serveMetrics('127.0.0.1:0', '127.0.0.1', (r: Registry) => registerAggregatorMetrics(coordinator, r));
    cleanup.push(() => server.close());
    const a = await rawDevice(broker.url, 'dev-a');
    const b = await rawDevice(broker.url, 'dev-b');
    cleanup.push(() => a.client.endAsync(), () => b.client.endAsync());
    const before = await scrape(server.url);
    // Execute: dev-b first sends garbage, then both send good updates.
    const running = coordinator.run();
    const round = await a.nextRound();
    await publishUpdate(b.client, 'dev-b', new Uint8Array([1, 2, 3]));
    await publishUpdate(a.client, 'dev-a', goodUpdate(round, 'dev-a'));
    await publishUpdate(b.client, 'dev-b', goodUpdate(round, 'dev-b'));
    const [report] = await running;
    const after = await scrape(server.url);
    // Assert
    expect(before.types.get('fedmq_aggregator_round_duration_seconds')).toBe('histogram');
    expect(sample(before, 'fedmq_aggregator_updates_rejected_total', { reason: 'malformed' })).toBe(0);
    expect(sample(before, 'fedmq_aggregator_rounds_total', { closed_by: 'complete' })).toBe(0);
    expect(sample(after, 'fedmq_aggregator_rounds_total', { closed_by: 'complete' })).toBe(1);
    expect(sample(after, 'fedmq_aggregator_round')).toBe(1);
    expect(sample(after, 'fedmq_aggregator_round_participants')).toBe(2);
    expect(sample(after, 'fedmq_aggregator_updates_accepted_total')).toBe(2);
    expect(sample(after, 'fedmq_aggregator_updates_rejected_total', { reason: 'malformed' })).toBe(1);
    expect(sample(after, 'fedmq_aggregator_updates_rejected_total', { reason: 'duplicate' })).toBe(0);
    expect(sample(after, 'fedmq_aggregator_accuracy')).toBe(report!.accuracy);
    expect(sample(after, 'fedmq_aggregator_loss')).toBe(report!.loss);
    expect(sample(after, 'fedmq_aggregator_uplink_bytes_total')).toBe(report!.bytesUp);
    expect(sample(after, 'fedmq_aggregator_downlink_bytes_total')).toBe(report!.bytesDown);
    expect(sample(after, 'fedmq_aggregator_round_duration_seconds_count')).toBe(1);
    expect(sample(after, 'fedmq_aggregator_round_duration_seconds_sum')).toBeCloseTo(report!.wallMs / 1000, 6);
    expect(sample(after, 'fedmq_aggregator_round_duration_seconds_bucket', { le: '+Inf' })).toBe(1);
    expect(sample(after, 'fedmq_aggregator_devices_online')).toBe(2);
  });

  it("the aggregator's metrics export central and federated evaluation: fleet loss and metrics, devices, examples, spread", async () => {
    // Prepare: the coordinator's events, fired by hand, into a real prom-client registry.
    const { events, registry } = handDriven();
    const read = async (): Promise<PromText> => parsePrometheus(await registry.metrics());
    const report = (round: number, body: Partial<RoundReport>): RoundReport => ({
      round, accuracy: NaN, loss: NaN, participants: 2, accepted: 2, rejected: 0, rejectedByReason: {}, bytesUp: 10, bytesDown: 20,
      trainMs: 1, aggregateMs: 1, wallMs: 1_000, evalMs: 1, trainMsMax: 1, closedBy: 'complete', missing: [], aggregated: true, ...body,
    });
    const federated: FederatedMetrics = {
      globalVersion: 1, devices: 7, count: 1_400, loss: 0.42, metrics: { accuracy: 0.88, f1: 0.81 },
      spread: { loss: { min: 0.1, median: 0.4, max: 1.3 }, accuracy: { min: 0.6, median: 0.9, max: 0.97 }, f1: { min: 0.5, median: 0.8, max: 0.95 } },
    };
    // Execute: round 1 evaluated centrally and by the fleet; round 2 by nothing (NaN); round 3 by the fleet, on other metrics.
    events.fire(report(1, { accuracy: 0.9, loss: 0.3, central: { accuracy: 0.9, f1: 0.85 }, federated }));
    const first = await read();
    events.fire(report(2, {}));
    const second = await read();
    events.fire(report(3, { federated: { ...federated, devices: 5, count: 900, loss: NaN, metrics: { meanSquaredError: 2.5 }, spread: { meanSquaredError: { min: 1, median: 2, max: 4 } } } }));
    const third = await read();

    // Assert: every family typed, every number as reported.
    for (const name of ['fedmq_aggregator_federated_loss', 'fedmq_aggregator_federated_metric', 'fedmq_aggregator_federated_spread', 'fedmq_aggregator_federated_devices', 'fedmq_aggregator_federated_examples', 'fedmq_aggregator_metric']) {
      expect(first.types.get(name)).toBe('gauge');
    }
    expect(sample(first, 'fedmq_aggregator_accuracy')).toBe(0.9);
    expect(sample(first, 'fedmq_aggregator_metric', { metric: 'f1' })).toBe(0.85);
    expect(sample(first, 'fedmq_aggregator_federated_loss')).toBe(0.42);
    expect(sample(first, 'fedmq_aggregator_federated_devices')).toBe(7);
    expect(sample(first, 'fedmq_aggregator_federated_examples')).toBe(1_400);
    expect(sample(first, 'fedmq_aggregator_federated_metric', { metric: 'accuracy' })).toBe(0.88);
    expect(sample(first, 'fedmq_aggregator_federated_metric', { metric: 'f1' })).toBe(0.81);
    for (const [metric, s] of Object.entries(federated.spread)) {
      for (const stat of ['min', 'median', 'max'] as const) expect(sample(first, 'fedmq_aggregator_federated_spread', { metric, stat })).toBe(s[stat]);
    }
    // A round nothing evaluated leaves every gauge as it was: no NaN.
    expect(second.samples.filter((x) => x.name.startsWith('fedmq_aggregator_') && Number.isNaN(x.value))).toEqual([]);
    expect(sample(second, 'fedmq_aggregator_accuracy')).toBe(0.9);
    expect(sample(second, 'fedmq_aggregator_loss')).toBe(0.3);
    expect(sample(second, 'fedmq_aggregator_federated_metric', { metric: 'f1' })).toBe(0.81);
    // The next federated evaluation replaces the metric series: names no longer reported are gone.
    expect(sample(third, 'fedmq_aggregator_federated_devices')).toBe(5);
    expect(sample(third, 'fedmq_aggregator_federated_loss')).toBe(0.42);
    expect(sample(third, 'fedmq_aggregator_federated_metric', { metric: 'meanSquaredError' })).toBe(2.5);
    expect(third.samples.filter((x) => x.name === 'fedmq_aggregator_federated_metric').map((x) => x.labels.metric)).toEqual(['meanSquaredError']);
    expect(third.samples.filter((x) => x.name === 'fedmq_aggregator_federated_spread').map((x) => `${x.labels.metric}:${x.labels.stat}`))
      .toEqual(['meanSquaredError:min', 'meanSquaredError:median', 'meanSquaredError:max']);
    expect(sample(third, 'fedmq_aggregator_metric', { metric: 'f1' })).toBe(0.85);
  });

  it('exports at most 16 metric names from one report', async () => {
    const { events, registry } = handDriven();
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`m${i}`, i]));
    const spread = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`m${i}`, { min: i, median: i, max: i }]));
    events.fire({
      round: 1, accuracy: 0.5, loss: 1, central: many, federated: { globalVersion: 1, devices: 1, count: 1, loss: 1, metrics: many, spread },
      participants: 1, accepted: 1, rejected: 0, rejectedByReason: {}, bytesUp: 0, bytesDown: 0, trainMs: 1, aggregateMs: 1, wallMs: 1,
      evalMs: 1, trainMsMax: 1, closedBy: 'complete', missing: [], aggregated: true,
    });
    const text = parsePrometheus(await registry.metrics());
    const count = (name: string): number => text.samples.filter((x) => x.name === name).length;
    expect([count('fedmq_aggregator_metric'), count('fedmq_aggregator_federated_metric'), count('fedmq_aggregator_federated_spread')]).toEqual([16, 16, 48]);
  });
});
