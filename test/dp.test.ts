import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { Simulation } from '../simulator/index.js';
import { decodeMessage, fleetTopics, type MetricsMessage, type TaskMessage } from '../protocol/index.js';
import { RdpAccountant, localEpsilon } from '../privacy/index.js';
import { testBroker } from './helpers.js';

/**
 * --dp end to end in real simulations (embedded fleet on a real Aedes broker, real training):
 * epsilon in every round's metrics message and in the run report, equal to the accountant's
 * for the same (z, q, rounds, delta); the budget stop; a resumed run keeps the epsilon spent;
 * local DP goes out in the task message.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), 'fedmq-dp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 4 devices, half of them chosen per round: q = 2 / 4. */
const FLEET = { devices: 4, fraction: 0.5, partition: 'iid', seed: 3, backend: 'wasm' as const, model: '2nn', codec: 'int8' };
const Q = 0.5;

/** Epsilon of `rounds` rounds at (z, q) and delta, from a fresh accountant given one round at a time. */
function accountantEpsilon(z: number, q: number, rounds: number, delta: number): number {
  const a = new RdpAccountant(delta);
  for (let i = 0; i < rounds; i++) a.addRound(z, q);
  return a.epsilon();
}

/** Runs a simulation on its own broker and collects every `metrics` and `task` message published. */
async function simulate(settings: ConstructorParameters<typeof Simulation>[0]): Promise<{ report: Awaited<ReturnType<Simulation['run']>>; metrics: MetricsMessage[]; tasks: TaskMessage[]; stops: unknown[] }> {
  const broker = await testBroker();
  const t = fleetTopics('default');
  const watcher = await mqtt.connectAsync(broker.url, { clientId: `dp-watcher-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  const metrics: MetricsMessage[] = [];
  const tasks: TaskMessage[] = [];
  watcher.on('message', (topic, payload) => {
    if (topic === t.metrics) metrics.push(decodeMessage('metrics', payload));
    if (topic === t.task) tasks.push(decodeMessage('task', payload));
  });
  await watcher.subscribeAsync([t.metrics, t.task], { qos: 1 });
  try {
    const simulation = new Simulation({ ...FLEET, brokerUrl: broker.url, ...settings });
    const stops: unknown[] = [];
    simulation.on('privacyStopped', (s) => stops.push(s));
    const report = await simulation.run();
    // The last metrics message is published before run() resolves; QoS 1 delivers it to the watcher shortly after.
    const until = Date.now() + 10_000;
    while (metrics.length < report.rounds.length && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return { report, metrics, tasks, stops };
  } finally {
    await watcher.endAsync();
    await broker.close();
  }
}

describe('--dp in a simulation', () => {
  it('publishes epsilon in every metrics message and the report, equal to the accountant for (z, q, rounds, delta)', async () => {
    const { report, metrics } = await simulate({ rounds: 3, dp: 'noise:1.1,clip:0.5,delta:1e-5' });

    expect(report.config.dp).toBe('noise:1.1,clip:0.5,delta:0.00001');
    expect(report.rounds.map((r) => r.participants)).toEqual([2, 2, 2]);
    expect(metrics.map((m) => m.round)).toEqual([1, 2, 3]);
    for (const [i, r] of report.rounds.entries()) {
      const expected = accountantEpsilon(1.1, Q, i + 1, 1e-5);
      expect(r.privacy).toEqual({ mode: 'central', epsilon: expected, delta: 1e-5, noiseMultiplier: 1.1, clip: 0.5, rounds: i + 1 });
      // The metrics message on the wire says the same.
      expect(metrics[i]!.privacy).toEqual(r.privacy);
    }
    expect(report.rounds[2]!.privacy!.epsilon).toBeGreaterThan(report.rounds[0]!.privacy!.epsilon);
    expect(report.final.privacy).toEqual(report.rounds[2]!.privacy);
    // Every round made a global (noised: with 2 participants the mean carries noise z C / 2 per coordinate, so no accuracy is promised).
    expect(report.rounds.map((r) => r.accepted)).toEqual([2, 2, 2]);
    expect(Number.isFinite(report.final.accuracy)).toBe(true);
  }, 240_000);

  it('stops before the round that would exceed the budget, and says why', async () => {
    const e2 = accountantEpsilon(1.1, Q, 2, 1e-5);
    const e3 = accountantEpsilon(1.1, Q, 3, 1e-5);
    const budget = Number(((e2 + e3) / 2).toFixed(6));
    expect(budget).toBeGreaterThan(e2);
    expect(budget).toBeLessThan(e3);

    const { report, stops } = await simulate({ rounds: 6, dp: `noise:1.1,clip:0.5,delta:1e-5,budget:${budget}` });

    expect(report.rounds.map((r) => r.round)).toEqual([1, 2]);
    expect(report.rounds.at(-1)!.privacy!.epsilon).toBe(e2);
    expect(stops).toEqual([{ round: 3, reason: 'budget', epsilon: e2, epsilonAfter: e3, detail: expect.stringMatching(/above the budget/) as unknown }]);
    expect(report.final.privacy).toMatchObject({ epsilon: e2, budget, stopped: { round: 3, reason: 'budget' } });
  }, 240_000);

  it('keeps the epsilon spent across a checkpoint: a resumed run goes on from it', async () => {
    const checkpoint = path.join(tmp, 'dp.safetensors');
    const dp = 'noise:1.1,clip:0.5,delta:1e-5';
    const first = await simulate({ rounds: 2, dp, checkpoint });
    expect(first.report.rounds.at(-1)!.privacy!.epsilon).toBe(accountantEpsilon(1.1, Q, 2, 1e-5));

    const second = await simulate({ rounds: 3, dp, checkpoint });

    expect(second.report.rounds.map((r) => r.round)).toEqual([3]);
    expect(second.report.rounds[0]!.privacy).toMatchObject({ rounds: 3, epsilon: accountantEpsilon(1.1, Q, 3, 1e-5) });
  }, 240_000);

  it('local DP: the task carries dp to the devices and epsilon is a device\'s in every round', async () => {
    const { report, tasks, metrics } = await simulate({ rounds: 2, dp: 'noise:3,clip:0.5,delta:1e-5,local' });

    expect(tasks.at(-1)!.dp).toEqual({ noiseMultiplier: 3, clip: 0.5 });
    for (const [i, r] of report.rounds.entries()) {
      expect(r.privacy).toEqual({ mode: 'local', epsilon: localEpsilon(3, i + 1, 1e-5), delta: 1e-5, noiseMultiplier: 3, clip: 0.5, rounds: i + 1 });
      expect(metrics[i]!.privacy).toEqual(r.privacy);
    }
  }, 240_000);
});
