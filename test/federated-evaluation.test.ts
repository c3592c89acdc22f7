import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Coordinator, createEvaluator, type RoundReport } from '../aggregator/index.js';
import { DeviceAgent, LocalTrainer, connectDevice } from '../device-agent/index.js';
import { deviceExamples, loadDeviceData, parseDeviceDataOptions, splitByGroup, type DeviceExamples } from '../datasets/index.js';
import { parseTask } from '../protocol/index.js';
import { aggregatorFixture } from './helpers.js';

const READINGS = fileURLToPath(new URL('../examples/sensor/readings.csv', import.meta.url));

/** Anomaly or not from one reading (humidity, temperature), standardised with the fleet's statistics. */
const TASK = {
  name: 'sensor-test',
  input: { features: ['humidity', 'temperature'] },
  output: { kind: 'binary' },
  model: { layers: [{ kind: 'dense', units: 8, activation: 'relu' }, { kind: 'dense', units: 1 }] },
  metrics: ['accuracy', 'precision', 'recall', 'f1'],
  optimizer: { kind: 'adam', lr: 0.01 },
  training: { epochs: 1, batchSize: 32 },
  preprocessing: { standardize: 'fleet' },
};

/** The four motes of the sensor example, one device each, with a seeded 20% held out. */
async function motes(): Promise<DeviceExamples[]> {
  const config = parseDeviceDataOptions({ groupBy: 'mote', time: 'reading', features: 'humidity,temperature', holdout: 0.2, seed: 3 });
  return splitByGroup(await loadDeviceData(READINGS, config)).map((g) => deviceExamples(g.data, config));
}

/** Mean and population std of every feature over all devices' training examples, in one pass over the rows themselves. */
function pooledStatistics(devices: DeviceExamples[], features: number): { mean: number[]; std: number[] } {
  const sum = new Array<number>(features).fill(0);
  const squares = new Array<number>(features).fill(0);
  let n = 0;
  for (const d of devices) {
    for (let i = 0; i < d.train.count * features; i++) {
      const v = d.train.x[i] as number;
      sum[i % features]! += v;
      squares[i % features]! += v * v;
    }
    n += d.train.count;
  }
  const mean = sum.map((s) => s / n);
  return { mean, std: squares.map((q, f) => Math.sqrt(q / n - mean[f]! ** 2)) };
}

/** Every device's held-out rows in one dataset: what a central evaluator would see if the data were pooled. */
function pooledHoldout(devices: DeviceExamples[]): { x: Float32Array; y: Float32Array; count: number } {
  const parts = devices.map((d) => d.holdout!);
  const count = parts.reduce((n, p) => n + p.count, 0);
  const x = new Float32Array(parts.reduce((n, p) => n + p.x.length, 0));
  const y = new Float32Array(count);
  let at = 0;
  let row = 0;
  for (const p of parts) {
    x.set(p.x, at);
    y.set(p.y, row);
    at += p.x.length;
    row += p.count;
  }
  return { x, y, count };
}

describe('federated statistics and evaluation on the sensor example, over MQTT', () => {
  const fixture = aggregatorFixture();

  it('standardises with the pooled statistics, and the fleet\'s evaluation equals central evaluation of the pooled held-out rows', async () => {
    // Prepare: four motes as four agents, and a central evaluator over their held-out rows pooled.
    const { broker, control } = await fixture.start();
    const devices = await motes();
    const trainer = new LocalTrainer();
    fixture.cleanup(async () => trainer.dispose());
    const ids = devices.map((_, i) => `mote-${i + 1}`);
    for (const [i, id] of ids.entries()) {
      const client = await connectDevice({ url: broker.url, deviceId: id, fleet: 'test' });
      const agent = new DeviceAgent(client, { deviceId: id, fleet: 'test', data: devices[i]! }, { trainer });
      await agent.start();
      fixture.cleanup(() => client.endAsync(), () => agent.stop());
    }
    const task = parseTask(TASK);
    const central = await createEvaluator(task, pooledHoldout(devices));
    fixture.cleanup(async () => central.dispose());
    const coordinator = new Coordinator(
      { fleet: 'test', task, rounds: 2, minDevices: 4, codec: 'f32', evaluate: ['central', 'federated'], roundTimeoutMs: 120_000 },
      // The central evaluator is told the task as the fleet runs it: with the fleet's statistics once they are in.
      { client: control, evaluate: central },
    );
    const gathered: { mean: number[]; std: number[] }[] = [];
    coordinator.on('statisticsGathered', (s) => gathered.push(s));

    // Execute
    const reports: RoundReport[] = await coordinator.run();

    // Assert: the fleet's statistics are those of all training rows pooled.
    const pooled = pooledStatistics(devices, 2);
    expect(gathered).toHaveLength(1);
    for (let f = 0; f < 2; f++) {
      expect(gathered[0]!.mean[f]).toBeCloseTo(pooled.mean[f]!, 6);
      expect(gathered[0]!.std[f]).toBeCloseTo(pooled.std[f]!, 6);
    }
    // Every round was evaluated by all four motes, and the pooled figures equal the central ones.
    expect(reports).toHaveLength(2);
    for (const r of reports) {
      expect(r.aggregated).toBe(true);
      expect(r.federated).toBeDefined();
      expect(r.federated!.devices).toBe(4);
      expect(r.federated!.count).toBe(devices.reduce((n, d) => n + d.holdout!.count, 0));
      expect(r.federated!.loss).toBeCloseTo(r.loss, 5);
      for (const m of ['accuracy', 'precision', 'recall', 'f1']) expect(r.federated!.metrics[m]).toBeCloseTo(r.central![m]!, 5);
      // The spread brackets the pooled value, device by device.
      const s = r.federated!.spread.accuracy!;
      expect(s.min).toBeLessThanOrEqual(r.federated!.metrics.accuracy!);
      expect(s.max).toBeGreaterThanOrEqual(r.federated!.metrics.accuracy!);
    }
    // The model learned something: anomalies are rare, so a global that did not train would be ~random.
    expect(reports[1]!.federated!.metrics.accuracy).toBeGreaterThan(0.9);
  }, 180_000);
});
