import * as tf from '@tensorflow/tfjs';
import type { OptimizerSpec } from '../../protocol/task.js';

/**
 * A task's local optimiser over a network's variables, state fresh for each `train` call
 * (each round starts from the global, so momentum or Adam moments from an older model would
 * push the wrong way). FedProx's proximal term (Li et al. 2020) is added to the gradient
 * before the optimiser sees it: g + mu (w - w_start). Owns tensors: call `dispose()`.
 */
export class LocalOptimizer {
  /**
   * Factor the caller folds into its loss before differentiating, so the gradients arrive
   * already scaled: the learning rate for plain SGD (one op fewer per tensor), 1 otherwise.
   */
  readonly gradScale: number;
  private readonly anchor: tf.Tensor[] | null;
  private readonly slots: tf.Variable[][];
  private t = 0;

  constructor(
    private readonly params: readonly tf.Variable[],
    private readonly spec: OptimizerSpec,
    private readonly lr: number,
    private readonly mu = 0,
  ) {
    const plain = spec.kind === 'sgd' && spec.momentum === 0;
    this.gradScale = plain ? lr : 1;
    this.anchor = mu > 0 ? params.map((v) => tf.clone(v)) : null;
    const slotCount = spec.kind === 'adam' ? 2 : plain ? 0 : 1;
    // In a tidy: the zeros a slot starts from are freed once the variable holds them.
    this.slots = params.map((v) => Array.from({ length: slotCount }, () => tf.tidy(() => tf.variable(tf.zerosLike(v), false))));
  }

  /** One step from gradients scaled by `gradScale`, in `params` order. Call inside a tidy. */
  apply(grads: readonly tf.Tensor[]): void {
    this.t++;
    const spec = this.spec;
    for (const [j, v] of this.params.entries()) {
      let g = grads[j] as tf.Tensor;
      if (this.anchor !== null) g = tf.add(g, tf.mul(tf.sub(v, this.anchor[j] as tf.Tensor), this.mu * this.gradScale));
      const slots = this.slots[j] as tf.Variable[];
      if (spec.kind === 'sgd' && slots.length === 0) {
        v.assign(tf.sub(v, g));
      } else if (spec.kind === 'sgd') {
        // tf.train.momentum: a <- m a + g; w <- w - lr a (Nesterov: w <- w - lr (g + m a)).
        const acc = slots[0] as tf.Variable;
        const a = tf.add(tf.mul(acc, spec.momentum), g);
        acc.assign(a);
        v.assign(tf.sub(v, tf.mul(spec.nesterov ? tf.add(g, tf.mul(a, spec.momentum)) : a, this.lr)));
      } else {
        // tf.train.adam, with bias-corrected moments.
        const [m, s] = slots as [tf.Variable, tf.Variable];
        const m1 = tf.add(tf.mul(m, spec.beta1), tf.mul(g, 1 - spec.beta1));
        const s1 = tf.add(tf.mul(s, spec.beta2), tf.mul(tf.square(g), 1 - spec.beta2));
        m.assign(m1);
        s.assign(s1);
        const mHat = tf.div(m1, 1 - spec.beta1 ** this.t);
        const sHat = tf.div(s1, 1 - spec.beta2 ** this.t);
        v.assign(tf.sub(v, tf.mul(tf.div(mHat, tf.add(tf.sqrt(sHat), spec.epsilon)), this.lr)));
      }
    }
  }

  dispose(): void {
    for (const t of this.anchor ?? []) t.dispose();
    for (const slots of this.slots) for (const s of slots) s.dispose();
  }
}
