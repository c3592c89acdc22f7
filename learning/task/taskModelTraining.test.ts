import { describe, expect, it } from 'vitest';
import { OptionsError } from '../../protocol/errors.js';
import { builtinTask, type BuiltinTaskName } from '../../protocol/task.js';
import {
  currentBackend,
  initBackend,
  ModelBusyError,
  ModelDisposedError,
  taskInitialWeights,
  TaskModel,
  tensorCount,
  TrainingDataError,
  TrainingStoppedError,
  WeightsLengthError,
} from '../index.js';
import { bandsData } from '../testSupport.js';

const OPTIONS = { epochs: 2, batchSize: 20, lr: 0.1, seed: 1 };
const create = (name: BuiltinTaskName): Promise<TaskModel> => TaskModel.create(builtinTask(name));
const initialWeights = (name: BuiltinTaskName, seed: number): Float32Array => taskInitialWeights(builtinTask(name), seed);

describe('a task model training a built-in task', () => {
  it('reports the backend it runs on, and keeps it', async () => {
    // Execute
    const model = await create('mlp');
    const again = await initBackend('cpu');
    // Assert
    expect(['tensorflow', 'wasm', 'cpu']).toContain(currentBackend());
    expect(again).toBe(currentBackend());
    model.dispose();
  });

  it('stops between batches once its stop signal aborts, and can train again afterwards', async () => {
    // Prepare: 1,000 epochs of 200 examples, far more than the 200 ms it is given.
    const model = await create('mlp');
    const data = bandsData(200, 1);
    const stop = new AbortController();
    const started = performance.now();
    setTimeout(() => stop.abort(), 200);
    // Execute
    const stopped = await model.train(data, { ...OPTIONS, epochs: 1_000 }, stop.signal).catch((e: unknown) => e);
    // Assert: stopped within a batch or two of the abort, and the model is free again.
    expect(stopped).toBeInstanceOf(TrainingStoppedError);
    expect((stopped as TrainingStoppedError).steps).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(model.train(data, OPTIONS, stop.signal)).rejects.toBeInstanceOf(TrainingStoppedError);
    expect((await model.train(data, OPTIONS)).steps).toBe(20);
    model.dispose();
  });

  it('gives back exactly the weights it was given, as copies', async () => {
    // Prepare
    const model = await create('2nn');
    const weights = initialWeights('2nn', 3);
    const expected = weights.slice();
    // Execute
    model.setWeights(weights);
    weights.fill(9);
    const out = model.getWeights();
    out.fill(7);
    // Assert
    expect(Buffer.from(model.getWeights().buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    model.dispose();
  });

  it('rejects weights of the wrong length', async () => {
    // Prepare
    const model = await create('mlp');
    // Execute
    const set = (): void => model.setWeights(new Float32Array(model.paramCount - 1));
    // Assert
    expect(set).toThrow(WeightsLengthError);
    model.dispose();
  });

  it('learns a learnable task: accuracy far above chance, loss down', async () => {
    // Prepare
    const model = await create('mlp');
    model.setWeights(initialWeights('mlp', 5));
    const train = bandsData(2000, 1);
    const test = bandsData(500, 2);
    const before = await model.evaluate(test);
    // Execute
    const result = await model.train(train, OPTIONS);
    const after = await model.evaluate(test);
    // Assert
    expect(result.steps).toBe(200);
    expect(result.metrics.accuracy).toBeGreaterThan(0.9);
    expect(after.metrics.accuracy).toBeGreaterThan(0.9);
    expect(before.metrics.accuracy).toBeLessThan(0.3);
    expect(after.loss).toBeLessThan(before.loss / 4);
    expect(after.count).toBe(500);
    model.dispose();
  });

  it('trains the cnn too', async () => {
    // Prepare
    const model = await create('cnn');
    model.setWeights(initialWeights('cnn', 5));
    const data = bandsData(150, 3);
    const before = await model.evaluate(data);
    // Execute
    await model.train(data, { epochs: 2, batchSize: 10, lr: 0.05, seed: 1 });
    const after = await model.evaluate(data);
    // Assert
    expect(after.loss).toBeLessThan(before.loss / 2);
    expect(after.metrics.accuracy).toBeGreaterThan(before.metrics.accuracy as number);
    model.dispose();
  });

  it('includes the last partial batch', async () => {
    // Prepare
    const model = await create('mlp');
    // Execute
    const result = await model.train(bandsData(105, 4), { epochs: 3, batchSize: 20, lr: 0.05, seed: 1 });
    // Assert
    expect(result.steps).toBe(18);
    model.dispose();
  });

  it('ends with the same weights from the same seed, different ones from another', async () => {
    // Prepare
    const model = await create('2nn');
    const data = bandsData(300, 5);
    const run = async (seed: number): Promise<Float32Array> => {
      model.setWeights(initialWeights('2nn', 1));
      await model.train(data, { ...OPTIONS, seed });
      return model.getWeights();
    };
    // Execute
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    // Assert
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    model.dispose();
  });

  it('leaves the tensor count flat over repeated rounds of train and evaluate', async () => {
    // Prepare
    const model = await create('mlp');
    const data = bandsData(200, 6);
    const global = initialWeights('mlp', 2);
    const round = async (): Promise<void> => {
      model.setWeights(global);
      await model.train(data, OPTIONS);
      model.getWeights();
      await model.evaluate(data, 64);
    };
    await round();
    const start = tensorCount();
    // Execute
    for (let i = 0; i < 30; i++) await round();
    // Assert
    expect(tensorCount()).toBe(start);
    model.dispose();
    expect(tensorCount()).toBeLessThan(start);
  });

  it('rejects bad options and malformed data with typed errors', async () => {
    // Prepare
    const model = await create('mlp');
    const data = bandsData(10, 7);
    const badLabel = { ...data, y: data.y.slice() };
    badLabel.y[3] = 10;
    // Execute, Assert
    await expect(model.train(data, { ...OPTIONS, epochs: 0 })).rejects.toThrow(OptionsError);
    await expect(model.train(data, { ...OPTIONS, lr: Number.NaN })).rejects.toThrow(OptionsError);
    await expect(model.train(data, { ...OPTIONS, batchSize: 2.5 })).rejects.toThrow(OptionsError);
    await expect(model.train(badLabel, OPTIONS)).rejects.toThrow(TrainingDataError);
    await expect(model.train({ ...data, count: 11 }, OPTIONS)).rejects.toThrow(TrainingDataError);
    await expect(model.evaluate({ ...data, count: 0 })).rejects.toThrow(TrainingDataError);
    model.dispose();
  });

  it('refuses to be used while training and after dispose', async () => {
    // Prepare
    const model = await create('mlp');
    // Execute
    const training = model.train(bandsData(100, 8), OPTIONS);
    // Assert
    expect(() => model.getWeights()).toThrow(ModelBusyError);
    await training;
    model.dispose();
    expect(() => model.getWeights()).toThrow(ModelDisposedError);
  });
});
