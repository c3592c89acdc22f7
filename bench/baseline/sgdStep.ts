/*
 * The pre-task training path (the fixed model zoo's LocalModel), kept only as the speed
 * baseline of bench/task-speed.ts and as the reference that learning/task's tests compare
 * TaskModel against. Not part of the library: fedmq trains through learning/task (TaskModel).
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from './batches.js';
import { denseBackward, denseForward } from '../../learning/layerOps.js';
import { crossEntropySum } from '../../learning/metrics.js';
import type { Metrics } from './metrics.js';
import type { Network } from './network.js';

/**
 * One plain SGD step, w <- w - lr * grad(mean cross-entropy), in place on the network's
 * variables; with `prox`, FedProx's step (see `ProximalTerm`). Adds the batch to `metrics`
 * when given. Leaves no tensors behind.
 */
export type SgdStep = (net: Network, batch: Batch, lr: number, metrics: Metrics | null, prox?: ProximalTerm | null) => void;

/**
 * FedProx's proximal term (Li et al. 2020, eq. 2): the local objective gains
 * (mu / 2) ||w - w_global||^2, so each step adds mu (w - w_global) to the gradient:
 * w <- w - lr (g + mu (w - w_global)) = (1 - lr mu) w + lr mu w_global - lr g.
 * `decay` and `pull` (= lr mu w_global) are fixed for a whole `train` call, so the term
 * costs three elementwise ops per tensor and step. Owns `pull`: call `dispose()`.
 */
export class ProximalTerm {
  readonly decay: number;
  readonly pull: tf.Tensor[];

  /** Anchored at the current values of `params` (the weights `train` starts from). */
  constructor(params: readonly tf.Variable[], lr: number, mu: number) {
    this.decay = 1 - lr * mu;
    this.pull = params.map((v) => tf.tidy(() => tf.mul(v, lr * mu)));
  }

  dispose(): void {
    for (const t of this.pull) t.dispose();
  }
}

/** w <- w - scaledGrad, or the proximal step when `prox` is given. */
function applyUpdate(params: readonly tf.Variable[], scaledGrads: (j: number) => tf.Tensor, prox: ProximalTerm | null): void {
  for (const [j, v] of params.entries()) {
    const g = scaledGrads(j);
    v.assign(prox === null ? tf.sub(v, g) : tf.sub(tf.add(tf.mul(v, prox.decay), prox.pull[j] as tf.Tensor), g));
  }
}

/**
 * Any architecture: gradients by tfjs autodiff (`tf.variableGrads`). The learning rate is
 * folded into the objective so the gradients come out already scaled: one op fewer per tensor.
 */
export const autodiffStep: SgdStep = (net, batch, lr, metrics, prox = null) => {
  tf.tidy(() => {
    const size = batch.x.shape[0];
    // Kept past variableGrads' inner tidy for the metrics, disposed below.
    const kept: { logits?: tf.Tensor2D; lossSum?: tf.Scalar } = {};
    const { grads } = tf.variableGrads(() => {
      const logits = net.forward(batch.x, true);
      const lossSum = crossEntropySum(tf.logSoftmax(logits), batch.oneHot);
      if (metrics !== null) {
        kept.logits = tf.keep(logits);
        kept.lossSum = tf.keep(lossSum);
      }
      return tf.mul(lossSum, lr / size);
    }, net.params);
    applyUpdate(net.params, (j) => grads[(net.params[j] as tf.Variable).name] as tf.Tensor, prox);
    if (metrics !== null && kept.logits !== undefined && kept.lossSum !== undefined) {
      metrics.add(kept.lossSum, kept.logits, batch.labels);
      kept.logits.dispose();
      kept.lossSum.dispose();
    }
  });
};

/**
 * Dense-only networks (relu hidden layers, linear output): the backward pass written out,
 * no tape. With softmax cross-entropy, dL/dlogits = (softmax - onehot) / batch; scaling it
 * by lr once scales every gradient. The first layer's input gradient is never computed.
 * learning/task/taskModel.test.ts checks TaskModel's dense path against it step by step.
 */
export const denseStep: SgdStep = (net, batch, lr, metrics, prox = null) => {
  tf.tidy(() => {
    const size = batch.x.shape[0];
    const layers = net.params.length / 2;
    const kernel = (i: number): tf.Tensor2D => net.params[2 * i] as tf.Tensor2D;
    const activation = (i: number): 'relu' | 'linear' => (i < layers - 1 ? 'relu' : 'linear');
    // acts[i] is the input of layer i, acts[layers] the logits.
    const acts: tf.Tensor2D[] = [batch.x];
    for (let i = 0; i < layers; i++) {
      acts.push(denseForward(acts[i] as tf.Tensor2D, kernel(i), net.params[2 * i + 1] as tf.Tensor1D, activation(i), net.options));
    }
    const logits = acts[layers] as tf.Tensor2D;
    const logProbs = tf.logSoftmax(logits);
    if (metrics !== null) metrics.add(crossEntropySum(logProbs, batch.oneHot), logits, batch.labels);
    let dy = tf.mul(tf.sub(tf.exp(logProbs), batch.oneHot), lr / size) as tf.Tensor2D;
    const grads: tf.Tensor[] = new Array<tf.Tensor>(net.params.length);
    for (let i = layers - 1; i >= 0; i--) {
      const g = denseBackward(acts[i] as tf.Tensor2D, kernel(i), acts[i + 1] as tf.Tensor2D, dy, activation(i), i > 0, net.options);
      grads[2 * i] = g.dW;
      grads[2 * i + 1] = g.db;
      if (g.dx !== null) dy = g.dx;
    }
    applyUpdate(net.params, (j) => grads[j] as tf.Tensor, prox);
  });
};
