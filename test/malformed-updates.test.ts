import { describe, expect, it } from 'vitest';
import { Rng, f32Codec, builtinTask, taskLayout } from '../protocol/index.js';
import { Coordinator, type RoundReport } from '../aggregator/index.js';
import { aggregatorFixture, publishUpdate, rawDevice, updatePayload } from './helpers.js';

const PARAMS = taskLayout(builtinTask('mlp')).paramCount;

describe('an aggregator under malformed updates', () => {
  const fixture = aggregatorFixture();

  it('rejects each bad update with its reason, counts them, and keeps running its rounds', async () => {
    // Prepare: a real broker, a coordinator (f32 codec) and two hand-driven devices.
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new Coordinator(
      { fleet: 'test', rounds: 2, minDevices: 2, codec: 'f32', roundTimeoutMs: 20_000 },
      { client: control, evaluate: evaluator },
    );
    const rejected: string[] = [];
    coordinator.on('updateRejected', (r) => rejected.push(`${r.deviceId}:${r.reason}`));
    const a = await rawDevice(broker.url, 'dev-a');
    const b = await rawDevice(broker.url, 'dev-b');
    fixture.cleanup(() => a.client.endAsync(), () => b.client.endAsync());
    const good = f32Codec.encode(new Float32Array(PARAMS).fill(0.001), new Rng(1));
    const nan = f32Codec.encode(new Float32Array(PARAMS).fill(NaN), new Rng(1));
    const short = f32Codec.encode(new Float32Array(PARAMS - 1), new Rng(1));

    // Execute: round 1, device a sends every kind of bad update, then a good one and a repeat.
    const running = coordinator.run();
    const round1 = await a.nextRound();
    await b.nextRound();
    expect(round1.participants).toEqual(['dev-a', 'dev-b']);
    await a.client.publishAsync('fedmq/v1/test/update/dev-a', Buffer.from([0xde, 0xad, 0xbe, 0xef]), { qos: 1 });
    await publishUpdate(a.client, 'dev-a', updatePayload(round1, 'dev-a', short));
    await publishUpdate(a.client, 'dev-a', updatePayload(round1, 'dev-a', nan));
    await publishUpdate(a.client, 'dev-a', updatePayload(round1, 'dev-a', good, { round: 7 }));
    await publishUpdate(a.client, 'dev-a', updatePayload(round1, 'dev-b', good));
    await publishUpdate(a.client, 'dev-a', updatePayload(round1, 'dev-a', good, { codec: 'int8' }));
    await publishUpdate(a.client, 'dev-a', updatePayload(round1, 'dev-a', good));
    await publishUpdate(a.client, 'dev-a', updatePayload(round1, 'dev-a', good));
    await expect.poll(() => rejected.length).toBe(7);
    await publishUpdate(b.client, 'dev-b', updatePayload(round1, 'dev-b', good));
    // Round 2: the aggregator is still running and accepts good updates.
    const round2 = await a.nextRound();
    await publishUpdate(a.client, 'dev-a', updatePayload(round2, 'dev-a', good));
    await publishUpdate(b.client, 'dev-b', updatePayload(round2, 'dev-b', good));
    const reports: RoundReport[] = await running;

    // Assert
    expect(rejected).toEqual([
      'dev-a:malformed', 'dev-a:bad-length', 'dev-a:non-finite', 'dev-a:wrong-round',
      'dev-a:id-mismatch', 'dev-a:bad-codec', 'dev-a:duplicate',
    ]);
    expect(reports).toHaveLength(2);
    expect(reports[0]!.accepted).toBe(2);
    expect(reports[0]!.rejectedByReason).toEqual({
      malformed: 1, 'bad-length': 1, 'non-finite': 1, 'wrong-round': 1, 'id-mismatch': 1, 'bad-codec': 1, duplicate: 1,
    });
    expect(reports[0]!.closedBy).toBe('complete');
    expect(reports[1]!.accepted).toBe(2);
    expect(reports[1]!.rejected).toBe(0);
    // Only the good updates moved the model: +0.001 per weight in each of the two rounds.
    expect(Number.isFinite(reports[1]!.accuracy)).toBe(true);
  });

  it('does not wait to the deadline for a participant whose update was refused', async () => {
    // Prepare: a one-minute deadline the round must not need.
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new Coordinator({ fleet: 'test', rounds: 1, minDevices: 2, codec: 'f32', roundTimeoutMs: 60_000 }, { client: control, evaluate: evaluator });
    const a = await rawDevice(broker.url, 'dev-a');
    const b = await rawDevice(broker.url, 'dev-b');
    fixture.cleanup(() => a.client.endAsync(), () => b.client.endAsync());
    // Execute: dev-a's model diverged (NaN delta); dev-b is fine.
    const running = coordinator.run();
    const round = await a.nextRound();
    await publishUpdate(a.client, 'dev-a', updatePayload(round, 'dev-a', f32Codec.encode(new Float32Array(PARAMS).fill(NaN), new Rng(1))));
    await publishUpdate(b.client, 'dev-b', updatePayload(round, 'dev-b', f32Codec.encode(new Float32Array(PARAMS), new Rng(1))));
    const [report] = await running;
    // Assert
    expect(report!.closedBy).toBe('complete');
    expect(report!.accepted).toBe(1);
    expect(report!.rejectedByReason).toEqual({ 'non-finite': 1 });
    expect(Date.now()).toBeLessThan(round.deadline - 30_000);
  });

  it('refuses an update from a device that was not selected', async () => {
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new Coordinator({ fleet: 'test', rounds: 1, minDevices: 1, codec: 'f32', roundTimeoutMs: 20_000 }, { client: control, evaluate: evaluator });
    const rejected: string[] = [];
    coordinator.on('updateRejected', (r) => rejected.push(`${r.deviceId}:${r.reason}`));
    const a = await rawDevice(broker.url, 'dev-a');
    fixture.cleanup(() => a.client.endAsync());
    const running = coordinator.run();
    const round = await a.nextRound();
    const late = await rawDevice(broker.url, 'late');
    fixture.cleanup(() => late.client.endAsync());
    const good = f32Codec.encode(new Float32Array(PARAMS), new Rng(1));
    await publishUpdate(late.client, 'late', updatePayload(round, 'late', good));
    await expect.poll(() => rejected).toEqual(['late:not-selected']);
    await publishUpdate(a.client, 'dev-a', updatePayload(round, 'dev-a', good));
    const [report] = await running;
    expect(report!.accepted).toBe(1);
    expect(report!.rejectedByReason).toEqual({ 'not-selected': 1 });
  });
});
