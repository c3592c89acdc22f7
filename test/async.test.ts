import { describe, expect, it } from 'vitest';
import { BufferedCoordinator, stalenessWeight, type RoundReport } from '../aggregator/index.js';
import { taskInitialWeights } from '../learning/index.js';
import { builtinTask, taskLayout, type RoundMessage } from '../protocol/index.js';
import { aggregatorFixture, f32Delta, publishUpdate, rawDevice, updatePayload } from './helpers.js';

const PARAMS = taskLayout(builtinTask('mlp')).paramCount;

/** The next round message that sends `id` off (after round `after`). */
async function assignment(device: Awaited<ReturnType<typeof rawDevice>>, id: string, after = 0): Promise<RoundMessage> {
  for (;;) {
    const m = await device.nextRound();
    if (m.round > after && m.participants.includes(id)) return m;
  }
}

describe('async mode (FedBuff) over a real broker', () => {
  const fixture = aggregatorFixture();

  it('makes a global every K updates, discounts stale ones, refills idle devices and refuses repeats', async () => {
    // Prepare: three devices all training at once, a new global every 2 updates.
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new BufferedCoordinator({ fleet: 'test', rounds: 2, buffer: 2, minDevices: 3, codec: 'f32', downlink: 'f32' }, { client: control, evaluate: evaluator });
    const reports: RoundReport[] = [];
    const rejected: string[] = [];
    coordinator.on('roundClosed', (r) => reports.push(r));
    coordinator.on('updateRejected', (r) => rejected.push(`${r.deviceId}:${r.reason}`));
    const ids = ['a', 'b', 'c'];
    const [a, b, c] = await Promise.all(ids.map((id) => rawDevice(broker.url, id)));
    fixture.cleanup(...[a, b, c].map((d) => () => d!.client.endAsync()));

    // Execute: a reports on version 0 and is sent off again at once (FedBuff refills before the
    // buffer is full); b fills the buffer; then c and a report from version 0, one version stale,
    // and a repeats its first update.
    const running = coordinator.run();
    const first = await assignment(a!, 'a');
    expect(first.participants).toEqual(ids);
    expect(first.globalVersion).toBe(0);
    await publishUpdate(a!.client, 'a', updatePayload(first, 'a', f32Delta(0.01)));
    const again = await assignment(a!, 'a');
    await publishUpdate(b!.client, 'b', updatePayload(first, 'b', f32Delta(0.03)));
    const afterGlobal = await assignment(b!, 'b', first.round);
    await publishUpdate(c!.client, 'c', updatePayload(first, 'c', f32Delta(0.04)));
    await publishUpdate(a!.client, 'a', updatePayload(first, 'a', f32Delta(0.5)));
    await publishUpdate(a!.client, 'a', updatePayload(again, 'a', f32Delta(0.02)));
    await running;

    // Assert: a's second assignment started from version 0, b's from version 1; the stale
    // updates counted 1/sqrt(2); the repeat was refused, not counted.
    expect([again.participants, again.globalVersion]).toEqual([['a'], 0]);
    expect([afterGlobal.participants, afterGlobal.globalVersion]).toEqual([['b'], 1]);
    const expected = (0.01 + 0.03) / 2 + ((0.04 + 0.02) / 2) * stalenessWeight(1);
    const start = taskInitialWeights(builtinTask('mlp'), 0);
    for (let i = 0; i < PARAMS; i += 997) expect(coordinator.weights[i]! - start[i]!).toBeCloseTo(expected, 5);
    expect(rejected).toEqual(['a:duplicate']);
    expect(reports.map((r) => [r.accepted, r.staleness])).toEqual([
      [2, { mean: 0, max: 0 }],
      [2, { mean: 1, max: 1 }],
    ]);
  });

  it('keeps an update that arrives after the buffer filled (in the same network read) for the next global', async () => {
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new BufferedCoordinator({ fleet: 'test', rounds: 2, buffer: 2, minDevices: 3, codec: 'f32', downlink: 'f32' }, { client: control, evaluate: evaluator });
    const reports: RoundReport[] = [];
    coordinator.on('roundClosed', (r) => reports.push(r));
    const ids = ['a', 'b', 'c'];
    const [a, b, c] = await Promise.all(ids.map((id) => rawDevice(broker.url, id)));
    fixture.cleanup(...[a, b, c].map((d) => () => d!.client.endAsync()));

    const running = coordinator.run();
    const first = await assignment(a!, 'a');
    await Promise.all([assignment(b!, 'b'), assignment(c!, 'c')]);
    // Three updates handed over back to back, as mqtt.js does with packets that share one TCP read.
    const receive = (coordinator as unknown as { receiveUpdate(id: string, payload: Buffer): void }).receiveUpdate.bind(coordinator);
    for (const [id, value] of [['a', 0.01], ['b', 0.03], ['c', 0.04]] as const) receive(id, Buffer.from(updatePayload(first, id, f32Delta(value))));
    const again = await assignment(a!, 'a', first.round);
    expect(again.globalVersion).toBe(1);
    await publishUpdate(a!.client, 'a', updatePayload(again, 'a', f32Delta(0.02)));
    await running;

    // Global 1 is a and b; c, one version stale, went into global 2 with a's fresh update.
    expect(reports.map((r) => [r.accepted, r.staleness])).toEqual([
      [2, { mean: 0, max: 0 }],
      [2, { mean: 0.5, max: 1 }],
    ]);
    const expected = (0.01 + 0.03) / 2 + (0.04 * stalenessWeight(1) + 0.02) / 2;
    const start = taskInitialWeights(builtinTask('mlp'), 0);
    for (let i = 0; i < PARAMS; i += 997) expect(coordinator.weights[i]! - start[i]!).toBeCloseTo(expected, 5);
  });

  it('replaces a device that goes offline mid-assignment', async () => {
    const { broker, control, evaluator } = await fixture.start();
    // Two of three devices train at once: one idle device is there to take over.
    const coordinator = new BufferedCoordinator({ fleet: 'test', rounds: 1, buffer: 2, minDevices: 3, minParticipants: 2, fraction: 0.5, codec: 'f32', downlink: 'f32' }, { client: control, evaluate: evaluator });
    const reports: RoundReport[] = [];
    coordinator.on('roundClosed', (r) => reports.push(r));
    const ids = ['a', 'b', 'c'];
    const devices = new Map(await Promise.all(ids.map(async (id) => [id, await rawDevice(broker.url, id)] as const)));
    fixture.cleanup(...[...devices.values()].map((d) => () => d.client.endAsync().catch(() => undefined)));

    const running = coordinator.run();
    const first = await devices.get('a')!.nextRound();
    expect(first.participants).toHaveLength(2);
    for (const id of ids) if (id !== 'a') await devices.get(id)!.nextRound();
    const [gone, staying] = first.participants as [string, string];
    const idle = ids.find((id) => !first.participants.includes(id))!;
    // The broker publishes the vanished device's last will (offline).
    devices.get(gone)!.client.stream.destroy();
    const second = await devices.get(idle)!.nextRound();
    expect(second.participants).toEqual([idle]);
    await publishUpdate(devices.get(staying)!.client, staying, updatePayload(first, staying, f32Delta(0.01)));
    await publishUpdate(devices.get(idle)!.client, idle, updatePayload(second, idle, f32Delta(0.01)));
    await running;
    expect(reports[0]!.accepted).toBe(2);
    expect(reports[0]!.missing).toEqual([gone]);
  });
});
