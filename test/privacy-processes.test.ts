import { describe, expect, it } from 'vitest';
import { processStarter } from './processes.js';

/**
 * Secure aggregation and differential privacy across separate processes: `fedmq broker`,
 * `fedmq aggregator --secagg --dp ...` and four `fedmq agent`s, each with its own MQTT
 * connection and its own share of MNIST. The agents need no flag: the task tells them.
 */
describe('privacy as separate processes', () => {
  const start = processStarter();

  it('trains two secure-aggregation rounds with central DP, and reports epsilon each round', async () => {
    const broker = start(['broker', '--host', '127.0.0.1', '--port', '0']);
    const [, url] = await broker.waitFor(/broker listening on (mqtt:\/\/\S+)/);
    const aggregator = start([
      'aggregator', '--broker', url!, '--fleet', 'private', '--rounds', '2', '--min-devices', '4', '--round-timeout', '120',
      '--seed', '3', '--secagg', '--dp', 'noise:0.5,clip:1,delta:1e-5',
    ]);
    const agents = [0, 1, 2, 3].map((i) => start(['agent', '--broker', url!, '--fleet', 'private', '--id', `pi-${i}`, '--data', `mnist:iid:${i}/4`, '--seed', '3']));
    const code = await aggregator.exit();

    const rounds = aggregator.lines.filter((l) => l.startsWith('round ') && l.includes(' acc '));
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(rounds).toHaveLength(2);
    expect(rounds.every((l) => l.includes('participants 4/4')), aggregator.lines.join('\n')).toBe(true);
    // Each round says how much privacy it has spent, more after round 2.
    const epsilons = rounds.map((l) => Number(/(?:epsilon|ε)\s*=?\s*(\d+(?:\.\d+)?)/.exec(l)?.[1]));
    expect(epsilons.every((e) => e > 0), aggregator.lines.join('\n')).toBe(true);
    expect(epsilons[1]!).toBeGreaterThan(epsilons[0]!);
    // The global moved: every round aggregated the survivors' unmasked, noised mean (at z = 0.5 on 4 devices the noise
    // swamps the model; test/secagg-fleet checks accuracy without DP).
    expect(aggregator.lines.some((l) => /global kept/.test(l)), aggregator.lines.join('\n')).toBe(false);
    for (const p of [...agents, broker]) expect(await p.stop()).toBe(0);
  }, 300_000);
});
