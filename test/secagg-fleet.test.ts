import { describe, expect, it } from 'vitest';
import { Coordinator, SecureRound, type SecureRoundSummary } from '../aggregator/index.js';
import { DeviceAgent, connectDevice } from '../device-agent/index.js';
import { builtinTask, taskLayout } from '../protocol/index.js';
import { dequantizeSum, secaggQuantizer } from '../privacy/index.js';
import { Simulation } from '../simulator/index.js';
import { aggregatorFixture, mnistExamples, mnistSlice } from './helpers.js';

/**
 * `--secagg` end to end: a real Aedes broker, a real coordinator and real device agents (each
 * its own mqtt.js client, training real models), the SecAgg+ messages over update/{id} and
 * to/{id} with real X25519, AES and Shamir. The aggregator's state holds only sums; the
 * unmasked sum is exactly the sum of the quantized updates the devices masked; 30% dropping
 * after masking still gives the sum of the rest.
 */
const TASK = builtinTask('mlp');
const PARAMS = taskLayout(TASK).paramCount;

/** Every typed array of at least `min` elements reachable from `root` (own fields, Maps, Sets, arrays), but not `except`. */
function vectorsIn(root: unknown, min: number, except: ReadonlySet<object>): ArrayBufferView[] {
  const found: ArrayBufferView[] = [];
  const seen = new Set<unknown>();
  const visit = (x: unknown): void => {
    if (x === null || typeof x !== 'object' || seen.has(x) || except.has(x)) return;
    seen.add(x);
    if (ArrayBuffer.isView(x)) {
      if ((x as unknown as { length: number }).length >= min) found.push(x);
      return;
    }
    if (x instanceof Map) {
      for (const [k, v] of x) {
        visit(k);
        visit(v);
      }
    }
    else if (x instanceof Set || Array.isArray(x)) for (const v of x) visit(v);
    else for (const key of Object.getOwnPropertyNames(x)) visit((x as Record<string, unknown>)[key]);
  };
  visit(root);
  return found;
}

/** a + b in Z_2^32, word by word. */
function addInto(acc: Uint32Array, x: Uint32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + x[i]!;
}

describe('a --secagg round over MQTT', () => {
  const fixture = aggregatorFixture();

  /** One secure round of `ids` (those in `drop` mask, then drop out): what the devices masked and what the aggregator held. */
  async function secureRound(ids: string[], drop: ReadonlySet<string>) {
    const { broker, control } = await fixture.start();
    const data = mnistExamples(await mnistSlice(60 * ids.length, 'train'));
    const inputs = new Map<string, Uint32Array>();
    const agents: DeviceAgent[] = [];
    for (const [i, id] of ids.entries()) {
      const client = await connectDevice({ url: broker.url, deviceId: id, fleet: 'test' });
      const per = data.train.x.length / data.train.count;
      const shard = { ...data, train: { x: data.train.x.subarray(i * 60 * per, (i + 1) * 60 * per), y: data.train.y.subarray(i * 60, (i + 1) * 60), count: 60 } };
      const agent = new DeviceAgent(client, { deviceId: id, fleet: 'test', data: shard }, {
        secaggInput: (_round, input) => inputs.set(id, Uint32Array.from(input)),
        secaggDropout: () => drop.has(id),
      });
      fixture.cleanup(() => client.endAsync(), () => agent.stop());
      await agent.start();
      agents.push(agent);
    }
    const coordinator = new Coordinator(
      { task: TASK, fleet: 'test', rounds: 1, secagg: true, minDevices: ids.length, evaluate: [], seed: 5, strategy: 'fedavg', downlink: 'f32', roundTimeoutMs: 60_000 },
      { client: control },
    );
    const before = Float32Array.from(coordinator.weights);
    let held: { audit: ArrayBufferView[]; sum: Uint32Array } | null = null;
    let summary: SecureRoundSummary | null = null;
    coordinator.on('secureRound', (s) => {
      summary = s;
      // The round the coordinator ran (a private field at run time): everything it holds now, at the end of the round.
      const round = (coordinator as unknown as { collection: unknown }).collection;
      expect(round).toBeInstanceOf(SecureRound);
      const server = (round as SecureRound).server as unknown as { sum: Uint32Array };
      held = { audit: vectorsIn(round, PARAMS, new Set([before, coordinator.weights])), sum: server.sum };
    });
    const [report] = await coordinator.run();
    return { report: report!, inputs, held: held!, summary: summary!, before, after: coordinator.weights };
  }

  it('sums the quantized updates exactly, and the aggregator holds only that sum', async () => {
    const ids = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];
    const { report, inputs, held, summary, before, after } = await secureRound(ids, new Set());

    expect(summary).toMatchObject({ survivors: 6, dropped: 0, failure: null, params: { n: 6, k: 4, t: 2, vectorLength: PARAMS } });
    expect(report.accepted).toBe(6);
    expect(report.aggregated).toBe(true);
    // The aggregator's whole state holds one vector the model's size: the (now unmasked) running sum.
    expect(held.audit).toHaveLength(1);
    expect(held.audit[0]).toBe(held.sum);
    // Which is exactly the sum in Z_2^32 of what the devices quantized, and none of them alone.
    const expected = new Uint32Array(PARAMS);
    for (const id of ids) addInto(expected, inputs.get(id)!);
    expect(held.sum).toEqual(expected);
    for (const id of ids) expect(held.sum).not.toEqual(inputs.get(id));
    // FedAvg stepped by the plain mean of the dequantized inputs (float32 rounding apart).
    const mean = dequantizeSum(expected, secaggQuantizer(1, ids.length), ids.length);
    let worst = 0;
    for (let i = 0; i < PARAMS; i++) worst = Math.max(worst, Math.abs(after[i]! - before[i]! - mean[i]! / ids.length));
    expect(worst).toBeLessThan(1e-6);
    expect(mean.some((v) => v !== 0)).toBe(true);
  }, 120_000);

  it('recovers the sum of the rest when 30% drop out after masking', async () => {
    const ids = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9'];
    const drop = new Set(['e2', 'e5', 'e8']);
    const { report, inputs, held, summary } = await secureRound(ids, drop);

    expect(summary).toMatchObject({ survivors: 7, dropped: 3, failure: null });
    expect(report.accepted).toBe(7);
    expect(report.aggregated).toBe(true);
    expect(new Set(report.missing)).toEqual(drop);
    const expected = new Uint32Array(PARAMS);
    for (const id of ids) if (!drop.has(id)) addInto(expected, inputs.get(id)!);
    // The dropouts masked too (their inputs were recorded), but only the survivors' are in the sum.
    expect(inputs.size).toBe(10);
    expect(held.sum).toEqual(expected);
    expect(held.audit).toEqual([held.sum]);
  }, 120_000);
});

describe('fedmq simulate --secagg', () => {
  it('trains a fleet of 8 over two secure rounds', async () => {
    const summaries: SecureRoundSummary[] = [];
    const warnings: string[] = [];
    const simulation = new Simulation({ devices: 8, rounds: 2, model: '2nn', backend: 'wasm', secagg: true, seed: 2 });
    simulation.on('secureRound', (s) => summaries.push(s));
    simulation.on('deviceWarning', (w) => warnings.push(`${w.deviceId}: ${w.error.message}`));
    const report = await simulation.run();

    expect(warnings).toEqual([]);
    expect(summaries.map((s) => [s.survivors, s.dropped, s.failure])).toEqual([[8, 0, null], [8, 0, null]]);
    expect(report.rounds.map((r) => r.accepted)).toEqual([8, 8]);
    expect(report.config.secagg).toEqual({ clip: 1, replaces: 'ternary+deflate' });
    expect(report.config.codec).toBe('f32');
    // From the seeded initialisation (about 10%), the secure means train the 2NN.
    expect(report.rounds[0]!.accuracy).toBeGreaterThan(0.5);
    expect(report.rounds[1]!.accuracy).toBeGreaterThan(report.rounds[0]!.accuracy);
  }, 300_000);

  it('completes its rounds with 30% of the devices dropping after masking', async () => {
    const summaries: SecureRoundSummary[] = [];
    const simulation = new Simulation({ devices: 10, rounds: 2, model: '2nn', backend: 'wasm', secagg: true, secaggDropout: 0.3, seed: 3 });
    simulation.on('secureRound', (s) => summaries.push(s));
    const report = await simulation.run();

    expect(summaries.map((s) => [s.survivors, s.dropped, s.failure])).toEqual([[7, 3, null], [7, 3, null]]);
    expect(report.rounds.map((r) => [r.participants, r.accepted])).toEqual([[10, 7], [10, 7]]);
    expect(report.rounds[1]!.accuracy).toBeGreaterThan(0.5);
  }, 300_000);

  it('with central --dp (fixed clip): the secure round completes and is accounted, epsilon in the report', async () => {
    const simulation = new Simulation({ devices: 4, rounds: 1, model: '2nn', backend: 'wasm', secagg: true, dp: 'noise:0.5,clip:1,delta:1e-5', seed: 4 });
    const summaries: SecureRoundSummary[] = [];
    simulation.on('secureRound', (s) => summaries.push(s));
    const report = await simulation.run();

    expect(summaries.map((s) => [s.survivors, s.failure])).toEqual([[4, null]]);
    expect(report.rounds[0]!.accepted).toBe(4);
    const privacy = report.rounds[0]!.privacy!;
    expect(privacy).toMatchObject({ mode: 'central', noiseMultiplier: 0.5, clip: 1, rounds: 1 });
    expect(privacy.epsilon).toBeGreaterThan(0);
  }, 300_000);
});
