import { describe, expect, it } from 'vitest';
import { startBroker } from '../broker/index.js';
import { watchFleet, type RoundView } from '../monitor/index.js';
import { Simulation } from '../simulator/index.js';

describe('a sync simulation seen by the monitor', () => {
  it('counts down the simulated round timeout (120 s), not a real-time backstop', async () => {
    // Prepare: an external broker, so that a monitor can watch the simulation's traffic.
    const broker = await startBroker({ host: '127.0.0.1', port: 0 });
    const watch = watchFleet({ url: broker.url, fleet: 'sim', sys: false });
    await new Promise<void>((resolve) => watch.client.once('connect', () => resolve()));
    const simulation = new Simulation({
      devices: 3, rounds: 2, codec: 'int8', backend: 'wasm', seed: 3, brokerUrl: broker.url, fleet: 'sim',
      profiles: 'pi-4', msPerExample: 0.5,
    });
    const seen: RoundView[] = [];
    watch.client.on('message', (topic) => {
      if (topic.endsWith('/round')) seen.push(watch.state.snapshot(Date.now()).round!);
    });
    try {
      // Execute
      const report = await simulation.run();
      // Assert: each round message arrived with the default 120 s to go (give or take the
      // moment between its arrival and the snapshot), though simulated time ran ahead of real time.
      expect(report.rounds).toHaveLength(2);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      for (const r of seen) {
        expect(r.remainingMs).toBeLessThanOrEqual(120_000);
        expect(r.remainingMs).toBeGreaterThan(115_000);
      }
    } finally {
      await watch.close();
      await broker.close();
    }
  }, 120_000);
});
