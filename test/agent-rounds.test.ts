import { describe, expect, it } from 'vitest';
import { ManualClock, build, builtinTask, encodeMessage } from '../protocol/index.js';
import { brokerFixture, mnistSlice } from './helpers.js';
import { RawAggregator, mlpGlobal, mlpTask, roundFor, sleep, startAgent, waitFor } from './agent-support.js';

const DEVICE = 'dev-a';
const T0 = 1_700_000_000_000;

describe('an agent sent rounds and tasks it must not follow', () => {
  const fixture = brokerFixture();

  /** A broker, a raw aggregator, and a real agent on 600 MNIST examples reading `clock`. */
  async function setUp(clock = new ManualClock(T0)): Promise<{ aggregator: RawAggregator; events: Awaited<ReturnType<typeof startAgent>>['events']; clock: ManualClock }> {
    const broker = await fixture.start();
    const aggregator = await RawAggregator.connect(broker.url);
    fixture.cleanup(() => aggregator.end());
    const { agent, client, events } = await startAgent(broker.url, DEVICE, await mnistSlice(600, 'train'), { clock });
    fixture.cleanup(() => client.endAsync(), () => agent.stop());
    return { aggregator, events, clock };
  }

  it('refuses a round asking for 10,000 epochs with a warning, and trains on the valid round that follows', async () => {
    // Prepare
    const { aggregator, events } = await setUp();
    // Execute: the round (10,000 epochs, a 5 s deadline), then a valid one.
    await aggregator.startRound(roundFor([DEVICE], 1, T0 + 5_000, { epochs: 10_000 }));
    await waitFor('the refusal', () => events.warning.length > 0 || events.trainingStarted.length > 0, 5_000);
    await aggregator.publish('round', roundFor([DEVICE], 2, T0 + 5_000));
    // Assert
    await aggregator.updateFor(DEVICE, 2, 10_000);
    expect(events.trainingStarted.map((r) => r.round)).toEqual([2]);
    expect(events.warning.map((e) => e.name)).toEqual(['MessageRefusedError']);
    expect(events.warning[0]!.message).toMatch(/refused round message: field "epochs" must be an integer in \[1, 1000\]/);
  });

  it('refuses every round outside the protocol bounds, keeps the valid round it held, and trains on it', async () => {
    // Prepare
    const { aggregator, events } = await setUp();
    await aggregator.publish('task', mlpTask());
    const valid = roundFor([DEVICE], 7, T0 + 5_000);
    const hostile = [
      roundFor([DEVICE], 8, T0 + 5_000, { epochs: 1_001 }),
      roundFor([DEVICE], 8, T0 + 5_000, { batchSize: 1_025 }),
      roundFor([DEVICE], 8, T0 + 5_000, { lr: 11 }),
      roundFor([DEVICE], 8, T0 + 5_000, { lr: 1e308 }),
      roundFor([DEVICE], 8, T0 + 5_000, { mu: 11 }),
      roundFor([DEVICE], 8, T0 + 25 * 3_600_000, { issuedAt: T0 }), // a day and an hour long
      roundFor([DEVICE], 8, T0 + 25 * 3_600_000, { issuedAt: T0 + 25 * 3_600_000 - 1_000 }), // says it is short, but is a day and an hour from now
      roundFor([DEVICE], 8, T0 + 5_000, { issuedAt: T0 + 6_000 }), // issued after its deadline
      roundFor([DEVICE, '../../etc'], 8, T0 + 5_000),
    ];
    // Execute: the valid round arrives before the global (so nothing trains yet), then the hostile ones, then the global.
    await aggregator.publish('round', valid);
    for (const round of hostile) await aggregator.publish('round', round);
    await waitFor('a refusal of each', () => events.warning.length >= hostile.length || events.trainingStarted.length > 0, 5_000);
    await aggregator.publish('global', mlpGlobal());
    // Assert: it trained the valid round only.
    await aggregator.updateFor(DEVICE, 7, 10_000);
    await sleep(200);
    expect(events.trainingStarted.map((r) => r.round)).toEqual([7]);
    expect(events.warning.map((e) => e.name)).toEqual(hostile.map(() => 'MessageRefusedError'));
  });

  it('stops training at the round deadline on its clock, sends nothing late, and trains on the next round', async () => {
    // Prepare: 1,000 epochs of 600 examples is minutes of training; the deadline is 5 s of the agent's clock away.
    const { aggregator, events, clock } = await setUp();
    await aggregator.startRound(roundFor([DEVICE], 1, T0 + 5_000, { epochs: 1_000 }));
    await waitFor('training of round 1', () => events.trainingStarted.length === 1, 5_000);
    await sleep(300);
    // Execute: the deadline passes.
    clock.advanceTo(T0 + 5_001);
    await waitFor('round 1 to be given up', () => events.roundSkipped.some((s) => s.round === 1), 2_000);
    await aggregator.publish('round', roundFor([DEVICE], 2, T0 + 10_000));
    // Assert
    await aggregator.updateFor(DEVICE, 2, 10_000);
    expect(events.roundSkipped.filter((s) => s.round === 1)).toEqual([{ round: 1, reason: 'missed-deadline' }]);
    expect(aggregator.updates.map((u) => u.round)).toEqual([2]);
    expect(events.warning).toEqual([]);
  });

  it('ends the training of a round when a newer round chooses it, and trains on that one', async () => {
    // Prepare: a round within every bound that would still keep the device for minutes.
    const { aggregator, events } = await setUp();
    await aggregator.startRound(roundFor([DEVICE], 1, T0 + 3_600_000, { epochs: 1_000 }));
    await waitFor('training of round 1', () => events.trainingStarted.length === 1, 5_000);
    await sleep(300);
    // Execute
    await aggregator.publish('round', roundFor([DEVICE], 2, T0 + 5_000));
    // Assert
    await aggregator.updateFor(DEVICE, 2, 5_000);
    expect(events.roundSkipped.filter((s) => s.round === 1)).toEqual([{ round: 1, reason: 'superseded' }]);
    expect(aggregator.updates.map((u) => u.round)).toEqual([2]);
  });

  it('refuses a task announcing 2^53-1 parameters, and trains again once the real task is back', async () => {
    // Prepare: the device has trained a round of the real task.
    const { aggregator, events } = await setUp();
    await aggregator.startRound(roundFor([DEVICE], 1, T0 + 5_000));
    await aggregator.updateFor(DEVICE, 1, 10_000);
    // Execute: the hostile task, then the real one again, then a round.
    await aggregator.publish('task', mlpTask({ paramCount: Number.MAX_SAFE_INTEGER }));
    await aggregator.publish('task', mlpTask());
    await aggregator.publish('round', roundFor([DEVICE], 2, T0 + 5_000));
    // Assert
    await aggregator.updateFor(DEVICE, 2, 10_000);
    expect(events.warning.map((e) => e.name)).toEqual(['MessageRefusedError']);
    expect(events.warning[0]!.message).toMatch(/refused task message: field "paramCount"/);
  });

  it('refuses tasks this device cannot run as announced, changing nothing, and trains on the next round', async () => {
    // Prepare
    const { aggregator, events } = await setUp();
    await aggregator.startRound(roundFor([DEVICE], 1, T0 + 5_000));
    await aggregator.updateFor(DEVICE, 1, 10_000);
    const hostile = [
      mlpTask({ paramCount: 1_000 }), // within the wire bound, not the mlp's
      mlpTask({ task: { ...builtinTask('mlp'), input: { shape: [4096, 4096, 1] } } }),
      mlpTask({ task: { ...builtinTask('mlp'), input: { shape: [1 << 20, 1 << 20] } } }), // 2^40 values
      mlpTask({ task: { ...builtinTask('mlp'), output: { kind: 'classes', classes: 7 } } }),
      mlpTask({ task: { ...builtinTask('mlp'), model: { layers: [{ kind: 'resnet152' }] } } as never }),
      mlpTask({ downlink: 'delta:nope' }),
      mlpTask({ codec: 'zstd-magic' }),
    ];
    // Execute
    for (const task of hostile) await aggregator.publish('task', task);
    await aggregator.publish('round', roundFor([DEVICE], 2, T0 + 5_000));
    // Assert: each refused, and round 2 trained on the task it held.
    await aggregator.updateFor(DEVICE, 2, 10_000);
    expect(events.warning.map((e) => e.name)).toEqual(hostile.map(() => 'MessageRefusedError'));
    expect(aggregator.updates.map((u) => [u.round, u.codec])).toEqual([[1, 'f32'], [2, 'f32']]);
  });

  it('refuses a task with a codec it does not know at the task, and trains no round of it', async () => {
    // Prepare
    const { aggregator, events } = await setUp();
    // Execute: a fleet that starts with a codec this build lacks.
    await aggregator.startRound(roundFor([DEVICE], 1, T0 + 5_000, { codec: 'zstd-magic' }), mlpTask({ codec: 'zstd-magic' }));
    await waitFor('the refusal', () => events.warning.length > 0, 5_000);
    await sleep(500);
    // Assert
    expect(events.warning[0]!.message).toMatch(/unknown codec "zstd-magic"/);
    expect(events.trainingStarted).toEqual([]);
    expect(aggregator.updates).toEqual([]);
  });

  it('takes a CBOR map that is not a message on any of its topics as a warning and goes on', async () => {
    // Prepare
    const { aggregator, events } = await setUp();
    const junk = encodeMessage(build.status({ deviceId: 'x', state: 'online', ts: 0 }));
    // Execute
    // (The retained global is read only once the task says the downlink sends full copies.)
    await aggregator.publish('task', mlpTask());
    for (const kind of ['task', 'global', 'round'] as const) await aggregator.publish(kind, junk, false);
    await aggregator.startRound(roundFor([DEVICE], 1, T0 + 5_000));
    // Assert
    await aggregator.updateFor(DEVICE, 1, 10_000);
    expect(events.warning.map((e) => e.message)).toEqual([expect.stringMatching(/"task"/), expect.stringMatching(/"global"/), expect.stringMatching(/"round"/)]);
  });
});
