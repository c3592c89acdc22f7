import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BatchBuffer } from './batches.js';
import { initBackend, initialWeights } from './index.js';
import { Metrics } from './metrics.js';
import { Network, networkOptionsForBackend } from './network.js';
import { autodiffStep, denseStep } from './sgdStep.js';
import { bandsData, maxAbsDiff } from './testSupport.js';

describe('the hand-written SGD step of dense networks', () => {
  for (const name of ['mlp', '2nn'] as const) {
    it(`moves the ${name} weights as tfjs autodiff does, with the same loss and accuracy`, async () => {
      // Prepare
      await initBackend();
      const start = initialWeights(name, 9);
      const reference = new Network(name, start, { customGradients: false, xnnpackMatMul: false });
      const fast = new Network(name, start, networkOptionsForBackend());
      const data = bandsData(40, 9);
      const buffer = new BatchBuffer(20);
      const order = Uint32Array.from({ length: 40 }, (_, i) => i);
      const [refMetrics, fastMetrics] = [new Metrics(), new Metrics()];
      // Execute
      for (const begin of [0, 20]) {
        tf.tidy(() => autodiffStep(reference, buffer.fill(data, order, begin, 20), 0.1, refMetrics));
        tf.tidy(() => denseStep(fast, buffer.fill(data, order, begin, 20), 0.1, fastMetrics));
      }
      // Assert
      expect(maxAbsDiff(reference.getWeights(), fast.getWeights())).toBeLessThan(1e-5);
      const [a, b] = [await refMetrics.read(40), await fastMetrics.read(40)];
      expect(b.loss).toBeCloseTo(a.loss, 5);
      expect(b.accuracy).toBe(a.accuracy);
      for (const x of [reference, fast, refMetrics, fastMetrics]) x.dispose();
    });
  }
});
