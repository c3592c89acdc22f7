/*
 * The pre-task training path (the fixed model zoo's LocalModel), kept only as the speed
 * baseline of bench/task-speed.ts and as the reference that learning/task's tests compare
 * TaskModel against. Not part of the library: fedmq trains through learning/task (TaskModel).
 */
import * as tf from '@tensorflow/tfjs';
import { OptionsError } from '../../protocol/errors.js';
import { Rng } from '../../protocol/random.js';
import { initBackend } from '../../learning/backend.js';
import { BatchBuffer, checkTrainingData, type TrainingData } from './batches.js';
import { ModelBusyError, ModelDisposedError, TrainingStoppedError } from '../../learning/errors.js';
import { crossEntropySum } from '../../learning/metrics.js';
import { isDenseOnly, isModelName, modelInfo, type ModelInfo, type ModelName } from './models.js';
import { Metrics } from './metrics.js';
import { Network } from './network.js';
import { autodiffStep, denseStep, ProximalTerm, type SgdStep } from './sgdStep.js';

export interface TrainOptions {
  /** Passes over the local data (E in McMahan et al. 2017). */
  epochs: number;
  /** Examples per SGD step (B); the last, partial batch of an epoch is included. */
  batchSize: number;
  /** SGD learning rate. */
  lr: number;
  /** Seeds the per-epoch shuffles, so a device's update is reproducible. */
  seed: number;
  /**
   * FedProx's proximal coefficient (Li et al. 2020): each step adds mu (w - w_start) to the
   * gradient, w_start being the weights `train` starts from (the round's global). 0 is plain
   * SGD, bit for bit.
   * @default 0
   */
  mu?: number;
}

export interface TrainResult {
  /** Mean cross-entropy over the examples of the last epoch, as seen while training on them. */
  loss: number;
  /** Mean training accuracy over the last epoch. */
  accuracy: number;
  /** SGD steps taken in all epochs. */
  steps: number;
  /** Wall time of the whole call. */
  ms: number;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
}

/** Evaluation needs no gradients, so large batches cost little memory and amortise op overhead. */
export const DEFAULT_EVAL_BATCH_SIZE = 1000;

/**
 * Training runs synchronously on this thread; giving the event loop a turn this often keeps
 * MQTT keep-alives and timers alive in a process that also hosts a broker or an agent.
 */
const YIELD_EVERY_MS = 50;

/** One model in tfjs memory, exchanged with the rest of fedmq as flat `Float32Array`s. */
export class LocalModel {
  readonly info: ModelInfo;
  private readonly net: Network;
  private readonly metrics = new Metrics();
  private readonly step: SgdStep;
  private busy: string | null = null;
  private disposed = false;

  /** A model with the deterministic initial weights of seed 0; initialises a backend if none is set. */
  static async create(name: ModelName): Promise<LocalModel> {
    if (!isModelName(name)) throw new OptionsError('model', `unknown model "${String(name)}"`);
    await initBackend();
    return new LocalModel(name);
  }

  private constructor(name: ModelName) {
    this.info = modelInfo(name);
    this.net = new Network(name);
    this.step = isDenseOnly(name) ? denseStep : autodiffStep;
  }

  /** A flat copy of every trainable weight (per layer: kernel, then bias). */
  getWeights(): Float32Array {
    this.check('getWeights');
    return this.net.getWeights();
  }

  /** Replaces every weight; throws `WeightsLengthError` unless `flat` has `info.paramCount` values. */
  setWeights(flat: Float32Array): void {
    this.check('setWeights');
    this.net.setWeights(flat);
  }

  /**
   * Minibatch SGD on softmax cross-entropy, with a seeded shuffle each epoch; with
   * `options.mu > 0`, FedProx's proximal term pulls toward the starting weights.
   * `stop` is checked before every batch: once it has aborted (a device's round deadline has
   * passed on its clock), training ends there with `TrainingStoppedError`, leaving the
   * weights part-trained. The event loop gets a turn at least every 50 ms, so a timer that
   * aborts it runs on time.
   */
  async train(data: TrainingData, options: TrainOptions, stop?: AbortSignal): Promise<TrainResult> {
    this.check('train');
    checkTrainOptions(options);
    checkTrainingData(data);
    if (stop?.aborted) throw new TrainingStoppedError(0);
    const started = performance.now();
    this.busy = 'train';
    let prox: ProximalTerm | null = null;
    try {
      const mu = options.mu ?? 0;
      if (mu > 0) prox = new ProximalTerm(this.net.params, options.lr, mu);
      const { count } = data;
      const batchSize = Math.min(options.batchSize, count);
      const buffer = new BatchBuffer(batchSize);
      const order = new Uint32Array(count);
      for (let i = 0; i < count; i++) order[i] = i;
      const rng = Rng.derive(options.seed, 'learning.shuffle');
      let steps = 0;
      let lastYield = started;
      for (let epoch = 0; epoch < options.epochs; epoch++) {
        rng.shuffle(order);
        const metrics = epoch === options.epochs - 1 ? this.metrics : null;
        metrics?.reset();
        for (let start = 0; start < count; start += batchSize) {
          if (stop?.aborted) throw new TrainingStoppedError(steps);
          const size = Math.min(batchSize, count - start);
          tf.tidy(() => this.step(this.net, buffer.fill(data, order, start, size), options.lr, metrics, prox));
          steps++;
          if (performance.now() - lastYield > YIELD_EVERY_MS) {
            await yieldToEventLoop();
            lastYield = performance.now();
          }
        }
      }
      const { loss, accuracy } = await this.metrics.read(count);
      return { loss, accuracy, steps, ms: performance.now() - started };
    } finally {
      prox?.dispose();
      this.busy = null;
    }
  }

  /** Loss and accuracy on `data` in order, `batchSize` examples per forward pass. */
  async evaluate(data: TrainingData, batchSize = DEFAULT_EVAL_BATCH_SIZE): Promise<EvalResult> {
    this.check('evaluate');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionsError('batchSize', `must be a positive integer, got ${batchSize}`);
    checkTrainingData(data);
    this.busy = 'evaluate';
    try {
      const { count } = data;
      const size = Math.min(batchSize, count);
      const buffer = new BatchBuffer(size);
      this.metrics.reset();
      for (let start = 0; start < count; start += size) {
        const n = Math.min(size, count - start);
        tf.tidy(() => {
          const batch = buffer.fill(data, null, start, n);
          const logits = this.net.forward(batch.x);
          this.metrics.add(crossEntropySum(tf.logSoftmax(logits), batch.oneHot), logits, batch.labels);
        });
        await yieldToEventLoop();
      }
      const { loss, accuracy } = await this.metrics.read(count);
      return { loss, accuracy, count };
    } finally {
      this.busy = null;
    }
  }

  /** Frees the model's tensors; the model cannot be used afterwards. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.net.dispose();
    this.metrics.dispose();
  }

  private check(operation: string): void {
    if (this.disposed) throw new ModelDisposedError(operation);
    if (this.busy !== null) throw new ModelBusyError(operation);
  }
}

function checkTrainOptions(o: TrainOptions): void {
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new OptionsError('epochs', `must be a positive integer, got ${o.epochs}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new OptionsError('batchSize', `must be a positive integer, got ${o.batchSize}`);
  if (!Number.isFinite(o.lr) || o.lr <= 0) throw new OptionsError('lr', `must be a positive number, got ${o.lr}`);
  if (!Number.isFinite(o.seed)) throw new OptionsError('seed', `must be a finite number, got ${o.seed}`);
  if (o.mu !== undefined && !(Number.isFinite(o.mu) && o.mu >= 0)) throw new OptionsError('mu', `must be a finite number >= 0, got ${o.mu}`);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
