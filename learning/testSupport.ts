import * as tf from '@tensorflow/tfjs';
import { Rng } from '../protocol/random.js';
import type { Task } from '../protocol/task.js';
import { lossSum } from './task/objective.js';
import { TaskBatchBuffer, type TaskData } from './task/taskData.js';
import { TaskNetwork } from './task/taskNetwork.js';

const IMAGE_SIZE = 28;
const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
const NUM_CLASSES = 10;

/**
 * A learnable stand-in for MNIST: image of class c has a bright band of rows 4+2c .. 5+2c
 * on a noisy background, so a small model separates the classes within an epoch or two.
 */
export function bandsData(count: number, seed: number): { x: Float32Array; y: Uint8Array; count: number } {
  const rng = Rng.derive(seed, 'learning.bandsData');
  const x = new Float32Array(count * PIXELS);
  const y = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const label = rng.int(NUM_CLASSES);
    y[n] = label;
    for (let row = 0; row < IMAGE_SIZE; row++) {
      const inBand = row >= 4 + 2 * label && row <= 5 + 2 * label;
      for (let col = 0; col < IMAGE_SIZE; col++) {
        x[n * PIXELS + row * IMAGE_SIZE + col] = inBand ? 0.5 + 0.5 * rng.next() : 0.4 * rng.next();
      }
    }
  }
  return { x, y, count };
}

/** Largest absolute difference between two equally long vectors. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/**
 * The reference that TaskModel's training is checked against: full-batch gradient descent by
 * tfjs autodiff on a `TaskNetwork` without hand-written gradients, `steps` steps of
 * w <- w - lr grad(mean loss + (mu / 2) ||w - w_start||^2) on all of `data` in order.
 * Returns the weights, and the mean loss and accuracy of the last step (before its update).
 */
export function referenceDescent(
  task: Task,
  start: Float32Array,
  data: TaskData,
  options: { lr: number; mu: number; steps: number },
): { weights: Float32Array; loss: number; accuracy: number } {
  const net = new TaskNetwork(task, start, { customGradients: false, xnnpackMatMul: false });
  const anchor = net.params.map((v) => tf.clone(v));
  const batch = new TaskBatchBuffer(task, data.count);
  let loss = NaN;
  let accuracy = NaN;
  for (let step = 0; step < options.steps; step++) {
    tf.tidy(() => {
      const { x, targets } = batch.fill(data, null, 0, data.count);
      const { grads } = tf.variableGrads(() => {
        const out = net.forward(x, true);
        const mean = tf.div(lossSum(task, out, targets), data.count);
        loss = mean.dataSync()[0] as number;
        if (targets.labels !== null) accuracy = (tf.sum(tf.cast(tf.equal(tf.argMax(out, 1), targets.labels), 'float32')).dataSync()[0] as number) / data.count;
        const penalty = tf.addN(net.params.map((v, j) => tf.sum(tf.square(tf.sub(v, anchor[j] as tf.Tensor)))));
        return tf.add(mean, tf.mul(penalty, options.mu / 2)) as tf.Scalar;
      }, net.params);
      for (const v of net.params) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, options.lr)));
    });
  }
  const weights = net.getWeights();
  net.dispose();
  for (const a of anchor) a.dispose();
  return { weights, loss, accuracy };
}
