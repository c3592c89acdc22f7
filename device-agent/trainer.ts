import { LocalModel, TrainingStoppedError, type ModelName, type TrainOptions, type TrainingData } from '../learning/index.js';

export interface TrainJob {
  model: ModelName;
  /** Starting weights (the round's global). */
  global: Float32Array;
  data: TrainingData;
  options: TrainOptions;
  /**
   * Aborted when the work is no longer wanted (the round's deadline passed): a trainer that
   * honours it stops between batches and rejects with `TrainingStoppedError`. Not sent to
   * worker threads; a trainer may ignore it.
   */
  signal?: AbortSignal;
}

export interface TrainOutcome {
  weights: Float32Array;
  loss: number;
  accuracy: number;
  ms: number;
}

/**
 * Runs local training. A device owns one; a simulated fleet shares one (or a pool) so
 * that idle devices cost a connection, not a model.
 */
export interface Trainer {
  train(job: TrainJob): Promise<TrainOutcome>;
  dispose(): void;
}

/**
 * Trains on this thread with one tfjs model per architecture. Jobs run one at a time:
 * the model's variables are shared, and tfjs on one thread gains nothing from overlap.
 */
export class LocalTrainer implements Trainer {
  private readonly models = new Map<ModelName, Promise<LocalModel>>();
  private queue: Promise<unknown> = Promise.resolve();

  train(job: TrainJob): Promise<TrainOutcome> {
    const run = this.queue.then(() => this.run(job));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(job: TrainJob): Promise<TrainOutcome> {
    if (job.signal?.aborted) throw new TrainingStoppedError(0);
    const m = await this.model(job.model);
    m.setWeights(job.global);
    const result = await m.train(job.data, job.options, job.signal);
    return { weights: m.getWeights(), loss: result.loss, accuracy: result.accuracy, ms: result.ms };
  }

  private model(name: ModelName): Promise<LocalModel> {
    const existing = this.models.get(name);
    if (existing) return existing;
    const created = LocalModel.create(name);
    this.models.set(name, created);
    return created;
  }

  dispose(): void {
    for (const model of this.models.values()) void model.then((m) => m.dispose());
    this.models.clear();
  }
}
