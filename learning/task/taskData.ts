import * as tf from '@tensorflow/tfjs';
import type { Task } from '../../protocol/task.js';
import { TrainingDataError } from '../errors.js';
import type { Targets } from './objective.js';

/**
 * A task's examples, flat and raw (before `input.scale` and standardisation, which the model
 * applies): `x` row-major, `count * inputSize` values; `y` one label per example (classes:
 * 0 .. classes-1; binary: 0 or 1) or `outputs` targets per example (regression).
 */
export interface TaskData {
  x: Float32Array;
  y: Float32Array | Uint8Array | Uint16Array | Int32Array | Uint32Array;
  count: number;
}

export const inputSize = (task: Task): number => task.input.shape.reduce((a, b) => a * b, 1);
export const targetSize = (task: Task): number => (task.output.kind === 'regression' ? task.output.outputs : 1);

/** Throws `TrainingDataError` unless `data` holds `count` examples fit for `task`. */
export function checkTaskData(task: Task, data: TaskData): void {
  const { x, y, count } = data;
  const n = inputSize(task);
  const m = targetSize(task);
  if (!Number.isInteger(count) || count <= 0) throw new TrainingDataError('empty', `data: count must be a positive integer, got ${count}`);
  if (x.length < count * n) throw new TrainingDataError('short-x', `data: x holds ${x.length} values, ${count} examples of ${n} need ${count * n}`);
  if (y.length < count * m) throw new TrainingDataError('short-y', `data: y holds ${y.length} values, expected ${count * m}`);
  const out = task.output;
  for (let i = 0; i < count * m; i++) {
    const v = y[i] as number;
    const ok = out.kind === 'regression' ? Number.isFinite(v) : Number.isInteger(v) && v >= 0 && v < (out.kind === 'classes' ? out.classes : 2);
    if (!ok) throw new TrainingDataError('bad-label', `data: target ${v} at ${i} does not fit a ${out.kind} output`);
  }
}

/**
 * Preallocated host buffers that batches are copied into (no intermediate JS arrays), with the
 * task's preprocessing applied to the copy: x <- (x / scale - mean[f]) / std[f], f the feature
 * (last input dimension). Tensors made here alias the buffers on the cpu backend: the
 * caller's tidy must dispose them before the next `fill`.
 */
export class TaskBatchBuffer {
  private readonly x: Float32Array;
  private readonly y: Float32Array;
  private readonly labels: Int32Array;
  private readonly n: number;
  private readonly m: number;
  private readonly width: number;

  constructor(
    private readonly task: Task,
    readonly capacity: number,
  ) {
    this.n = inputSize(task);
    this.m = targetSize(task);
    this.width = task.output.kind === 'classes' ? task.output.classes : this.m;
    this.x = new Float32Array(capacity * this.n);
    this.y = new Float32Array(capacity * this.width);
    this.labels = new Int32Array(task.output.kind === 'classes' ? capacity : 0);
  }

  /** Examples `order[start .. start+size)` (or `start ..` in order when `order` is null). */
  fill(data: TaskData, order: Uint32Array | null, start: number, size: number): { x: tf.Tensor2D; targets: Targets } {
    const { n, m } = this;
    const row = (i: number): number => (order === null ? start + i : (order[start + i] as number));
    if (order === null) this.x.set(data.x.subarray(start * n, (start + size) * n));
    else for (let i = 0; i < size; i++) this.x.set(data.x.subarray(row(i) * n, (row(i) + 1) * n), i * n);
    this.preprocess(size);
    const classes = this.task.output.kind === 'classes';
    if (classes) this.y.fill(0, 0, size * this.width);
    for (let i = 0; i < size; i++) {
      if (classes) {
        const label = data.y[row(i)] as number;
        this.labels[i] = label;
        this.y[i * this.width + label] = 1;
      } else {
        for (let k = 0; k < m; k++) this.y[i * m + k] = data.y[row(i) * m + k] as number;
      }
    }
    return {
      x: tf.tensor2d(this.x.subarray(0, size * n), [size, n], 'float32'),
      targets: {
        y: tf.tensor2d(this.y.subarray(0, size * this.width), [size, this.width], 'float32'),
        labels: classes ? tf.tensor1d(this.labels.subarray(0, size), 'int32') : null,
      },
    };
  }

  /** Only examples `count * n`; a task without scaling or statistics costs nothing here. */
  private preprocess(count: number): void {
    const { scale } = this.task.input;
    // "fleet" (statistics not gathered yet) standardises nothing: devices train only once they are numbers.
    const given = this.task.preprocessing?.standardize;
    const standardize = given === 'fleet' ? undefined : given;
    if (scale === undefined && standardize === undefined) return;
    const x = this.x;
    const total = count * this.n;
    if (scale !== undefined) for (let i = 0; i < total; i++) x[i] = (x[i] as number) / scale;
    if (standardize !== undefined) {
      const { mean, std } = standardize;
      const f = mean.length;
      for (let i = 0; i < total; i++) x[i] = ((x[i] as number) - (mean[i % f] as number)) / (std[i % f] as number);
    }
  }
}
