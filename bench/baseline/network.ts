/*
 * The pre-task training path (the fixed model zoo's LocalModel), kept only as the speed
 * baseline of bench/task-speed.ts and as the reference that learning/task's tests compare
 * TaskModel against. Not part of the library: fedmq trains through learning/task (TaskModel).
 */
import * as tf from '@tensorflow/tfjs';
import { WeightsLengthError } from '../../learning/errors.js';
import { initialWeights } from './initialWeights.js';
import { conv2dReluLayer, denseLayer, maxPoolLayer, networkOptionsForBackend, type NetworkOptions } from '../../learning/layerOps.js';
import { modelSpec, paramSpecs, type LayerSpec, type ModelName, type ParamSpec } from './models.js';

/**
 * A model's trainable tensors as tfjs variables, in flat-vector order, and its forward pass
 * written with plain tfjs ops (fused matMul/conv2d with bias and relu), not tf.layers: fewer
 * kernels per step and a weight order that is ours, not Keras's.
 */
export class Network {
  readonly params: tf.Variable[];
  readonly specs: ParamSpec[];
  readonly size: number;
  private readonly layers: LayerSpec[];
  private readonly inputShape: number[];

  constructor(
    name: ModelName,
    initial: Float32Array = initialWeights(name, 0),
    readonly options: NetworkOptions = networkOptionsForBackend(),
  ) {
    const spec = modelSpec(name);
    this.layers = spec.layers;
    this.inputShape = spec.inputShape;
    this.specs = paramSpecs(name);
    this.size = this.specs.reduce((sum, p) => sum + p.size, 0);
    if (initial.length !== this.size) throw new WeightsLengthError(this.size, initial.length);
    let offset = 0;
    this.params = this.specs.map((p) => {
      // slice, not subarray: the cpu backend keeps the array it is given, it does not copy.
      const value = tf.tensor(initial.slice(offset, offset + p.size), p.shape, 'float32');
      offset += p.size;
      const variable = tf.variable(value, true);
      value.dispose();
      return variable;
    });
  }

  /**
   * Logits, shape [batch, classes], for a batch of flat images [batch, PIXELS]. With
   * `training`, through the ops whose gradients suit the backend.
   */
  forward(x: tf.Tensor2D, training = false): tf.Tensor2D {
    const custom = training && this.options.customGradients;
    // Batches arrive flat, [batch, PIXELS]; a leading flatten layer needs no reshape at all.
    const flatInput = this.layers[0]?.kind === 'flatten';
    let h: tf.Tensor = flatInput ? x : tf.reshape(x, [-1, ...this.inputShape]);
    let p = 0;
    for (const layer of this.layers) {
      // The first layer's input is data: no gradient needed.
      const inputGrad = p > 0;
      switch (layer.kind) {
        case 'dense': {
          const [w, b] = [this.param(p) as tf.Tensor2D, this.param(p + 1) as tf.Tensor1D];
          const x2 = h as tf.Tensor2D;
          h = custom
            ? denseLayer(x2, w, b, layer.activation, inputGrad, this.options)
            : tf.fused.matMul({ a: x2, b: w, bias: b, activation: layer.activation });
          p += 2;
          break;
        }
        case 'conv2d': {
          const [w, b] = [this.param(p) as tf.Tensor4D, this.param(p + 1) as tf.Tensor1D];
          const x4 = h as tf.Tensor4D;
          h = custom
            ? conv2dReluLayer(x4, w, b, inputGrad)
            : tf.fused.conv2d({ x: x4, filter: w, bias: b, strides: 1, pad: 'same', activation: layer.activation });
          p += 2;
          break;
        }
        case 'maxPool': {
          const x4 = h as tf.Tensor4D;
          h = custom ? maxPoolLayer(x4, layer.poolSize) : tf.maxPool(x4, layer.poolSize, layer.poolSize, 'valid');
          break;
        }
        case 'flatten':
          if (h.rank > 2) h = tf.reshape(h, [h.shape[0] ?? -1, -1]);
          break;
      }
    }
    return h as tf.Tensor2D;
  }

  /** All weights as one flat copy, per layer kernel then bias. */
  getWeights(): Float32Array {
    const out = new Float32Array(this.size);
    let offset = 0;
    for (const v of this.params) {
      out.set(v.dataSync() as Float32Array, offset);
      offset += v.size;
    }
    return out;
  }

  /** Replaces all weights from a flat vector in `getWeights` order; copies it. */
  setWeights(flat: Float32Array): void {
    if (!(flat instanceof Float32Array) || flat.length !== this.size) {
      throw new WeightsLengthError(this.size, flat instanceof Float32Array ? flat.length : -1);
    }
    let offset = 0;
    tf.tidy(() => {
      for (const [i, v] of this.params.entries()) {
        const p = this.specs[i] as ParamSpec;
        v.assign(tf.tensor(flat.slice(offset, offset + p.size), p.shape, 'float32'));
        offset += p.size;
      }
    });
  }

  dispose(): void {
    for (const v of this.params) v.dispose();
  }

  private param(i: number): tf.Variable {
    const v = this.params[i];
    if (v === undefined) throw new Error(`network: no parameter ${i}`);
    return v;
  }
}

