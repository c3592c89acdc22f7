import * as tf from '@tensorflow/tfjs';

/**
 * Layer ops with hand-written gradients, for backends where tfjs's own are slow or missing.
 *
 * On wasm, tfjs runs a matMul on XNNPACK only when neither operand is transposed
 * (tfjs-backend-wasm `batch_mat_mul_impl.cc`, otherwise a naive loop), and XNNPACK packs
 * the second operand again whenever its tensor is new, which is every step for a weight
 * matrix being trained (11 ms for the 3136x512 kernel of the cnn, measured). So on wasm
 * every product here is arranged to have untransposed operands and a batch-sized second
 * operand. `Conv2DBackpropFilter` has no wasm kernel, and `Conv2DBackpropInput` is a slow
 * one; both are rewritten as plain convolutions.
 */
export interface LayerOpsOptions {
  /** Arrange matMuls for XNNPACK as above (wasm backend). */
  xnnpackMatMul: boolean;
}

export interface NetworkOptions extends LayerOpsOptions {
  /** Train through the layers of this file rather than tfjs's own gradients. */
  customGradients: boolean;
}

/**
 * What is fastest on the active backend. Native TensorFlow has good gradients of its own;
 * wasm needs the custom layers (see above); on cpu they replace a very slow convolution
 * filter gradient.
 */
export function networkOptionsForBackend(backend: string = tf.getBackend()): NetworkOptions {
  return { customGradients: backend !== 'tensorflow', xnnpackMatMul: backend === 'wasm' };
}

export interface DenseGrads {
  /** `null` when the input gradient was not asked for (the input is data). */
  dx: tf.Tensor2D | null;
  dW: tf.Tensor2D;
  db: tf.Tensor1D;
}

const t2 = (x: tf.Tensor2D): tf.Tensor2D => tf.transpose(x);

/** act(x W + b) for training. On wasm as (W^T x^T)^T so that x^T, not W, is the packed operand. */
export function denseForward(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, activation: 'relu' | 'linear', o: LayerOpsOptions): tf.Tensor2D {
  if (!o.xnnpackMatMul) return tf.fused.matMul({ a: x, b: w, bias: b, activation }) as tf.Tensor2D;
  const z = tf.add(t2(tf.matMul(t2(w), t2(x))), b) as tf.Tensor2D;
  return activation === 'relu' ? tf.relu(z) : z;
}

/**
 * Gradients of `out = act(x W + b)` given dL/dout: dz = dy * act'(z), where relu' is 1
 * exactly where `out` is positive; dW = x^T dz; db = column sums of dz; dx = dz W^T.
 */
export function denseBackward(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  out: tf.Tensor2D,
  dy: tf.Tensor2D,
  activation: 'relu' | 'linear',
  inputGrad: boolean,
  o: LayerOpsOptions,
): DenseGrads {
  const dz = activation === 'relu' ? (tf.mul(dy, tf.step(out)) as tf.Tensor2D) : dy;
  const db = tf.sum(dz, 0) as tf.Tensor1D;
  if (!o.xnnpackMatMul) {
    return { dx: inputGrad ? (tf.matMul(dz, w, false, true) as tf.Tensor2D) : null, dW: tf.matMul(x, dz, true, false) as tf.Tensor2D, db };
  }
  // dx = (W dz^T)^T: W is the unpacked operand, dz^T the packed one.
  return { dx: inputGrad ? t2(tf.matMul(w, t2(dz))) : null, dW: tf.matMul(t2(x), dz), db };
}

/** `denseForward` with `denseBackward` as its gradient, for tfjs autodiff. */
export function denseLayer(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  activation: 'relu' | 'linear',
  inputGrad: boolean,
  o: LayerOpsOptions,
): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, bIn, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const value = denseForward(xIn, wIn, bIn, activation, o);
    save([xIn, wIn, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws, out] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const g = denseBackward(xs, ws, out, dy as tf.Tensor2D, activation, inputGrad, o);
        return [g.dx ?? tf.zerosLike(xs), g.dW, g.db];
      },
    };
  });
  return op(x, w, b) as tf.Tensor2D;
}

/**
 * relu(conv2d(x, W, stride 1, 'same') + b), NHWC input, HWIO kernel of odd size.
 * dx is the 'same' convolution of dz with W flipped in space and its channels swapped.
 * dW is a convolution too: with the channels of the zero-padded input as the batch and its
 * batch as the channels, dW[i,j,c,k] = sum_{n,h,w} xpad[n,h+i,w+j,c] dz[n,h,w,k], that is
 * conv2d(xpad [C,H+p,W+p,N], dz [H,W,N,K], 'valid')[c,i,j,k].
 */
export function conv2dReluLayer(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, inputGrad: boolean): tf.Tensor4D {
  const [kh = 0, kw = 0] = w.shape;
  if (kh % 2 === 0 || kw % 2 === 0) throw new RangeError(`conv2dReluLayer: kernel ${kh}x${kw} is not of odd size`);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, bIn, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
    const value = tf.fused.conv2d({ x: xIn, filter: wIn, bias: bIn, strides: 1, pad: 'same', activation: 'relu' });
    save([xIn, wIn, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws, out] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const dz = tf.mul(dy, tf.step(out)) as tf.Tensor4D;
        const dx = inputGrad ? tf.conv2d(dz, flipSpatialSwapChannels(ws), 1, 'same') : tf.zerosLike(xs);
        const ph = (kh - 1) / 2;
        const pw = (kw - 1) / 2;
        const xPadded = tf.transpose(tf.pad(xs, [[0, 0], [ph, ph], [pw, pw], [0, 0]]), [3, 1, 2, 0]) as tf.Tensor4D;
        const dzAsFilter = tf.transpose(dz, [1, 2, 0, 3]) as tf.Tensor4D;
        const dW = tf.transpose(tf.conv2d(xPadded, dzAsFilter, 1, 'valid'), [1, 2, 0, 3]);
        return [dx, dW, tf.sum(dz, [0, 1, 2])];
      },
    };
  });
  return op(x, w, b) as tf.Tensor4D;
}

/**
 * W[kh-1-i, kw-1-j, o, c] from an HWIO kernel W[i, j, c, o]. The spatial flip is a product
 * with an anti-identity matrix (exact: one 1 per column) because wasm's Reverse kernel
 * takes 2 ms on the cnn's second kernel, the product 0.1 ms.
 */
function flipSpatialSwapChannels(w: tf.Tensor4D): tf.Tensor4D {
  const [kh = 0, kw = 0, ci = 0, co = 0] = w.shape;
  const k = kh * kw;
  const antiIdentity = new Float32Array(k * k);
  for (let i = 0; i < k; i++) antiIdentity[i * k + (k - 1 - i)] = 1;
  const spatialLast = tf.reshape(tf.transpose(w, [2, 3, 0, 1]), [ci * co, k]) as tf.Tensor2D;
  const flipped = tf.matMul(spatialLast, tf.tensor2d(antiIdentity, [k, k]));
  return tf.transpose(tf.reshape(flipped, [ci, co, kh, kw]), [2, 3, 1, 0]) as tf.Tensor4D;
}

/**
 * Non-overlapping k x k max pooling ('valid', sides divisible by k). Gradient: dy copied to
 * every position of its window that equals the window's maximum (wasm's MaxPoolGrad is
 * slow). Ties receive it more than once; after a relu the common tie is at 0, where the relu
 * gradient is 0 anyway.
 */
export function maxPoolLayer(x: tf.Tensor4D, k: number): tf.Tensor4D {
  const [n = 0, h = 0, w = 0, c = 0] = x.shape;
  if (h % k !== 0 || w % k !== 0) return tf.maxPool(x, k, k, 'valid');
  const upsample = (t: tf.Tensor4D): tf.Tensor4D =>
    tf.reshape(tf.mul(tf.reshape(t, [n, h / k, 1, w / k, 1, c]), tf.ones([1, 1, k, 1, k, 1])), [n, h, w, c]);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    const value = tf.maxPool(xIn, k, k, 'valid');
    save([xIn, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, pooled] = saved as [tf.Tensor4D, tf.Tensor4D];
        return tf.mul(tf.cast(tf.equal(xs, upsample(pooled)), 'float32'), upsample(dy as tf.Tensor4D));
      },
    };
  });
  return op(x) as tf.Tensor4D;
}
