import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Coordinator, connectAggregator } from '../aggregator/index.js';
import { builtinTask, taskLayout } from '../protocol/index.js';
import { taskInitialWeights } from '../learning/index.js';
import { aggregatorFixture, f32Delta, publishUpdate, rawDevice, updatePayload } from './helpers.js';

const PARAMS = taskLayout(builtinTask('mlp')).paramCount;

describe('an aggregator restarted from its checkpoint', () => {
  const fixture = aggregatorFixture();

  it('goes on from the last closed round with the global and the server momentum it had reached', async () => {
    // Prepare: one device; a checkpoint file in a scratch folder.
    const { broker, control: first, evaluator } = await fixture.start();
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'fedmq-resume-')), 'global.ckpt');
    const device = await rawDevice(broker.url, 'a');
    fixture.cleanup(() => device.client.endAsync());
    const options = { fleet: 'test', rounds: 3, minDevices: 1, codec: 'f32', downlink: 'f32', strategy: 'fedavgm', checkpoint: file };

    // Execute: the first aggregator closes round 1 and is stopped during round 2.
    const before = new Coordinator(options, { client: first, evaluate: evaluator });
    const running = before.run();
    const round1 = await device.nextRound();
    await publishUpdate(device.client, 'a', updatePayload(round1, 'a', f32Delta(0.01)));
    const round2 = await device.nextRound();
    before.stop();
    await running;
    await first.endAsync();
    // A new aggregator process (its own client, under the same client id) with the same checkpoint.
    const second = await connectAggregator({ url: broker.url, fleet: 'test' });
    fixture.cleanup(() => second.endAsync());
    const after = new Coordinator(options, { client: second, evaluate: evaluator });
    const resumed: unknown[] = [];
    after.on('resumed', (r) => resumed.push(r));
    const runningAgain = after.run();
    const again = await device.nextRound();
    await publishUpdate(device.client, 'a', updatePayload(again, 'a', f32Delta(0.02)));
    const round3 = await device.nextRound();
    await publishUpdate(device.client, 'a', updatePayload(round3, 'a', f32Delta(0.03)));
    const reports = await runningAgain;

    // Assert: round 2 was run again (it never closed), from round 1's global; numbers go on.
    expect([round1.round, round2.round, again.round, round3.round]).toEqual([1, 2, 2, 3]);
    expect(resumed).toEqual([{ file, round: 1, version: 1, strategy: 'fedavgm:0.9:1', restoredState: ['velocity'], savedStrategy: 'fedavgm:0.9:1' }]);
    expect(again.globalVersion).toBe(1);
    expect(reports.map((r) => r.round)).toEqual([2, 3]);
    const start = taskInitialWeights(builtinTask('mlp'), 0);
    // FedAvgM (beta 0.9, lr 1): v = 0.01, then 0.9 x 0.01 + 0.02 = 0.029 (0.02 had the momentum
    // been lost), then 0.9 x 0.029 + 0.03 = 0.0561; the global moved by the sum of the v's.
    for (let i = 0; i < PARAMS; i += 997) expect(after.weights[i]! - start[i]!).toBeCloseTo(0.01 + 0.029 + 0.0561, 5);
  });
});
