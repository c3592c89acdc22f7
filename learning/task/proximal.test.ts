import { describe, expect, it } from 'vitest';
import { OptionsError } from '../../protocol/errors.js';
import { builtinTask } from '../../protocol/task.js';
import { initBackend, taskInitialWeights, TaskModel, tensorCount } from '../index.js';
import { bandsData, maxAbsDiff, referenceDescent } from '../testSupport.js';

const OPTIONS = { epochs: 2, batchSize: 20, lr: 0.1, seed: 1 };

function distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
}

describe("FedProx's proximal term in local training", () => {
  for (const name of ['mlp', '2nn', 'cnn'] as const) {
    it(`pulls the ${name} weights toward the global they started from`, async () => {
      // Prepare
      const task = builtinTask(name);
      const model = await TaskModel.create(task);
      const global = taskInitialWeights(task, 3);
      const data = bandsData(name === 'cnn' ? 60 : 400, 3);
      const options = name === 'cnn' ? { ...OPTIONS, batchSize: 10, lr: 0.05 } : OPTIONS;
      const drift = async (mu: number): Promise<number> => {
        model.setWeights(global);
        await model.train(data, { ...options, mu });
        return distance(model.getWeights(), global);
      };
      // Execute
      const plain = await drift(0);
      const prox = await drift(0.1 / options.lr);
      // Assert: each step shrinks the drift by (1 - lr mu) = 0.9 before the gradient moves it.
      expect(prox).toBeGreaterThan(0);
      expect(prox).toBeLessThan(plain * 0.8);
      model.dispose();
    });
  }

  it('leaves training bit-identical with mu = 0', async () => {
    // Prepare
    const task = builtinTask('2nn');
    const model = await TaskModel.create(task);
    const data = bandsData(200, 4);
    const run = async (mu: number | undefined): Promise<Float32Array> => {
      model.setWeights(taskInitialWeights(task, 1));
      await model.train(data, mu === undefined ? OPTIONS : { ...OPTIONS, mu });
      return model.getWeights();
    };
    // Execute
    const without = await run(undefined);
    const zero = await run(0);
    // Assert
    expect(Buffer.from(zero.buffer).equals(Buffer.from(without.buffer))).toBe(true);
    model.dispose();
  });

  it('is the gradient of (mu/2)||w - w_global||^2 added to the loss (checked against autodiff)', async () => {
    // Prepare: full batches, so an epoch is one step and only the summation order differs.
    await initBackend();
    const [lr, mu] = [0.1, 0.5];
    const task = builtinTask('mlp');
    const start = taskInitialWeights(task, 9);
    const data = bandsData(60, 9);
    const model = await TaskModel.create(task, start);
    // Execute: three steps each, so the term is non-zero from the second step on.
    await model.train(data, { epochs: 3, batchSize: 60, lr, mu, seed: 1 });
    const reference = referenceDescent(task, start, data, { lr, mu, steps: 3 });
    // Assert
    expect(maxAbsDiff(reference.weights, model.getWeights())).toBeLessThan(1e-5);
    expect(maxAbsDiff(reference.weights, start)).toBeGreaterThan(1e-3);
    model.dispose();
  });

  it('frees its tensors and rejects a negative or non-finite mu', async () => {
    // Prepare
    const model = await TaskModel.create(builtinTask('mlp'));
    const data = bandsData(100, 5);
    await model.train(data, { ...OPTIONS, mu: 0.1 });
    const before = tensorCount();
    // Execute
    await model.train(data, { ...OPTIONS, mu: 0.1 });
    // Assert
    expect(tensorCount()).toBe(before);
    await expect(model.train(data, { ...OPTIONS, mu: -1 })).rejects.toThrow(OptionsError);
    await expect(model.train(data, { ...OPTIONS, mu: Number.NaN })).rejects.toThrow(OptionsError);
    model.dispose();
  });
});
