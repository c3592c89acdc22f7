import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import { currentBackend, initBackend, type BackendName } from './index.js';
import { conv2dReluLayer, denseLayer, maxPoolLayer } from './layerOps.js';

// Vitest runs each test file in its own process, so this file starts with no backend set.

describe('backend choice', () => {
  it('rejects an unknown backend and sets none', async () => {
    // Execute, Assert
    await expect(initBackend('gpu' as BackendName)).rejects.toThrow(OptionsError);
    expect(currentBackend()).toBeNull();
  });

  it.skipIf(tfjsNodeInstalled())('fails with OptionsError when asked for tfjs-node that is not installed', async () => {
    // Execute, Assert
    await expect(initBackend('tensorflow')).rejects.toThrow(OptionsError);
    expect(currentBackend()).toBeNull();
  });

  it('sets the cpu backend when asked, and keeps it', async () => {
    // Execute
    const chosen = await initBackend('cpu');
    const later = await initBackend('wasm');
    // Assert
    expect(chosen).toBe('cpu');
    expect(later).toBe('cpu');
    expect(currentBackend()).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });
});

function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/** Gradients of sum(f(inputs) * weights) by tfjs autodiff; weights make every output count differently. */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): Float32Array[] {
  return tf.tidy(() => {
    const probe = tf.randomNormal(f(...inputs).shape, 0, 1, 'float32', 3);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)))(inputs);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

function expectClose(actual: Float32Array[], expected: Float32Array[]): void {
  expect(actual.length).toBe(expected.length);
  for (const [i, e] of expected.entries()) {
    const a = actual[i] as Float32Array;
    let max = 0;
    for (let j = 0; j < e.length; j++) max = Math.max(max, Math.abs((a[j] as number) - (e[j] as number)));
    expect(max).toBeLessThan(1e-4);
  }
}

// Compared with tfjs's own gradients on cpu, the one backend that has all of them.
describe('hand-written layer gradients', () => {
  it('match tfjs for a dense relu layer, in both matMul arrangements', async () => {
    // Prepare
    await initBackend('cpu');
    const x = tf.randomNormal([6, 7], 0, 1, 'float32', 1);
    const w = tf.randomNormal([7, 5], 0, 1, 'float32', 2);
    const b = tf.randomNormal([5], 0, 1, 'float32', 4);
    const builtin = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor): tf.Tensor => tf.relu(tf.add(tf.matMul(xs, ws), bs));
    // Execute
    const expected = gradsOf(builtin, [x, w, b]);
    const results = [false, true].map((xnnpackMatMul) =>
      gradsOf((xs, ws, bs) => denseLayer(xs as tf.Tensor2D, ws as tf.Tensor2D, bs as tf.Tensor1D, 'relu', true, { xnnpackMatMul }), [x, w, b]),
    );
    // Assert
    for (const actual of results) expectClose(actual, expected);
  });

  it('match tfjs for a same-padded convolution with relu', async () => {
    // Prepare
    await initBackend('cpu');
    const x = tf.randomNormal([2, 6, 7, 3], 0, 1, 'float32', 1);
    const w = tf.randomNormal([5, 5, 3, 4], 0, 1, 'float32', 2);
    const b = tf.randomNormal([4], 0, 1, 'float32', 4);
    const builtin = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor): tf.Tensor =>
      tf.relu(tf.add(tf.conv2d(xs as tf.Tensor4D, ws as tf.Tensor4D, 1, 'same'), bs));
    // Execute
    const expected = gradsOf(builtin, [x, w, b]);
    const actual = gradsOf((xs, ws, bs) => conv2dReluLayer(xs as tf.Tensor4D, ws as tf.Tensor4D, bs as tf.Tensor1D, true), [x, w, b]);
    // Assert
    expectClose(actual, expected);
  });

  it('match tfjs for 2x2 max pooling', async () => {
    // Prepare
    await initBackend('cpu');
    const x = tf.randomNormal([2, 6, 4, 3], 0, 1, 'float32', 1);
    // Execute
    const expected = gradsOf((xs) => tf.maxPool(xs as tf.Tensor4D, 2, 2, 'valid'), [x]);
    const actual = gradsOf((xs) => maxPoolLayer(xs as tf.Tensor4D, 2), [x]);
    // Assert
    expectClose(actual, expected);
  });
});
