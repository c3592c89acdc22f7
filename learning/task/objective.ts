import * as tf from '@tensorflow/tfjs';
import type { MetricName, Task } from '../../protocol/task.js';
import { crossEntropySum } from '../metrics.js';

/** A batch's targets as the task's loss wants them. */
export interface Targets {
  /** classes: one-hot [n, classes]; binary: [n, 1] of 0/1; regression: [n, outputs]. */
  y: tf.Tensor2D;
  /** classes only: the labels [n], int32. */
  labels: tf.Tensor1D | null;
}

/**
 * Sufficient statistics of the loss and every metric, summed over examples: what a device may
 * report so that the fleet's metrics pool exactly (`metricsFromSums`).
 */
export interface EvalSums {
  /** Summed per-example loss. */
  loss: number;
  /** Correct predictions (classes, binary). */
  correct: number;
  /** Binary confusion counts. */
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** Regression: summed squared and absolute errors over examples and outputs. */
  squaredError: number;
  absoluteError: number;
}
const SUM_KEYS = ['loss', 'correct', 'tp', 'fp', 'fn', 'tn', 'squaredError', 'absoluteError'] as const;

/**
 * Summed loss of a batch: softmax cross-entropy from logits (classes), sigmoid cross-entropy
 * from logits (binary, the stable max(z, 0) - z y + log(1 + e^-|z|)), or for regression the
 * per-example mean over outputs of the squared error, absolute error or Huber loss (delta 1).
 */
export function lossSum(task: Task, out: tf.Tensor2D, t: Targets): tf.Scalar {
  switch (task.loss) {
    case 'categoricalCrossentropy':
      return crossEntropySum(tf.logSoftmax(out), t.y);
    case 'binaryCrossentropy':
      return tf.sum(tf.add(tf.sub(tf.relu(out), tf.mul(out, t.y)), tf.log1p(tf.exp(tf.neg(tf.abs(out))))));
    default: {
      const d = tf.sub(out, t.y);
      const outputs = out.shape[1] as number;
      const per =
        task.loss === 'meanSquaredError' ? tf.square(d)
        : task.loss === 'meanAbsoluteError' ? tf.abs(d)
        : tf.where(tf.lessEqual(tf.abs(d), 1), tf.mul(tf.square(d), 0.5), tf.sub(tf.abs(d), 0.5));
      return tf.div(tf.sum(per), outputs);
    }
  }
}

/** How many of `SUM_KEYS` a task's batches produce: the rest are 0 for its output kind. */
const sumWidth = (task: Task): number => (task.output.kind === 'classes' ? 2 : task.output.kind === 'binary' ? 6 : 8);

/** The statistics of one batch in `SUM_KEYS` order (as many as `sumWidth`), from its summed loss and logits. */
export function batchSums(task: Task, batchLoss: tf.Scalar, out: tf.Tensor2D, t: Targets): tf.Tensor1D {
  const count = (b: tf.Tensor): tf.Scalar => tf.sum(tf.cast(b, 'float32'));
  if (task.output.kind === 'classes') return tf.stack([batchLoss, count(tf.equal(tf.argMax(out, 1), t.labels as tf.Tensor1D))]) as tf.Tensor1D;
  if (task.output.kind === 'binary') {
    const predicted = tf.greater(out, 0);
    const actual = tf.greater(t.y, 0.5);
    const tp = count(tf.logicalAnd(predicted, actual));
    const tn = count(tf.logicalAnd(tf.logicalNot(predicted), tf.logicalNot(actual)));
    const fp = count(tf.logicalAnd(predicted, tf.logicalNot(actual)));
    const fn = count(tf.logicalAnd(tf.logicalNot(predicted), actual));
    return tf.stack([batchLoss, tf.add(tp, tn), tp, fp, fn, tn]) as tf.Tensor1D;
  }
  const d = tf.sub(out, t.y);
  const zero = tf.scalar(0);
  return tf.stack([batchLoss, zero, zero, zero, zero, zero, tf.sum(tf.square(d)), tf.sum(tf.abs(d))]) as tf.Tensor1D;
}

/** Sums on the device, read back once per epoch or evaluation (a read forces a sync). */
export class SumAccumulator {
  private readonly sums: tf.Variable;

  constructor(task: Task) {
    this.sums = tf.variable(tf.zeros([sumWidth(task)]), false);
  }

  reset(): void {
    tf.tidy(() => this.sums.assign(tf.zerosLike(this.sums)));
  }

  add(batch: tf.Tensor1D): void {
    tf.tidy(() => this.sums.assign(tf.add(this.sums, batch)));
  }

  async read(): Promise<EvalSums> {
    const v = await this.sums.data();
    return Object.fromEntries(SUM_KEYS.map((k, i) => [k, v[i] ?? 0])) as unknown as EvalSums;
  }

  dispose(): void {
    this.sums.dispose();
  }
}

/**
 * The mean loss and the task's metrics of `count` examples from their summed statistics: the
 * same function pools devices' sums into the fleet's metrics. Precision, recall and F1 are 0
 * when undefined (no predicted or no actual positives).
 */
export function metricsFromSums(task: Task, sums: EvalSums, count: number): { loss: number; metrics: Partial<Record<MetricName, number>> } {
  const values = count * (task.output.kind === 'regression' ? task.output.outputs : 1);
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);
  const all: Record<MetricName, number> = {
    accuracy: ratio(sums.correct, count),
    precision: ratio(sums.tp, sums.tp + sums.fp),
    recall: ratio(sums.tp, sums.tp + sums.fn),
    f1: ratio(2 * sums.tp, 2 * sums.tp + sums.fp + sums.fn),
    meanSquaredError: ratio(sums.squaredError, values),
    meanAbsoluteError: ratio(sums.absoluteError, values),
    rootMeanSquaredError: Math.sqrt(ratio(sums.squaredError, values)),
  };
  return { loss: ratio(sums.loss, count), metrics: Object.fromEntries(task.metrics.map((m) => [m, all[m]])) };
}

/** The metrics a model reported, without the ones it could not compute (undefined, NaN, infinite). */
export function definedMetrics(metrics: Partial<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(metrics)) if (value !== undefined && Number.isFinite(value)) out[name] = value;
  return out;
}
