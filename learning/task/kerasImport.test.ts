import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { OptionsError } from '../../protocol/errors.js';
import { Rng } from '../../protocol/random.js';
import { initBackend } from '../backend.js';
import { maxAbsDiff } from '../testSupport.js';
import { importKerasModel, loadKerasModelFile, TaskModel } from './index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fedmq-keras-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Writes `model` as tensorflowjs_converter does (model.json and weights.bin; tfjs's own
 * `file://` handler needs tfjs-node) and returns the path of model.json and the artifacts.
 */
async function saveModel(model: tf.LayersModel, name: string): Promise<{ file: string; artifacts: tf.io.ModelArtifacts }> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const artifacts = saved as unknown as tf.io.ModelArtifacts;
  const folder = path.join(dir, name);
  const file = path.join(folder, 'model.json');
  const json = {
    format: 'layers-model',
    generatedBy: 'fedmq test',
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }],
  };
  (await import('node:fs')).mkdirSync(folder, { recursive: true });
  writeFileSync(file, JSON.stringify(json));
  writeFileSync(path.join(folder, 'group1-shard1of1.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
  return { file, artifacts };
}

/** Random weights far from the initialisers' zero biases, so every parameter matters. */
function randomize(model: tf.LayersModel, seed: number): void {
  const rng = Rng.derive(seed, 'test.keras');
  model.setWeights(model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => 0.5 * rng.normal()), w.shape)));
}

/** fedmq's outputs and tf.loadLayersModel's on the same random inputs, before any training. */
async function compare(model: tf.LayersModel, name: string, count: number): Promise<number> {
  await initBackend();
  randomize(model, 1);
  const { file, artifacts } = await saveModel(model, name);
  const imported = await loadKerasModelFile(file);
  const reference = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const shape = (model.inputs[0]?.shape ?? []).slice(1) as number[];
  const rng = Rng.derive(2, 'test.keras.inputs');
  const x = Float32Array.from({ length: count * shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
  const expected = tf.tidy(() => (reference.predict(tf.tensor(x, [count, ...shape])) as tf.Tensor).dataSync() as Float32Array).slice();
  const ours = await TaskModel.create(imported.task, imported.weights);
  const got = ours.predict(x, count);
  ours.dispose();
  reference.dispose();
  expect(got.length).toBe(expected.length);
  return maxAbsDiff(got, expected);
}

describe('importing a TensorFlow.js layers model', () => {
  it('conv1d, pooling, GRU, LSTM, dropout, softmax: the same outputs as tf.loadLayersModel', async () => {
    // Prepare
    await initBackend();
    const m = tf.sequential();
    m.add(tf.layers.conv1d({ inputShape: [10, 3], filters: 4, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.maxPooling1d({ poolSize: 2 }));
    m.add(tf.layers.gru({ units: 5, returnSequences: true }));
    m.add(tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid' }));
    m.add(tf.layers.dropout({ rate: 0.3 }));
    m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    // Execute
    const diff = await compare(m, 'sequence', 6);
    // Assert
    expect(diff).toBeLessThan(1e-5);
  });

  it('conv2d (strided, valid), pooling, flatten, an Activation layer, binary: the same outputs', async () => {
    // Prepare
    await initBackend();
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [9, 8, 2], filters: 3, kernelSize: [3, 2], strides: 2, padding: 'valid', activation: 'tanh' }));
    m.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 1 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 6, useBias: false }));
    m.add(tf.layers.activation({ activation: 'sigmoid' }));
    m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
    // Execute
    const diff = await compare(m, 'image', 5);
    const { task } = await loadKerasModelFile(path.join(dir, 'image', 'model.json'));
    // Assert
    expect(diff).toBeLessThan(1e-5);
    expect(task.output).toEqual({ kind: 'binary' });
    expect(task.model.layers[4]).toEqual({ kind: 'dense', units: 6, activation: 'sigmoid', useBias: false });
  });

  it('a regression model trains from its imported weights', async () => {
    // Prepare
    await initBackend();
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [2], units: 8, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 1 }));
    const { file } = await saveModel(m, 'regression');
    const { task, weights } = await loadKerasModelFile(file, { overrides: { optimizer: { kind: 'adam', lr: 0.02 }, input: { features: ['a', 'b'] } } });
    const rng = Rng.derive(3, 'test.keras.data');
    const x = Float32Array.from({ length: 80 }, () => rng.next());
    const y = Float32Array.from({ length: 40 }, (_, i) => 3 * (x[2 * i] as number) - (x[2 * i + 1] as number));
    const model = await TaskModel.create(task, weights);
    const before = await model.evaluate({ x, y, count: 40 });
    // Execute
    await model.train({ x, y, count: 40 }, { epochs: 20, batchSize: 10, seed: 1 });
    const after = await model.evaluate({ x, y, count: 40 });
    // Assert
    expect(task.output).toEqual({ kind: 'regression', outputs: 1 });
    expect(task.loss).toBe('meanSquaredError');
    expect(task.input.features).toEqual(['a', 'b']);
    expect(after.loss).toBeLessThan(0.3 * before.loss);
    model.dispose();
  });

  it('refuses a layer fedmq cannot train, by name, before reading weights', async () => {
    // Prepare
    await initBackend();
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [4], units: 3 }));
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
    const { file } = await saveModel(m, 'batchnorm');
    // Execute
    const load = loadKerasModelFile(file);
    // Assert
    await expect(load).rejects.toThrow(OptionsError);
    await expect(load).rejects.toThrow(/layer 1 "batch_normalization\w*" is a BatchNormalization, which fedmq cannot train/);
  });

  it('refuses a functional model, unknown weights and short shards', async () => {
    // Prepare
    const json = (layers: unknown[], weights: unknown[]): unknown => ({ modelTopology: { class_name: 'Sequential', config: { name: 's', layers } }, weightsManifest: [{ paths: ['x.bin'], weights }] });
    const dense = { class_name: 'Dense', config: { name: 'd', units: 2, activation: 'softmax', batch_input_shape: [null, 3] } };
    const attention = { class_name: 'Attention', config: { name: 'att' } };
    // Assert
    expect(() => importKerasModel({ modelTopology: { class_name: 'Functional', config: {} } }, [])).toThrow('fedmq imports Sequential models only');
    expect(() => importKerasModel(json([dense, attention], []), [])).toThrow('layer 1 "att" is a Attention, which fedmq cannot train');
    expect(() => importKerasModel(json([dense], [{ name: 'other/kernel', shape: [3, 2], dtype: 'float32' }, { name: 'd/bias', shape: [2], dtype: 'float32' }]), new ArrayBuffer(32))).toThrow('no "d/kernel"');
    expect(() => importKerasModel(json([dense], [{ name: 'd/kernel', shape: [3, 2], dtype: 'float32' }, { name: 'd/bias', shape: [2], dtype: 'float32' }]), new ArrayBuffer(16))).toThrow('the shards end before "d/kernel"');
  });
});
