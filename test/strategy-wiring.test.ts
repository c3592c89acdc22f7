import { describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { Coordinator } from '../aggregator/index.js';
import { builtinTask, taskLayout } from '../protocol/index.js';
import { taskInitialWeights } from '../learning/index.js';
import { aggregatorFixture, f32Delta, publishUpdate, rawDevice, updatePayload } from './helpers.js';

const PARAMS = taskLayout(builtinTask('mlp')).paramCount;
describe('the --strategy option over a real broker', () => {
  const fixture = aggregatorFixture();

  it('aggregates with the median named on the command line and sends FedProx mu to devices', async () => {
    // Prepare: three devices; one sends an outlier that would drag a mean far away.
    const { broker, control, evaluator } = await fixture.start();
    const coordinator = new Coordinator({ fleet: 'test', rounds: 1, minDevices: 3, codec: 'f32', downlink: 'f32', strategy: 'normbound:1000+median' }, { client: control, evaluate: evaluator });
    const devices = await Promise.all(['a', 'b', 'c'].map((id) => rawDevice(broker.url, id)));
    fixture.cleanup(...devices.map((d) => () => d.client.endAsync()));
    // Execute
    const running = coordinator.run();
    const round = await devices[0]!.nextRound();
    await Promise.all(devices.map((d, k) => publishUpdate(d.client, ['a', 'b', 'c'][k]!, updatePayload(round, ['a', 'b', 'c'][k]!, f32Delta([0.01, 0.02, 5][k]!)))));
    await running;
    // Assert: every weight moved by the median step 0.02, not the mean 1.67.
    const start = taskInitialWeights(builtinTask('mlp'), 0);
    for (let i = 0; i < PARAMS; i += 1001) expect(coordinator.weights[i]! - start[i]!).toBeCloseTo(0.02, 5);
    expect(round.mu).toBe(0);

    // A second aggregator (its own client: an existing subscription would not replay retained statuses).
    const control2 = await mqtt.connectAsync(broker.url, { clientId: 'aggregator-2' });
    fixture.cleanup(() => control2.endAsync());
    const prox = new Coordinator({ fleet: 'test', rounds: 1, minDevices: 3, codec: 'f32', strategy: 'fedprox:0.5', roundTimeoutMs: 500 }, { client: control2, evaluate: evaluator });
    const proxRunning = prox.run();
    const proxRound = await devices[0]!.nextRound();
    expect(proxRound.mu).toBe(0.5);
    prox.stop();
    await proxRunning;
  });
});
