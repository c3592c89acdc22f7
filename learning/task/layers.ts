import * as tf from '@tensorflow/tfjs';
import type { Activation, Padding, RecurrentActivation, TaskLayer } from '../../protocol/task.js';
import { conv2dReluLayer, denseLayer, maxPoolLayer, type LayerOpsOptions } from '../layerOps.js';

/**
 * The forward pass of each layer kind in plain tfjs ops, with Keras's semantics and weight
 * layouts. With `custom`, through ops whose gradients exist and are fast on wasm and cpu
 * (layerOps.ts; wasm has no Conv2DBackpropFilter kernel at all).
 */
export interface LayerContext extends LayerOpsOptions {
  /** Training with hand-written gradients (wasm, cpu). */
  custom: boolean;
  /** Gradient of the layer's input needed (false for the first layer: its input is data). */
  inputGrad: boolean;
  /** Dropout masks for this step; `null` outside training. */
  dropoutMask: ((shape: number[], rate: number) => tf.Tensor) | null;
}

export function activate(x: tf.Tensor, a: Activation | RecurrentActivation): tf.Tensor {
  switch (a) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softmax':
      return tf.softmax(x);
    case 'hardSigmoid':
      // tfjs-layers' hard sigmoid (Keras 2's): clip(0.2 x + 0.5, 0, 1).
      return tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1);
  }
}

/**
 * One layer. `params` are its own tensors in layout order; `activation` overrides the layer's
 * own (the last layer is run linear when its logits are wanted).
 */
export function layerForward(layer: TaskLayer, h: tf.Tensor, params: tf.Tensor[], ctx: LayerContext, activation?: Activation): tf.Tensor {
  const [w, b] = params as [tf.Tensor, tf.Tensor | undefined];
  switch (layer.kind) {
    case 'dense': {
      const act = activation ?? layer.activation;
      const fusable = act === 'relu' || act === 'linear';
      if (ctx.custom && b !== undefined) {
        const z = denseLayer(h as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, fusable ? act : 'linear', ctx.inputGrad, ctx);
        return fusable ? z : activate(z, act);
      }
      if (fusable) return tf.fused.matMul({ a: h as tf.Tensor2D, b: w as tf.Tensor2D, bias: b, activation: act });
      return activate(b === undefined ? tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D) : tf.add(tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D), b), act);
    }
    case 'dropout':
      return ctx.dropoutMask === null || layer.rate === 0 ? h : tf.mul(h, ctx.dropoutMask(h.shape, layer.rate));
    case 'flatten':
      return h.rank > 2 ? tf.reshape(h, [h.shape[0] as number, -1]) : h;
    case 'conv1d': {
      // As a 2-D convolution over a [1, steps] image: the kernel [k, in, out] becomes [1, k, in, out].
      const [n = 0, steps = 0, channels = 0] = h.shape;
      const x4 = tf.reshape(h, [n, 1, steps, channels]) as tf.Tensor4D;
      const [k = 1, ci = 1, co = 1] = w.shape;
      const w4 = tf.reshape(w, [1, k, ci, co]) as tf.Tensor4D;
      const y = conv(x4, w4, b, [1, layer.strides], layer.padding, activation ?? layer.activation, ctx);
      return tf.reshape(y, [n, y.shape[2] as number, y.shape[3] as number]);
    }
    case 'conv2d':
      return conv(h as tf.Tensor4D, w as tf.Tensor4D, b, layer.strides as [number, number], layer.padding, activation ?? layer.activation, ctx);
    case 'maxPool': {
      if (h.rank === 3) {
        const [n = 0, steps = 0, channels = 0] = h.shape;
        const y = pool(tf.reshape(h, [n, 1, steps, channels]) as tf.Tensor4D, [1, layer.poolSize[0] as number], [1, layer.strides[0] as number], layer.padding, ctx);
        return tf.reshape(y, [n, y.shape[2], channels]);
      }
      return pool(h as tf.Tensor4D, layer.poolSize as [number, number], layer.strides as [number, number], layer.padding, ctx);
    }
    case 'gru':
      return gru(layer, h as tf.Tensor3D, params);
    case 'lstm':
      return lstm(layer, h as tf.Tensor3D, params);
  }
}

function conv(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor | undefined, strides: [number, number], padding: Padding, act: Activation, ctx: LayerContext): tf.Tensor {
  const [kh = 1, kw = 1] = w.shape;
  if (!ctx.custom) {
    if (act === 'relu' || act === 'linear') return tf.fused.conv2d({ x, filter: w, bias: b, strides, pad: padding, activation: act });
    const z = tf.conv2d(x, w, strides, padding);
    return activate(b === undefined ? z : tf.add(z, b), act);
  }
  // The zoo's cnn: the fastest path of layerOps.ts.
  if (act === 'relu' && b !== undefined && padding === 'same' && strides[0] === 1 && strides[1] === 1 && kh % 2 === 1 && kw % 2 === 1) {
    return conv2dReluLayer(x, w, b as tf.Tensor1D, ctx.inputGrad);
  }
  const z = conv2dOp(x, w, strides, padding, ctx.inputGrad);
  return activate(b === undefined ? z : tf.add(z, b), act);
}

/**
 * tf.conv2d with gradients wasm can compute. dx: tfjs's Conv2DBackpropInput. dW[i,j,c,k] =
 * sum_{n,h,w} xpad[n, h*sh+i, w*sw+j, c] dy[n,h,w,k]: a convolution of the padded input with
 * its channels as the batch and the batch as channels, by dy as the filter dilated by the
 * strides, cropped to the kernel size.
 */
export function conv2dOp(x: tf.Tensor4D, w: tf.Tensor4D, strides: [number, number], padding: Padding, inputGrad: boolean): tf.Tensor4D {
  const [kh = 1, kw = 1, , ko = 1] = w.shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: tf.conv2d(xIn, wIn, strides, padding),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        const [, h = 0, wd = 0, c = 0] = xs.shape;
        const [, oh = 0, ow = 0] = g.shape;
        const padH = Math.max((oh - 1) * strides[0] + kh - h, 0);
        const padW = Math.max((ow - 1) * strides[1] + kw - wd, 0);
        const [top, left] = padding === 'same' ? [Math.floor(padH / 2), Math.floor(padW / 2)] : [0, 0];
        const [bottom, right] = padding === 'same' ? [padH - top, padW - left] : [0, 0];
        const xPadded = tf.transpose(tf.pad(xs, [[0, 0], [top, bottom], [left, right], [0, 0]]), [3, 1, 2, 0]) as tf.Tensor4D;
        const dyAsFilter = tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D;
        const full = tf.conv2d(xPadded, dyAsFilter, 1, 'valid', 'NHWC', strides);
        const dW = tf.transpose(tf.slice(full, [0, 0, 0, 0], [c, kh, kw, ko]), [1, 2, 0, 3]);
        const dx = inputGrad ? tf.conv2dTranspose(g, ws, xs.shape as [number, number, number, number], strides, padding) : tf.zerosLike(xs);
        return [dx, dW];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

function pool(x: tf.Tensor4D, size: [number, number], strides: [number, number], padding: Padding, ctx: LayerContext): tf.Tensor4D {
  const [, h = 0, w = 0] = x.shape;
  const square = size[0] === size[1] && strides[0] === size[0] && strides[1] === size[1];
  if (ctx.custom && square && padding === 'valid' && h % size[0] === 0 && w % size[0] === 0) return maxPoolLayer(x, size[0]);
  return tf.maxPool(x, size, strides, padding);
}

/** Splits the last axis of `t` into `n` equal parts. */
const split = (t: tf.Tensor, n: number): tf.Tensor[] => tf.split(t, n, t.rank - 1);

/** x W (+ b) for every step at once: [batch, steps, gates * units], then one [batch, gates*units] per step. */
function inputProjection(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor | undefined): tf.Tensor[] {
  const [n = 0, steps = 0, features = 0] = x.shape;
  let xw = tf.matMul(tf.reshape(x, [n * steps, features]) as tf.Tensor2D, w as tf.Tensor2D) as tf.Tensor;
  if (b !== undefined) xw = tf.add(xw, b);
  return tf.unstack(tf.reshape(xw, [n, steps, w.shape[1] as number]), 1);
}

/** Keras's GRU: tfjs's (reset before the recurrent product) or, with `resetAfter`, Keras 2's default. */
function gru(layer: Extract<TaskLayer, { kind: 'gru' }>, x: tf.Tensor3D, params: tf.Tensor[]): tf.Tensor {
  const [w, u, b] = params as [tf.Tensor2D, tf.Tensor2D, tf.Tensor | undefined];
  const units = layer.units;
  const [inputBias, recurrentBias] = b !== undefined && layer.resetAfter ? tf.unstack(b) : [b, undefined];
  const xs = inputProjection(x, w, inputBias);
  const [uzr, uh] = tf.split(u, [2 * units, units], 1) as [tf.Tensor2D, tf.Tensor2D];
  let h: tf.Tensor2D = tf.zeros([x.shape[0], units]);
  const outputs: tf.Tensor[] = [];
  for (const xt of xs) {
    const [xz, xr, xh] = split(xt, 3) as [tf.Tensor, tf.Tensor, tf.Tensor];
    let hh: tf.Tensor;
    let z: tf.Tensor;
    if (layer.resetAfter) {
      let inner: tf.Tensor = tf.matMul(h, u);
      if (recurrentBias !== undefined) inner = tf.add(inner, recurrentBias);
      const [rz, rr, rh] = split(inner, 3) as [tf.Tensor, tf.Tensor, tf.Tensor];
      z = activate(tf.add(xz, rz), layer.recurrentActivation);
      const r = activate(tf.add(xr, rr), layer.recurrentActivation);
      hh = activate(tf.add(xh, tf.mul(r, rh)), layer.activation);
    } else {
      const [rz, rr] = split(tf.matMul(h, uzr), 2) as [tf.Tensor, tf.Tensor];
      z = activate(tf.add(xz, rz), layer.recurrentActivation);
      const r = activate(tf.add(xr, rr), layer.recurrentActivation);
      hh = activate(tf.add(xh, tf.matMul(tf.mul(r, h) as tf.Tensor2D, uh)), layer.activation);
    }
    h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), hh)) as tf.Tensor2D;
    if (layer.returnSequences) outputs.push(h);
  }
  return layer.returnSequences ? tf.stack(outputs, 1) : h;
}

/** Keras's LSTM: gates i, f, c, o. */
function lstm(layer: Extract<TaskLayer, { kind: 'lstm' }>, x: tf.Tensor3D, params: tf.Tensor[]): tf.Tensor {
  const [w, u, b] = params as [tf.Tensor2D, tf.Tensor2D, tf.Tensor | undefined];
  const xs = inputProjection(x, w, b);
  let h: tf.Tensor2D = tf.zeros([x.shape[0], layer.units]);
  let c: tf.Tensor = tf.zeros([x.shape[0], layer.units]);
  const outputs: tf.Tensor[] = [];
  for (const xt of xs) {
    const [zi, zf, zc, zo] = split(tf.add(xt, tf.matMul(h, u)), 4) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const i = activate(zi, layer.recurrentActivation);
    const f = activate(zf, layer.recurrentActivation);
    c = tf.add(tf.mul(f, c), tf.mul(i, activate(zc, layer.activation)));
    h = tf.mul(activate(zo, layer.recurrentActivation), activate(c, layer.activation)) as tf.Tensor2D;
    if (layer.returnSequences) outputs.push(h);
  }
  return layer.returnSequences ? tf.stack(outputs, 1) : h;
}
