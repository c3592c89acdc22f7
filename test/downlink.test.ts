import { describe, expect, it } from 'vitest';
import { Coordinator, type RoundReport } from '../aggregator/index.js';
import { DeviceAgent, LocalTrainer, connectDevice } from '../device-agent/index.js';
import { sha256Hex } from '../protocol/index.js';
import { aggregatorFixture, mnistExamples, mnistSlice } from './helpers.js';

describe('a delta downlink', () => {
  const fixture = aggregatorFixture();

  it('sends devices that hold the global only its f16 steps, and they stay in step with the aggregator', async () => {
    // Prepare: a real broker, a coordinator with downlink delta:f16 and two real agents.
    const { broker, control, evaluator } = await fixture.start();
    const trainer = new LocalTrainer();
    fixture.cleanup(async () => trainer.dispose());
    const coordinator = new Coordinator({ fleet: 'test', rounds: 3, minDevices: 2, codec: 'int8', downlink: 'delta:f16', roundTimeoutMs: 60_000 }, { client: control, evaluate: evaluator });
    const received: Record<string, number> = {};
    const data = mnistExamples(await mnistSlice(600, 'train'));
    for (const id of ['dev-a', 'dev-b']) {
      const client = await connectDevice({ url: broker.url, deviceId: id, fleet: 'test' });
      client.on('message', (topic) => {
        const kind = topic.split('/')[3]!;
        received[kind] = (received[kind] ?? 0) + 1;
      });
      const agent = new DeviceAgent(client, { deviceId: id, fleet: 'test', data }, { trainer });
      await agent.start();
      fixture.cleanup(() => client.endAsync(), () => agent.stop());
    }
    // Execute
    const reports: RoundReport[] = await coordinator.run();
    // Assert: every round got both updates, so both devices decoded every version right.
    expect(reports.map((r) => r.accepted)).toEqual([2, 2, 2]);
    // Each device built version 0 from the task's seed (no full global), then took the steps to versions 1, 2 and 3.
    expect(received.global).toBeUndefined();
    expect(received.to).toBeUndefined();
    expect(received['global-delta']).toBe(2 * 3);
    // Round 1 downloads only the round message; later rounds an f16 step each, half the float32 model.
    const f32Bytes = coordinator.weights.byteLength;
    expect(reports[0]!.bytesDown).toBeLessThan(2 * 1024);
    expect(reports[1]!.bytesDown / 2).toBeGreaterThan(f32Bytes / 2);
    expect(reports[1]!.bytesDown / 2).toBeLessThan(f32Bytes * 0.55);
  }, 120_000);

  it('lets a device that missed a step catch up by the step it missed', async () => {
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new Coordinator({ fleet: 'test', rounds: 3, minDevices: 1, codec: 'f32', downlink: 'delta:int8', roundTimeoutMs: 60_000 }, { client: control, evaluate: evaluator });
    const client = await connectDevice({ url: broker.url, deviceId: 'dev-late', fleet: 'test' });
    const agent = new DeviceAgent(client, { deviceId: 'dev-late', fleet: 'test', data: mnistExamples(await mnistSlice(300, 'train')) });
    fixture.cleanup(() => client.endAsync(), () => agent.stop());
    // Lose the first delta, as a device offline at that moment would.
    let dropped = false;
    const emit = client.emit.bind(client);
    client.emit = ((event: string, ...args: unknown[]) => {
      if (!dropped && event === 'message' && String(args[0]).endsWith('/global-delta')) {
        dropped = true;
        return true;
      }
      return emit(event as 'message', ...(args as [string, Buffer, never]));
    }) as typeof client.emit;
    const caughtUp: unknown[] = [];
    agent.on('caughtUp', (c) => caughtUp.push(c));
    await agent.start();
    const reports = await coordinator.run();
    expect(dropped).toBe(true);
    expect(reports.map((r) => r.accepted)).toEqual([1, 1, 1]);
    expect(caughtUp).toEqual([expect.objectContaining({ from: 0, to: 1, kind: 'steps' })]);
    expect(agent.heldGlobal.sha256).toBe(sha256Hex(coordinator.weights));
  }, 120_000);
});
