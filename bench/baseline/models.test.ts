import { describe, expect, it } from 'vitest';
import { initialWeights } from './initialWeights.js';
import { isModelName, MODEL_NAMES, modelInfo, paramSpecs } from './models.js';

describe('the model zoo', () => {
  it('has the parameter counts of the papers', () => {
    // Prepare
    const expected = { mlp: 101_770, '2nn': 199_210, cnn: 1_663_370 };
    // Execute
    const counts = Object.fromEntries(MODEL_NAMES.map((name) => [name, modelInfo(name).paramCount]));
    // Assert
    expect(counts).toEqual(expected);
  });

  it('describes every model as 28x28x1 images in ten classes', () => {
    for (const name of MODEL_NAMES) {
      // Execute
      const info = modelInfo(name);
      // Assert
      expect(info).toMatchObject({ name, inputShape: [28, 28, 1], numClasses: 10 });
    }
  });

  it('recognises model names and nothing else', () => {
    // Assert
    expect(MODEL_NAMES.every(isModelName)).toBe(true);
    expect(isModelName('resnet')).toBe(false);
    expect(isModelName('')).toBe(false);
  });
});

describe('initial weights', () => {
  it('are as long as the model and the same for the same seed', () => {
    for (const name of MODEL_NAMES) {
      // Execute
      const a = initialWeights(name, 42);
      const b = initialWeights(name, 42);
      // Assert
      expect(a.length).toBe(modelInfo(name).paramCount);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    }
  });

  it('differ between seeds', () => {
    // Execute
    const a = initialWeights('mlp', 1);
    const b = initialWeights('mlp', 2);
    // Assert
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(false);
  });

  it('are Glorot-uniform kernels and zero biases', () => {
    // Prepare
    const weights = initialWeights('2nn', 7);
    let offset = 0;
    for (const p of paramSpecs('2nn')) {
      // Execute
      const values = weights.subarray(offset, offset + p.size);
      offset += p.size;
      // Assert
      if (p.role === 'bias') {
        expect(values.every((v) => v === 0)).toBe(true);
      } else {
        const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
        const max = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(max).toBeLessThanOrEqual(limit);
        expect(max).toBeGreaterThan(0.95 * limit);
        // The variance of U(-l, l) is l^2 / 3.
        const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
        expect(variance).toBeCloseTo((limit * limit) / 3, 3);
      }
    }
  });
});
