import * as tf from '@tensorflow/tfjs';
import { taskLayout, type Activation, type Task, type TaskLayer, type TaskParam } from '../../protocol/task.js';
import { WeightsLengthError } from '../errors.js';
import { networkOptionsForBackend, type NetworkOptions } from '../layerOps.js';
import { layerForward } from './layers.js';

/**
 * A task's trainable tensors as tfjs variables and its forward pass (layers.ts).
 *
 * Flat weight order (every vector that travels): layer by layer as in `task.model.layers`,
 * each layer's kernel, then recurrent kernel (GRU, LSTM), then bias, each row-major in
 * Keras's layout (`TaskParam.shape`): the order of a Keras model's `get_weights()`.
 */
export class TaskNetwork {
  readonly params: tf.Variable[];
  readonly specs: TaskParam[];
  readonly size: number;
  /** Variables of each layer, in layout order. */
  private readonly layerParams: tf.Variable[][];
  private readonly layers: TaskLayer[];
  private readonly inputShape: number[];

  constructor(
    readonly task: Task,
    initial: Float32Array,
    readonly options: NetworkOptions = networkOptionsForBackend(),
  ) {
    const layout = taskLayout(task);
    this.layers = task.model.layers;
    this.inputShape = task.input.shape;
    this.specs = layout.params;
    this.size = layout.paramCount;
    if (initial.length !== this.size) throw new WeightsLengthError(this.size, initial.length);
    let offset = 0;
    this.params = this.specs.map((p) => {
      // slice, not subarray: the cpu backend keeps the array it is given.
      const value = tf.tensor(initial.slice(offset, offset + p.size), p.shape, 'float32');
      offset += p.size;
      const variable = tf.variable(value, true);
      value.dispose();
      return variable;
    });
    this.layerParams = this.layers.map(() => []);
    this.specs.forEach((p, i) => this.layerParams[p.layer]?.push(this.params[i] as tf.Variable));
  }

  /**
   * The model's output for a batch of flat examples [batch, inputSize]. With `logits`, the
   * last layer's softmax or sigmoid is left out (the loss takes logits). With `dropoutMask`,
   * a training step: dropout is on and the ops with hand-written gradients are used.
   */
  forward(x: tf.Tensor2D, logits: boolean, dropoutMask: ((shape: number[], rate: number) => tf.Tensor) | null = null): tf.Tensor2D {
    const training = dropoutMask !== null;
    const first = this.layers[0];
    let h: tf.Tensor = first?.kind === 'flatten' || (first?.kind === 'dense' && this.inputShape.length === 1) ? x : tf.reshape(x, [-1, ...this.inputShape]);
    const last = this.layers.length - 1;
    let dataOnly = true;
    this.layers.forEach((layer, i) => {
      // Classification losses take logits; a regression's last activation is part of its prediction.
      const act: Activation | undefined = i === last && logits && this.task.output.kind !== 'regression' && 'activation' in layer && (layer.activation === 'softmax' || layer.activation === 'sigmoid') ? 'linear' : undefined;
      const params = this.layerParams[i] as tf.Variable[];
      h = layerForward(layer, h, params, { ...this.options, custom: training && this.options.customGradients, inputGrad: !dataOnly, dropoutMask }, act);
      if (params.length > 0) dataOnly = false;
    });
    return h as tf.Tensor2D;
  }

  /** All weights as one flat copy, in the order above. */
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
        const p = this.specs[i] as TaskParam;
        v.assign(tf.tensor(flat.slice(offset, offset + p.size), p.shape, 'float32'));
        offset += p.size;
      }
    });
  }

  /**
   * True when the hand-written dense backward pass applies (the zoo's mlp and 2nn): dense
   * layers with bias, relu or linear (softmax last), after at most a leading flatten.
   */
  isDenseOnly(): boolean {
    const layers = this.layers[0]?.kind === 'flatten' ? this.layers.slice(1) : this.layers;
    return (
      layers.length > 0 &&
      layers.every((l, i) => l.kind === 'dense' && l.useBias && (l.activation === 'relu' || l.activation === 'linear' || (i === layers.length - 1 && l.activation === 'softmax')))
    );
  }

  dispose(): void {
    for (const v of this.params) v.dispose();
  }
}
