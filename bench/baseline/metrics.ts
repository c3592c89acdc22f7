/*
 * The pre-task training path (the fixed model zoo's LocalModel), kept only as the speed
 * baseline of bench/task-speed.ts and as the reference that learning/task's tests compare
 * TaskModel against. Not part of the library: fedmq trains through learning/task (TaskModel).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Loss and accuracy summed on the device, read back once per epoch or evaluation: a read
 * forces a sync, and one per SGD step would stall the pipeline for nothing.
 */
export class Metrics {
  private readonly lossSum = tf.variable(tf.scalar(0), false);
  private readonly correct = tf.variable(tf.scalar(0), false);

  reset(): void {
    tf.tidy(() => {
      this.lossSum.assign(tf.zerosLike(this.lossSum));
      this.correct.assign(tf.zerosLike(this.correct));
    });
  }

  /** Adds one batch: its summed cross-entropy and its logits against integer labels. */
  add(batchLossSum: tf.Scalar, logits: tf.Tensor2D, labels: tf.Tensor1D): void {
    tf.tidy(() => {
      this.lossSum.assign(tf.add(this.lossSum, batchLossSum));
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
      this.correct.assign(tf.add(this.correct, hits));
    });
  }

  /** Mean loss and accuracy over `count` examples added since the last reset. */
  async read(count: number): Promise<{ loss: number; accuracy: number }> {
    const [loss, correct] = await Promise.all([this.lossSum.data(), this.correct.data()]);
    return { loss: (loss[0] ?? NaN) / count, accuracy: (correct[0] ?? NaN) / count };
  }

  dispose(): void {
    this.lossSum.dispose();
    this.correct.dispose();
  }
}
