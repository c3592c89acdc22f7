/*
 * The pre-task training path (the fixed model zoo's LocalModel), kept only as the speed
 * baseline of bench/task-speed.ts and as the reference that learning/task's tests compare
 * TaskModel against. Not part of the library: fedmq trains through learning/task (TaskModel).
 */
import * as tf from '@tensorflow/tfjs';
import { TrainingDataError } from '../../learning/errors.js';
import { NUM_CLASSES, PIXELS } from './models.js';

/** Flat MNIST-shaped examples: `x` row-major, `count * 784` pixels in [0, 1]; `y` labels 0..9. */
export interface TrainingData {
  x: Float32Array;
  y: Uint8Array;
  count: number;
}

/** Throws `TrainingDataError` unless `data` holds `count` examples with labels below 10. */
export function checkTrainingData(data: TrainingData): void {
  const { x, y, count } = data;
  if (!Number.isInteger(count) || count <= 0) throw new TrainingDataError('empty', `data: count must be a positive integer, got ${count}`);
  if (x.length < count * PIXELS) throw new TrainingDataError('short-x', `data: x holds ${x.length} values, ${count} examples need ${count * PIXELS}`);
  if (y.length < count) throw new TrainingDataError('short-y', `data: y holds ${y.length} labels, expected ${count}`);
  for (let i = 0; i < count; i++) {
    if ((y[i] as number) >= NUM_CLASSES) throw new TrainingDataError('bad-label', `data: label ${y[i]} at ${i} is not below ${NUM_CLASSES}`);
  }
}

export interface Batch {
  x: tf.Tensor2D;
  oneHot: tf.Tensor2D;
  labels: tf.Tensor1D;
}

/**
 * Preallocated host buffers that batches are copied into row by row (no intermediate JS
 * arrays), then uploaded as tensors. Tensors made here alias the buffers on the cpu backend,
 * so they must be disposed (by the caller's tidy) before the next `fill`.
 */
export class BatchBuffer {
  private readonly x: Float32Array;
  private readonly oneHot: Float32Array;
  private readonly labels: Int32Array;

  constructor(readonly capacity: number) {
    this.x = new Float32Array(capacity * PIXELS);
    this.oneHot = new Float32Array(capacity * NUM_CLASSES);
    this.labels = new Int32Array(capacity);
  }

  /**
   * Copies examples `order[start .. start+size)` (or `start .. start+size` when `order` is
   * null) into the buffers and returns them as tensors of `size` rows.
   */
  fill(data: TrainingData, order: Uint32Array | null, start: number, size: number): Batch {
    if (order === null) {
      this.x.set(data.x.subarray(start * PIXELS, (start + size) * PIXELS));
    } else {
      for (let i = 0; i < size; i++) {
        const row = order[start + i] as number;
        this.x.set(data.x.subarray(row * PIXELS, (row + 1) * PIXELS), i * PIXELS);
      }
    }
    this.oneHot.fill(0, 0, size * NUM_CLASSES);
    for (let i = 0; i < size; i++) {
      const label = data.y[order === null ? start + i : (order[start + i] as number)] as number;
      this.labels[i] = label;
      this.oneHot[i * NUM_CLASSES + label] = 1;
    }
    return {
      x: tf.tensor2d(this.x.subarray(0, size * PIXELS), [size, PIXELS], 'float32'),
      oneHot: tf.tensor2d(this.oneHot.subarray(0, size * NUM_CLASSES), [size, NUM_CLASSES], 'float32'),
      labels: tf.tensor1d(this.labels.subarray(0, size), 'int32'),
    };
  }
}
