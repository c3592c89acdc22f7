import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FedmqProcess } from './processes.js';

describe('fedmq as separate processes: broker, aggregator and three agents', () => {
  const processes: FedmqProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
  });

  it('completes two rounds with accuracy well above chance, then everything shuts down cleanly', async () => {
    // Prepare: a broker on a free port.
    const broker = new FedmqProcess(['broker', '--host', '127.0.0.1', '--port', '0']);
    processes.push(broker);
    const [, url] = await broker.waitFor(/broker listening on (mqtt:\/\/\S+)/);

    // Execute: an aggregator that waits for three devices, and three agents on an IID split.
    const aggregator = new FedmqProcess(['aggregator', '--broker', url!, '--fleet', 'it', '--rounds', '2', '--min-devices', '3', '--round-timeout', '120', '--seed', '3']);
    processes.push(aggregator);
    // The default codec keeps an error-feedback residual on disk: in a scratch folder, not ~/.fedmq.
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'fedmq-agents-'));
    const agents = [0, 1, 2].map((i) => new FedmqProcess(['agent', '--broker', url!, '--fleet', 'it', '--id', `pi-${i}`, '--data', `mnist:iid:${i}/3`, '--seed', '3', '--state-dir', stateDir]));
    processes.push(...agents);
    const code = await aggregator.exit();

    // Assert
    const rounds = aggregator.lines.filter((l) => l.startsWith('round ') && l.includes(' acc '));
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(rounds).toHaveLength(2);
    const accuracies = rounds.map((l) => Number(/acc (\d\.\d+)/.exec(l)![1]));
    expect(accuracies[1]!).toBeGreaterThan(0.5); // chance is 0.1
    expect(rounds.every((l) => l.includes('participants 3/3'))).toBe(true);
    for (const agent of agents) {
      await agent.waitFor(/round 2: published/);
      expect(await agent.stop()).toBe(0);
      expect(agent.lines).toContain('agent stopped');
    }
    // Each agent saved what its sparse updates left out, to carry into its next round.
    expect(readdirSync(stateDir).sort()).toEqual(['pi-0.residual', 'pi-1.residual', 'pi-2.residual']);
    expect(await broker.stop()).toBe(0);
    expect(broker.lines).toContain('broker closed');
  }, 240_000);

  it('runs async mode (FedBuff) with real agents: a new global every two updates, stale ones counted', async () => {
    const broker = new FedmqProcess(['broker', '--host', '127.0.0.1', '--port', '0']);
    processes.push(broker);
    const [, url] = await broker.waitFor(/broker listening on (mqtt:\/\/\S+)/);
    const aggregator = new FedmqProcess(['aggregator', '--broker', url!, '--fleet', 'async', '--mode', 'async', '--buffer', '2', '--rounds', '4', '--min-devices', '3', '--codec', 'f32', '--seed', '3']);
    processes.push(aggregator);
    const agents = [0, 1, 2].map((i) => new FedmqProcess(['agent', '--broker', url!, '--fleet', 'async', '--id', `pi-${i}`, '--data', `mnist:iid:${i}/3`, '--seed', '3']));
    processes.push(...agents);
    const code = await aggregator.exit();

    const globals = aggregator.lines.filter((l) => l.startsWith('round ') && l.includes(' acc '));
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(globals).toHaveLength(4);
    expect(globals.every((l) => l.includes('updates 2'))).toBe(true);
    expect(Number(/acc (\d\.\d+)/.exec(globals[3]!)![1])).toBeGreaterThan(0.5);
    // Three devices train at once and two make a global: some update joins a newer global than it started from.
    expect(globals.some((l) => /staleness \d\.\d \(max [1-9]/.test(l))).toBe(true);
    for (const p of [...agents, broker]) expect(await p.stop()).toBe(0);
  }, 240_000);
});
