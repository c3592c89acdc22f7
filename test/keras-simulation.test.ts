import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTaskSource } from '../aggregator/index.js';
import { initBackend, TaskModel } from '../learning/index.js';
import { Rng } from '../protocol/index.js';
import { Simulation } from '../simulator/index.js';

const READINGS = fileURLToPath(new URL('../examples/sensor/readings.csv', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'fedmq-keras-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Saves `model` as tensorflowjs_converter writes a Keras model: model.json beside one weight shard. */
async function saveLayersModel(model: tf.LayersModel, folder: string): Promise<{ file: string; artifacts: tf.io.ModelArtifacts }> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const artifacts = saved as unknown as tf.io.ModelArtifacts;
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'model.json');
  writeFileSync(file, JSON.stringify({
    format: 'layers-model', generatedBy: 'keras v2.15 (fedmq test)', convertedBy: 'TensorFlow.js Converter',
    modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }],
  }));
  writeFileSync(path.join(folder, 'group1-shard1of1.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
  return { file, artifacts };
}

describe('a Keras model exported to TensorFlow.js layers format', () => {
  it('is taken up by --task: the same outputs as tf.loadLayersModel, then it trains in a simulation over MQTT', async () => {
    // Prepare: a sequence model over windows of 12 (humidity, temperature) readings, as Keras would build it.
    await initBackend();
    const model = tf.sequential({
      layers: [
        tf.layers.conv1d({ inputShape: [12, 2], filters: 8, kernelSize: 3, activation: 'relu' }),
        tf.layers.gru({ units: 8 }),
        tf.layers.dense({ units: 1, activation: 'sigmoid' }),
      ],
    });
    model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const { file, artifacts } = await saveLayersModel(model, path.join(dir, 'sensor-gru'));
    model.dispose();

    // Execute: load it as `--task model.json` does.
    const source = await loadTaskSource(file);

    // Assert: before any training, fedmq's forward pass is tfjs's on the same inputs.
    expect(source.source).toBe(`keras:${file}`);
    expect(source.task.output).toEqual({ kind: 'binary' });
    expect(source.task.model.layers.map((l) => l.kind)).toEqual(['conv1d', 'gru', 'dense']);
    const reference = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const rng = Rng.derive(5, 'test.keras.inputs');
    const count = 16;
    const x = Float32Array.from({ length: count * 24 }, () => 20 + 10 * rng.normal());
    const expected = tf.tidy(() => (reference.predict(tf.tensor(x, [count, 12, 2])) as tf.Tensor).dataSync() as Float32Array).slice();
    reference.dispose();
    const ours = await TaskModel.create(source.task, source.weights);
    const got = ours.predict(x, count);
    ours.dispose();
    for (let i = 0; i < count; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(1e-5);

    // Execute: the imported model as the fleet's task and initial global, one device per mote.
    const simulation = new Simulation({
      task: { ...source.task, training: { epochs: 1, batchSize: 32 } }, initialWeights: source.weights,
      data: READINGS, partition: 'by:mote',
      dataConfig: { features: 'humidity,temperature', time: 'reading', window: 12, stride: 6 },
      evaluate: ['federated'], rounds: 2, codec: 'f32', workers: 0, seed: 1,
    });
    const report = await simulation.run();

    // Assert: four motes trained and evaluated it in both rounds, and the fleet's loss fell.
    expect(report.fleet?.devices).toBe(4);
    expect(report.rounds).toHaveLength(2);
    for (const r of report.rounds) {
      expect(r.accepted).toBe(4);
      expect(r.federated?.devices).toBe(4);
    }
    expect(report.rounds[1]!.federated!.loss).toBeLessThan(report.rounds[0]!.federated!.loss);
  }, 300_000);
});
