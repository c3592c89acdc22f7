import * as tf from '@tensorflow/tfjs';
import { OptionsError } from '../../protocol/errors.js';
import { Rng } from '../../protocol/random.js';
import { taskLayout, type MetricName, type Task } from '../../protocol/task.js';
import { initBackend } from '../backend.js';
import { ModelBusyError, ModelDisposedError, TrainingStoppedError } from '../errors.js';
import { denseBackward, denseForward } from '../layerOps.js';
import { crossEntropySum } from '../metrics.js';
import { batchSums, lossSum, metricsFromSums, SumAccumulator, type EvalSums, type Targets } from './objective.js';
import { LocalOptimizer } from './optimizers.js';
import { checkTaskData, inputSize, TaskBatchBuffer, type TaskData } from './taskData.js';
import { TaskNetwork } from './taskNetwork.js';
import { taskInitialWeights } from './initialWeights.js';

export interface TaskTrainOptions {
  /** @default task.training.epochs */
  epochs?: number;
  /** @default task.training.batchSize */
  batchSize?: number;
  /** @default task.optimizer.lr */
  lr?: number;
  /** Seeds the per-epoch shuffles and the dropout masks. */
  seed: number;
  /** FedProx's proximal coefficient; 0 (default) is the task's optimiser alone. */
  mu?: number;
}

export interface TaskEvalResult {
  count: number;
  /** Mean per-example loss. */
  loss: number;
  /** The task's metrics. */
  metrics: Partial<Record<MetricName, number>>;
  /** Summed statistics behind them, for pooling across devices (`metricsFromSums`). */
  sums: EvalSums;
}

export interface TaskTrainResult extends TaskEvalResult {
  /** Optimiser steps in all epochs. The loss and metrics are the last epoch's, as seen while training. */
  steps: number;
  ms: number;
}

export const DEFAULT_TASK_EVAL_BATCH_SIZE = 1000;
const YIELD_EVERY_MS = 50;

/** A task's model in tfjs memory, exchanged with the rest of fedmq as flat `Float32Array`s. */
export class TaskModel {
  readonly paramCount: number;
  private readonly net: TaskNetwork;
  private readonly sums: SumAccumulator;
  private readonly denseOnly: boolean;
  private busy = false;
  private disposed = false;

  /** Initialises a backend if none is set; starts from `weights` or the task's initial weights of seed 0. */
  static async create(task: Task, weights?: Float32Array): Promise<TaskModel> {
    await initBackend();
    return new TaskModel(task, weights ?? taskInitialWeights(task, 0));
  }

  private constructor(
    readonly task: Task,
    weights: Float32Array,
  ) {
    this.paramCount = taskLayout(task).paramCount;
    this.sums = new SumAccumulator(task);
    this.net = new TaskNetwork(task, weights);
    this.denseOnly = this.net.options.customGradients && this.net.isDenseOnly() && task.loss === 'categoricalCrossentropy';
  }

  /** A flat copy of every weight, in the order of `TaskNetwork`. */
  getWeights(): Float32Array {
    this.check('getWeights');
    return this.net.getWeights();
  }

  /** Throws `WeightsLengthError` unless `flat` has `paramCount` values. */
  setWeights(flat: Float32Array): void {
    this.check('setWeights');
    this.net.setWeights(flat);
  }

  /** The model's outputs (as declared: probabilities after a softmax or sigmoid) for `count` raw examples. */
  predict(x: Float32Array, count: number): Float32Array {
    this.check('predict');
    const n = inputSize(this.task);
    if (!Number.isInteger(count) || count < 1 || x.length < count * n) throw new OptionsError('x', `must hold ${count} examples of ${n} values`);
    const buffer = new TaskBatchBuffer(this.task, count);
    const dummy = { x, y: new Float32Array(count * (this.task.output.kind === 'regression' ? this.task.output.outputs : 1)), count };
    return tf.tidy(() => this.net.forward(buffer.fill(dummy, null, 0, count).x, false).dataSync() as Float32Array).slice();
  }

  /**
   * Minibatch training with the task's optimiser and loss, a seeded shuffle each epoch, and
   * FedProx's term with `mu > 0`. `stop` is checked before every batch (then
   * `TrainingStoppedError`, weights part-trained); the event loop gets a turn every 50 ms.
   */
  async train(data: TaskData, options: TaskTrainOptions, stop?: AbortSignal): Promise<TaskTrainResult> {
    this.check('train');
    const epochs = options.epochs ?? this.task.training.epochs;
    const lr = options.lr ?? this.task.optimizer.lr;
    const mu = options.mu ?? 0;
    checkOptions(epochs, options.batchSize ?? this.task.training.batchSize, lr, options.seed, mu);
    checkTaskData(this.task, data);
    if (stop?.aborted) throw new TrainingStoppedError(0);
    const started = performance.now();
    this.busy = true;
    const optimizer = new LocalOptimizer(this.net.params, this.task.optimizer, lr, mu);
    try {
      const { count } = data;
      const batchSize = Math.min(options.batchSize ?? this.task.training.batchSize, count);
      const buffer = new TaskBatchBuffer(this.task, batchSize);
      const order = Uint32Array.from({ length: count }, (_, i) => i);
      const rng = Rng.derive(options.seed, 'learning.shuffle');
      const dropoutRng = Rng.derive(options.seed, 'learning.dropout');
      const mask = (shape: number[], rate: number): tf.Tensor => {
        const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
        for (let i = 0; i < values.length; i++) values[i] = dropoutRng.next() < rate ? 0 : 1 / (1 - rate);
        return tf.tensor(values, shape, 'float32');
      };
      let steps = 0;
      let lastYield = started;
      for (let epoch = 0; epoch < epochs; epoch++) {
        rng.shuffle(order);
        const last = epoch === epochs - 1;
        if (last) this.sums.reset();
        for (let start = 0; start < count; start += batchSize) {
          if (stop?.aborted) throw new TrainingStoppedError(steps);
          const size = Math.min(batchSize, count - start);
          tf.tidy(() => {
            const batch = buffer.fill(data, order, start, size);
            const grads = this.denseOnly ? this.denseGrads(batch.x, batch.targets, optimizer.gradScale, last) : this.autodiffGrads(batch.x, batch.targets, optimizer.gradScale, mask, last);
            optimizer.apply(grads);
          });
          steps++;
          if (performance.now() - lastYield > YIELD_EVERY_MS) {
            await yieldToEventLoop();
            lastYield = performance.now();
          }
        }
      }
      const sums = await this.sums.read();
      return { ...metricsFromSums(this.task, sums, count), sums, count, steps, ms: performance.now() - started };
    } finally {
      optimizer.dispose();
      this.busy = false;
    }
  }

  /** Loss and the task's metrics on `data` in order, `batchSize` examples per forward pass. */
  async evaluate(data: TaskData, batchSize = DEFAULT_TASK_EVAL_BATCH_SIZE): Promise<TaskEvalResult> {
    this.check('evaluate');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionsError('batchSize', `must be a positive integer, got ${batchSize}`);
    checkTaskData(this.task, data);
    this.busy = true;
    try {
      const { count } = data;
      const size = Math.min(batchSize, count);
      const buffer = new TaskBatchBuffer(this.task, size);
      this.sums.reset();
      for (let start = 0; start < count; start += size) {
        const n = Math.min(size, count - start);
        tf.tidy(() => {
          const { x, targets } = buffer.fill(data, null, start, n);
          const out = this.net.forward(x, true);
          this.sums.add(batchSums(this.task, lossSum(this.task, out, targets), out, targets));
        });
        await yieldToEventLoop();
      }
      const sums = await this.sums.read();
      return { ...metricsFromSums(this.task, sums, count), sums, count };
    } finally {
      this.busy = false;
    }
  }

  /** Frees the model's tensors; safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.net.dispose();
    this.sums.dispose();
  }

  /** Gradients of the mean loss times `scale`, by tfjs autodiff, in parameter order. */
  private autodiffGrads(x: tf.Tensor2D, t: Targets, scale: number, mask: (shape: number[], rate: number) => tf.Tensor, record: boolean): tf.Tensor[] {
    const size = x.shape[0];
    const kept: tf.Tensor[] = [];
    const { grads } = tf.variableGrads(() => {
      const out = this.net.forward(x, true, mask);
      const loss = lossSum(this.task, out, t);
      if (record) kept.push(tf.keep(batchSums(this.task, loss, out, t)));
      return tf.mul(loss, scale / size);
    }, this.net.params);
    for (const k of kept) {
      this.sums.add(k as tf.Tensor1D);
      k.dispose();
    }
    return this.net.params.map((v) => grads[v.name] as tf.Tensor);
  }

  /**
   * Dense-only classifiers (the built-in mlp, 2nn): the backward pass written out, no tape
   * (as the zoo's `denseStep`, now bench/baseline/sgdStep.ts): dL/dlogits = (softmax -
   * onehot) / batch, scaled once. learning/task/denseGrads.test.ts checks it against autodiff.
   */
  private denseGrads(x: tf.Tensor2D, t: Targets, scale: number, record: boolean): tf.Tensor[] {
    const p = this.net.params;
    const layers = p.length / 2;
    const dense = this.task.model.layers.filter((l) => l.kind === 'dense');
    const act = (i: number): 'relu' | 'linear' => (dense[i]?.activation === 'relu' ? 'relu' : 'linear');
    const acts: tf.Tensor2D[] = [x];
    for (let i = 0; i < layers; i++) acts.push(denseForward(acts[i] as tf.Tensor2D, p[2 * i] as tf.Tensor2D, p[2 * i + 1] as tf.Tensor1D, act(i), this.net.options));
    const logits = acts[layers] as tf.Tensor2D;
    const logProbs = tf.logSoftmax(logits);
    if (record) this.sums.add(batchSums(this.task, crossEntropySum(logProbs, t.y), logits, t));
    let dy = tf.mul(tf.sub(tf.exp(logProbs), t.y), scale / x.shape[0]) as tf.Tensor2D;
    const grads = new Array<tf.Tensor>(p.length);
    for (let i = layers - 1; i >= 0; i--) {
      const g = denseBackward(acts[i] as tf.Tensor2D, p[2 * i] as tf.Tensor2D, acts[i + 1] as tf.Tensor2D, dy, act(i), i > 0, this.net.options);
      grads[2 * i] = g.dW;
      grads[2 * i + 1] = g.db;
      if (g.dx !== null) dy = g.dx;
    }
    return grads;
  }

  private check(operation: string): void {
    if (this.disposed) throw new ModelDisposedError(operation);
    if (this.busy) throw new ModelBusyError(operation);
  }
}

function checkOptions(epochs: number, batchSize: number, lr: number, seed: number, mu: number): void {
  if (!Number.isInteger(epochs) || epochs < 1) throw new OptionsError('epochs', `must be a positive integer, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionsError('batchSize', `must be a positive integer, got ${batchSize}`);
  if (!Number.isFinite(lr) || lr <= 0) throw new OptionsError('lr', `must be a positive number, got ${lr}`);
  if (!Number.isFinite(seed)) throw new OptionsError('seed', `must be a finite number, got ${seed}`);
  if (!(Number.isFinite(mu) && mu >= 0)) throw new OptionsError('mu', `must be a finite number >= 0, got ${mu}`);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
