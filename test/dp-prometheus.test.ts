import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCoordinator, registerAggregatorMetrics } from '../aggregator/index.js';
import { epsilon } from '../privacy/index.js';
import { aggregatorFixture, mnistSlice } from './helpers.js';
import { startAgent } from './agent-support.js';

/**
 * Prometheus under --dp: a real coordinator and two real agents training on MNIST over a real
 * broker, one round of central DP; the aggregator's registry then holds the epsilon spent.
 */
describe('--dp in Prometheus', () => {
  const fixture = aggregatorFixture();

  it('exports fedmq_aggregator_dp_epsilon and its settings after a round', async () => {
    const { broker, control, evaluator } = await fixture.start();
    for (const [i, id] of ['pi-a', 'pi-b'].entries()) {
      const { agent } = await startAgent(broker.url, id, await mnistSlice(100 * (i + 1), 'train'));
      fixture.cleanup(() => agent.stop());
    }
    const coordinator = createCoordinator(
      { fleet: 'test', rounds: 1, minDevices: 2, codec: 'f32', model: 'mlp', dp: 'noise:1.3,clip:0.5,delta:1e-5' },
      { client: control, evaluate: evaluator },
    );
    const registry = new Registry();
    registerAggregatorMetrics(coordinator, registry);
    expect((await registry.getSingleMetric('fedmq_aggregator_dp_epsilon')!.get()).values[0]!.value).toBe(0);

    const [report] = await coordinator.run();

    // Both devices chosen of two eligible: q = 1.
    const spent = epsilon(1.3, 1, 1, 1e-5);
    expect(report!.privacy).toEqual({ mode: 'central', epsilon: spent, delta: 1e-5, noiseMultiplier: 1.3, clip: 0.5, rounds: 1 });
    const value = async (name: string): Promise<number> => (await registry.getSingleMetric(name)!.get()).values[0]!.value;
    expect(await value('fedmq_aggregator_dp_epsilon')).toBeCloseTo(spent, 12);
    expect(await value('fedmq_aggregator_dp_delta')).toBe(1e-5);
    expect(await value('fedmq_aggregator_dp_clip')).toBe(0.5);
    expect(await value('fedmq_aggregator_dp_noise_multiplier')).toBe(1.3);
    expect(await value('fedmq_aggregator_dp_rounds')).toBe(1);
  }, 120_000);
});
