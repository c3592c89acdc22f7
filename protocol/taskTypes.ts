import { OptionsError } from './errors.js';
import { MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LR, MAX_PARAM_COUNT } from './limits.js';

/**
 * A task: what a fleet learns, as plain data (DESIGN.md, "The task"). The aggregator publishes
 * it whole; a device builds its model from it. Produced only by `parseTask` (protocol/task.ts),
 * which fills every default and bounds every number, so code that receives a `Task` trusts it.
 */
export interface Task {
  /** Label for reports and for seeding the initial weights; `[A-Za-z0-9._-]{1,64}`. @default 'task' */
  name: string;
  input: TaskInput;
  output: TaskOutput;
  /** Layers applied in order to the input; the last one produces the output (see `TaskOutput`). */
  model: { layers: TaskLayer[] };
  loss: LossName;
  /** Reported by evaluation besides the loss; all fit `output`. */
  metrics: MetricName[];
  /** The local optimiser; its state starts afresh at each local training (each round). */
  optimizer: OptimizerSpec;
  /** Local training defaults; a round may override them. */
  training: { epochs: number; batchSize: number };
  preprocessing?: Preprocessing;
}

export interface TaskInput {
  /**
   * One example's shape, without the batch dimension: `[features]` (tabular), `[steps,
   * features]` (sequences, conv1d) or `[height, width, channels]` (images, conv2d). Examples
   * travel flat, row-major (channels last).
   */
  shape: number[];
  /** Names of the features: the last dimension of `shape` (columns of a CSV, channels of a sequence). */
  features?: string[];
  /**
   * Raw values are divided by this before anything else (e.g. 255 for 8-bit pixels). Absent:
   * values are used as they are. fedmq never rescales data the task does not ask it to.
   */
  scale?: number;
}

export type TaskOutput =
  /** One of `classes` classes; labels are integers 0 .. classes-1. */
  | { kind: 'classes'; classes: number }
  /** Labels 0 or 1; the model has one output, the logit (or probability) of 1. */
  | { kind: 'binary' }
  /** `outputs` real-valued targets per example. */
  | { kind: 'regression'; outputs: number };
export type OutputKind = TaskOutput['kind'];

export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax';
/** Gate activation of GRU and LSTM: `hardSigmoid` is tfjs's, clip(0.2 x + 0.5, 0, 1). */
export type RecurrentActivation = 'sigmoid' | 'hardSigmoid';
export type Padding = 'same' | 'valid';

/** Layers, with Keras's semantics and weight layouts (channels last). */
export type TaskLayer =
  | { kind: 'dense'; units: number; activation: Activation; useBias: boolean }
  /** Training only: zeroes each value with probability `rate`, scales the rest by 1 / (1 - rate). */
  | { kind: 'dropout'; rate: number }
  /** Over `[steps, channels]`. */
  | { kind: 'conv1d'; filters: number; kernelSize: number; strides: number; padding: Padding; activation: Activation; useBias: boolean }
  /** Over `[height, width, channels]`; `kernelSize` and `strides` are [rows, columns]. */
  | { kind: 'conv2d'; filters: number; kernelSize: number[]; strides: number[]; padding: Padding; activation: Activation; useBias: boolean }
  /** 1-D over `[steps, channels]` or 2-D over `[height, width, channels]`: one size per spatial dimension. */
  | { kind: 'maxPool'; poolSize: number[]; strides: number[]; padding: Padding }
  | { kind: 'flatten' }
  /** Over `[steps, features]`; gates z, r, h as Keras orders them. `resetAfter`: Keras 2's default (CuDNN-compatible) variant. */
  | { kind: 'gru'; units: number; activation: Activation; recurrentActivation: RecurrentActivation; returnSequences: boolean; useBias: boolean; resetAfter: boolean }
  /** Over `[steps, features]`; gates i, f, c, o as Keras orders them. */
  | { kind: 'lstm'; units: number; activation: Activation; recurrentActivation: RecurrentActivation; returnSequences: boolean; useBias: boolean };
export type LayerKind = TaskLayer['kind'];

export const LOSSES = {
  classes: ['categoricalCrossentropy'],
  binary: ['binaryCrossentropy'],
  regression: ['meanSquaredError', 'meanAbsoluteError', 'huber'],
} as const;
export type LossName = (typeof LOSSES)[OutputKind][number];

export const METRICS = {
  classes: ['accuracy'],
  binary: ['accuracy', 'precision', 'recall', 'f1'],
  regression: ['meanSquaredError', 'meanAbsoluteError', 'rootMeanSquaredError'],
} as const;
export type MetricName = (typeof METRICS)[OutputKind][number];

export type OptimizerSpec =
  /** w <- w - lr g; with momentum m (Keras/tfjs form): v <- m v - lr g, w <- w + v (Nesterov: w <- w + m v - lr g). */
  | { kind: 'sgd'; lr: number; momentum: number; nesterov: boolean }
  /** Kingma & Ba 2015, with bias correction, as tf.train.adam. */
  | { kind: 'adam'; lr: number; beta1: number; beta2: number; epsilon: number };

export interface Preprocessing {
  /**
   * Per feature (last input dimension) after `input.scale`: x <- (x - mean) / std. Filled in
   * from the fleet's statistics before round 1: a task file says `"fleet"`, and the aggregator
   * publishes the task again with the fleet's mean and std once it has them (a device trains
   * only on a task whose statistics are numbers).
   */
  standardize?: { mean: number[]; std: number[] } | 'fleet';
}

/** Bounds on every number of a task: tasks arrive from the network too. */
export const TASK_LIMITS = {
  maxDimension: 65536,
  maxRank: 3,
  /** Values in one example, and in any layer's output for one example. */
  maxExampleValues: 1 << 24,
  maxLayers: 64,
  maxUnits: 65536,
  maxFilters: 4096,
  maxRecurrentUnits: 4096,
  maxKernel: 64,
  maxClasses: 65536,
  maxOutputs: 65536,
  /** The largest model whose float32 global fits in one message. */
  maxParams: MAX_PARAM_COUNT,
  maxScale: 1e9,
  /** A round may ask no more (protocol/limits.ts): a task's defaults are what its rounds ask. */
  maxLr: MAX_LR,
  maxEpochs: MAX_EPOCHS,
  maxBatchSize: MAX_BATCH_SIZE,
  maxMeanAbs: 1e30,
  maxNameLength: 64,
  maxFeatureNameLength: 128,
} as const;

/** A task is malformed; `field` is the path of the culprit (`model.layers[2].units`). */
export class TaskError extends OptionsError {
  override name = 'TaskError';
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super('task', `${field}: ${problem}`);
    // Reads as the brief's paths do: "task.model.layers[2].units: must be ...".
    this.message = `task.${field}: ${problem}`;
  }
}
