import {
  TaskModel, TrainingStoppedError, type TaskData, type TaskEvalResult, type TaskTrainOptions,
} from '../learning/index.js';
import type { Task } from '../protocol/index.js';

export interface TrainJob {
  /** What the fleet learns: the model is built from it. */
  task: Task;
  /** Starting weights (the round's global). */
  global: Float32Array;
  data: TaskData;
  options: TaskTrainOptions;
  /**
   * Aborted when the work is no longer wanted (the round's deadline passed): a trainer that
   * honours it stops between batches and rejects with `TrainingStoppedError`. Not sent to
   * worker threads; a trainer may ignore it.
   */
  signal?: AbortSignal;
}

export interface TrainOutcome {
  weights: Float32Array;
  /** Mean loss of the last epoch, as seen while training. */
  loss: number;
  /** The task's metrics over the last epoch, by name. */
  metrics: Record<string, number>;
  ms: number;
}

/** Evaluate `weights` on `data` (a device's held-out share, or a central test set). */
export interface EvalJob {
  task: Task;
  weights: Float32Array;
  data: TaskData;
}

/**
 * Runs local training and evaluation. A device owns one; a simulated fleet shares one (or a
 * pool) so that idle devices cost a connection, not a model.
 */
export interface Trainer {
  train(job: TrainJob): Promise<TrainOutcome>;
  evaluate(job: EvalJob): Promise<TaskEvalResult>;
  dispose(): void;
}

/** One model per task, keyed by the task's JSON: a task whose statistics arrive is a new model. */
export function taskKey(task: Task): string {
  return JSON.stringify(task);
}

/**
 * Trains on this thread with one tfjs model per task. Jobs run one at a time: the model's
 * variables are shared, and tfjs on one thread gains nothing from overlap.
 */
export class LocalTrainer implements Trainer {
  private readonly models = new Map<string, Promise<TaskModel>>();
  private queue: Promise<unknown> = Promise.resolve();

  train(job: TrainJob): Promise<TrainOutcome> {
    return this.serially(async () => {
      if (job.signal?.aborted) throw new TrainingStoppedError(0);
      const m = await this.model(job.task);
      m.setWeights(job.global);
      const result = await m.train(job.data, job.options, job.signal);
      return { weights: m.getWeights(), loss: result.loss, metrics: numbers(result.metrics), ms: result.ms };
    });
  }

  evaluate(job: EvalJob): Promise<TaskEvalResult> {
    return this.serially(async () => {
      const m = await this.model(job.task);
      m.setWeights(job.weights);
      return m.evaluate(job.data);
    });
  }

  private serially<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private model(task: Task): Promise<TaskModel> {
    const key = taskKey(task);
    const existing = this.models.get(key);
    if (existing) return existing;
    // A fleet runs one task at a time: a new one (its statistics arrived) replaces the old model.
    this.dispose();
    const created = TaskModel.create(task);
    this.models.set(key, created);
    created.catch(() => this.models.delete(key));
    return created;
  }

  dispose(): void {
    for (const model of this.models.values()) void model.then((m) => m.dispose(), () => undefined);
    this.models.clear();
  }
}

/** The metrics a model reported, without the ones it could not compute. */
export function numbers(metrics: Partial<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(metrics)) if (value !== undefined && Number.isFinite(value)) out[name] = value;
  return out;
}
