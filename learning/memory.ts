import * as tf from '@tensorflow/tfjs';

/** Live tfjs tensors (`tf.memory().numTensors`): flat across rounds unless something leaks. */
export function tensorCount(): number {
  return tf.memory().numTensors;
}
