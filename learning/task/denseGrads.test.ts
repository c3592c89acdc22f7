import { describe, expect, it } from 'vitest';
import { builtinTask } from '../../protocol/task.js';
import { initBackend, taskInitialWeights, TaskModel } from '../index.js';
import { bandsData, maxAbsDiff, referenceDescent } from '../testSupport.js';

describe('the hand-written backward pass of dense classifiers', () => {
  for (const name of ['mlp', '2nn'] as const) {
    it(`moves the ${name} weights as tfjs autodiff does, with the same loss and accuracy`, async () => {
      // Prepare: full batches, so an epoch is one step and only the summation order differs.
      await initBackend();
      const task = builtinTask(name);
      const start = taskInitialWeights(task, 9);
      const data = bandsData(40, 9);
      const model = await TaskModel.create(task, start);
      // Execute
      const fast = await model.train(data, { epochs: 2, batchSize: 40, lr: 0.1, seed: 1 });
      const reference = referenceDescent(task, start, data, { lr: 0.1, mu: 0, steps: 2 });
      // Assert: the loss and accuracy are the last epoch's, seen before its step.
      expect(maxAbsDiff(reference.weights, model.getWeights())).toBeLessThan(1e-5);
      expect(fast.loss).toBeCloseTo(reference.loss, 5);
      expect(fast.metrics.accuracy).toBe(reference.accuracy);
      model.dispose();
    });
  }
});
