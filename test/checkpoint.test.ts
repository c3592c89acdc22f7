import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator, connectAggregator } from '../aggregator/index.js';
import { initialWeights, modelInfo } from '../learning/index.js';
import type { BrokerHandle } from '../broker/index.js';
import { f32Delta, publishUpdate, rawDevice, smallEvaluator, testBroker, updatePayload } from './helpers.js';

const PARAMS = modelInfo('mlp').paramCount;

describe('an aggregator restarted from its checkpoint', () => {
  let broker: BrokerHandle | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    await broker?.close();
  });

  it('goes on from the last closed round with the global it had reached', async () => {
    // Prepare: one device; a checkpoint file in a scratch folder.
    broker = await testBroker();
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'fedmq-resume-')), 'global.ckpt');
    const evaluator = await smallEvaluator();
    cleanup.push(async () => evaluator.dispose());
    const device = await rawDevice(broker.url, 'a');
    cleanup.push(() => device.client.endAsync());
    const options = { fleet: 'test', rounds: 3, minDevices: 1, codec: 'f32', checkpoint: file };

    // Execute: the first aggregator closes round 1 and is stopped during round 2.
    const first = await connectAggregator({ url: broker.url, fleet: 'test' });
    cleanup.push(() => first.endAsync());
    const before = new Coordinator(options, { client: first, evaluate: evaluator });
    const running = before.run();
    const round1 = await device.nextRound();
    await publishUpdate(device.client, 'a', updatePayload(round1, 'a', f32Delta(0.01)));
    const round2 = await device.nextRound();
    before.stop();
    await running;
    // A new aggregator process (its own client) with the same checkpoint.
    const second = await connectAggregator({ url: broker.url, fleet: 'test' });
    cleanup.push(() => second.endAsync());
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
    expect(resumed).toEqual([{ file, round: 1, version: 1 }]);
    expect(again.globalVersion).toBe(1);
    expect(reports.map((r) => r.round)).toEqual([2, 3]);
    const start = initialWeights('mlp', 0);
    for (let i = 0; i < PARAMS; i += 997) expect(after.weights[i]! - start[i]!).toBeCloseTo(0.06, 5);
  });
});
