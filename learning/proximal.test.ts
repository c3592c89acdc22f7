import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import { BatchBuffer } from './batches.js';
import { initBackend, initialWeights, LocalModel, tensorCount } from './index.js';
import { crossEntropySum } from './metrics.js';
import { Network, networkOptionsForBackend } from './network.js';
import { denseStep, ProximalTerm } from './sgdStep.js';
import { bandsData, maxAbsDiff } from './testSupport.js';

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
      const model = await LocalModel.create(name);
      const global = initialWeights(name, 3);
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
    const model = await LocalModel.create('2nn');
    const data = bandsData(200, 4);
    const run = async (mu: number | undefined): Promise<Float32Array> => {
      model.setWeights(initialWeights('2nn', 1));
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
    // Prepare
    await initBackend();
    const [lr, mu] = [0.1, 0.5];
    const start = initialWeights('mlp', 9);
    const reference = new Network('mlp', start, { customGradients: false, xnnpackMatMul: false });
    const fast = new Network('mlp', start, networkOptionsForBackend());
    const anchor = reference.params.map((v) => tf.clone(v));
    const prox = new ProximalTerm(fast.params, lr, mu);
    const data = bandsData(60, 9);
    const buffer = new BatchBuffer(20);
    const order = Uint32Array.from({ length: 60 }, (_, i) => i);
    // Execute: three steps each, so the term is non-zero from the second step on.
    for (const begin of [0, 20, 40]) {
      tf.tidy(() => {
        const batch = buffer.fill(data, order, begin, 20);
        const { grads } = tf.variableGrads(() => {
          const loss = tf.div(crossEntropySum(tf.logSoftmax(reference.forward(batch.x)), batch.oneHot), 20);
          const penalty = tf.addN(reference.params.map((v, j) => tf.sum(tf.square(tf.sub(v, anchor[j] as tf.Tensor)))));
          return tf.add(loss, tf.mul(penalty, mu / 2)) as tf.Scalar;
        }, reference.params);
        for (const v of reference.params) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, lr)));
      });
      tf.tidy(() => denseStep(fast, buffer.fill(data, order, begin, 20), lr, null, prox));
    }
    // Assert
    expect(maxAbsDiff(reference.getWeights(), fast.getWeights())).toBeLessThan(1e-5);
    expect(maxAbsDiff(reference.getWeights(), start)).toBeGreaterThan(1e-3);
    for (const x of [reference, fast, prox, ...anchor]) x.dispose();
  });

  it('frees its tensors and rejects a negative or non-finite mu', async () => {
    // Prepare
    const model = await LocalModel.create('mlp');
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
