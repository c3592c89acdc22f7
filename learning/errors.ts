import { FedmqError } from '../protocol/errors.js';

/** A flat weight vector does not fit the model it was given to. */
export class WeightsLengthError extends FedmqError {
  override name = 'WeightsLengthError';
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`weights: expected ${expected} values, got ${actual}`);
  }
}

/** Training or evaluation data is malformed (sizes disagree, label out of range). */
export class TrainingDataError extends FedmqError {
  override name = 'TrainingDataError';
  constructor(
    /** Machine-readable reason: `empty`, `short-x`, `short-y`, `bad-label`. */
    readonly reason: 'empty' | 'short-x' | 'short-y' | 'bad-label',
    message: string,
  ) {
    super(message);
  }
}

/** A model was used while one of its asynchronous calls (train, evaluate) was still running. */
export class ModelBusyError extends FedmqError {
  override name = 'ModelBusyError';
  constructor(readonly operation: string) {
    super(`${operation}: the model is busy with another train or evaluate call`);
  }
}

/** A model was used after `dispose()`. */
export class ModelDisposedError extends FedmqError {
  override name = 'ModelDisposedError';
  constructor(readonly operation: string) {
    super(`${operation}: the model has been disposed`);
  }
}

/** Training was stopped before it finished (its deadline passed): the weights hold a partial result. */
export class TrainingStoppedError extends FedmqError {
  override name = 'TrainingStoppedError';
  constructor(
    /** SGD steps taken before the stop. */
    readonly steps: number,
  ) {
    super(`training stopped after ${steps} steps`);
  }
}
