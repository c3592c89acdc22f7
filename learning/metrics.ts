import * as tf from '@tensorflow/tfjs';

/** Summed softmax cross-entropy of a batch, from log-probabilities and one-hot targets. */
export function crossEntropySum(logProbs: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.sum(tf.mul(logProbs, oneHot))) as tf.Scalar;
}
