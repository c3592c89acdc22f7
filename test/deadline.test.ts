import { describe, expect, it } from 'vitest';
import { build, encodeMessage } from '../protocol/index.js';
import { Coordinator } from '../aggregator/index.js';
import type { BrokerHandle } from '../broker/index.js';
import { aggregatorFixture, f32Delta, publishUpdate, rawDevice, topics, updatePayload } from './helpers.js';

describe('a round with a device that goes away', () => {
  const fixture = aggregatorFixture();

  async function setUp(roundTimeoutMs: number): Promise<{ broker: BrokerHandle; coordinator: Coordinator }> {
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new Coordinator({ fleet: 'test', rounds: 1, minDevices: 2, codec: 'f32', roundTimeoutMs }, { client: control, evaluate: evaluator });
    return { broker, coordinator };
  }

  it('closes at the deadline when a selected device stays silent', async () => {
    // Prepare
    const { broker, coordinator } = await setUp(1500);
    const a = await rawDevice(broker.url, 'dev-a');
    const silent = await rawDevice(broker.url, 'dev-silent');
    fixture.cleanup(() => a.client.endAsync(), () => silent.client.endAsync());
    // Execute
    const running = coordinator.run();
    const round = await a.nextRound();
    await publishUpdate(a.client, 'dev-a', updatePayload(round, 'dev-a', f32Delta(0)));
    const [report] = await running;
    // Assert: closed by the deadline, not long after it, with the one update applied.
    expect(report!.closedBy).toBe('deadline');
    expect(report!.missing).toEqual(['dev-silent']);
    expect(report!.accepted).toBe(1);
    expect(report!.aggregated).toBe(true);
    expect(Date.now() - round.deadline).toBeLessThan(1500);
  });

  it('closes early when the device that disconnected mid-round is the only one missing', async () => {
    // Prepare: a long deadline that the round must not wait for.
    const { broker, coordinator } = await setUp(60_000);
    const a = await rawDevice(broker.url, 'dev-a');
    const leaving = await rawDevice(broker.url, 'dev-leaving');
    fixture.cleanup(() => a.client.endAsync());
    // Execute: dev-leaving is chosen, then its connection drops; the broker publishes its last will.
    const running = coordinator.run();
    const round = await leaving.nextRound();
    expect(round.participants).toContain('dev-leaving');
    leaving.client.stream.destroy();
    await publishUpdate(a.client, 'dev-a', updatePayload(round, 'dev-a', f32Delta(0)));
    const [report] = await running;
    // Assert
    expect(report!.closedBy).toBe('dropouts');
    expect(report!.missing).toEqual(['dev-leaving']);
    expect(Date.now()).toBeLessThan(round.deadline - 30_000);
    leaving.client.end(true);
  });

  it('does not wait again for a participant that went offline mid-round and came straight back', async () => {
    // Prepare
    const { broker, coordinator } = await setUp(60_000);
    const a = await rawDevice(broker.url, 'dev-a');
    const blip = await rawDevice(broker.url, 'dev-blip');
    fixture.cleanup(() => a.client.endAsync(), () => blip.client.endAsync());
    const status = (state: 'online' | 'offline'): Buffer => Buffer.from(encodeMessage(build.status({ deviceId: 'dev-blip', state, ts: Date.now() })));
    // Execute: dev-blip loses its connection (its work for the round with it) and reconnects.
    const running = coordinator.run();
    const round = await blip.nextRound();
    await blip.client.publishAsync(topics.status('dev-blip'), status('offline'), { qos: 1, retain: true });
    await blip.client.publishAsync(topics.status('dev-blip'), status('online'), { qos: 1, retain: true });
    await publishUpdate(a.client, 'dev-a', updatePayload(round, 'dev-a', f32Delta(0)));
    const [report] = await running;
    // Assert: closed as soon as dev-a reported, long before the deadline.
    expect(report!.closedBy).toBe('dropouts');
    expect(report!.missing).toEqual(['dev-blip']);
    expect(Date.now()).toBeLessThan(round.deadline - 30_000);
  });
});
