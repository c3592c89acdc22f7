import { beforeAll, describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import { labelHistogram, loadMnist, partition, parsePartition } from './index.js';

let labels: Uint8Array;
let global: number[];
beforeAll(async () => {
  labels = (await loadMnist()).train.y;
  global = labelHistogram(labels, Uint32Array.from({ length: labels.length }, (_, i) => i)).map((c) => c / labels.length);
});

function distinctLabels(part: Uint32Array): number {
  return labelHistogram(labels, part).filter((c) => c > 0).length;
}

/** Total-variation distance between a client's label distribution and the global one. */
function skew(part: Uint32Array): number {
  const counts = labelHistogram(labels, part);
  return 0.5 * counts.reduce((sum, c, k) => sum + Math.abs(c / part.length - (global[k] as number)), 0);
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1] as number;
}

describe('iid partition', () => {
  it('gives each client a near-equal share with all 10 digits in near-global proportions', () => {
    // Execute
    const parts = partition(labels, 100, parsePartition('iid'), 1);

    // Assert
    expect(parts.every((p) => p.length === 600)).toBe(true);
    expect(parts.every((p) => distinctLabels(p) === 10)).toBe(true);
    expect(Math.max(...parts.map(skew))).toBeLessThan(0.15);
  });

  it('splits sizes that do not divide evenly into parts differing by at most 1', () => {
    // Execute
    const sizes = partition(labels, 7, parsePartition('iid'), 1).map((p) => p.length);

    // Assert
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });
});

describe('shards partition (McMahan et al. 2017)', () => {
  it('gives 100 clients 600 examples each, mostly of at most 2 digits', () => {
    // Execute
    const parts = partition(labels, 100, parsePartition('shards:2'), 1);

    // Assert: two 300-example shards each; a shard straddling a label boundary adds a digit.
    const distinct = parts.map(distinctLabels);
    expect(parts.every((p) => p.length === 600)).toBe(true);
    expect(median(distinct)).toBeLessThanOrEqual(2);
    expect(Math.max(...distinct)).toBeLessThanOrEqual(4);
    expect(distinct.filter((d) => d <= 2).length).toBeGreaterThanOrEqual(80);
  });

  it('gives 20 clients 3,000 examples each of at most 4 digits', () => {
    // Execute
    const parts = partition(labels, 20, parsePartition('shards:2'), 1);

    // Assert
    const distinct = parts.map(distinctLabels);
    expect(parts.every((p) => p.length === 3000)).toBe(true);
    expect(median(distinct)).toBeLessThanOrEqual(3);
    expect(Math.max(...distinct)).toBeLessThanOrEqual(4);
  });
});

describe('dirichlet partition (Hsu et al. 2019)', () => {
  it('is far more skewed at alpha 0.1 than at alpha 100', () => {
    // Execute
    const sharp = partition(labels, 20, parsePartition('dirichlet:0.1'), 1);
    const flat = partition(labels, 20, parsePartition('dirichlet:100'), 1);

    // Assert
    const sharpSkew = mean(sharp.map(skew));
    const flatSkew = mean(flat.map(skew));
    expect(flatSkew).toBeLessThan(0.1);
    expect(sharpSkew).toBeGreaterThan(0.5);
    expect(sharpSkew).toBeGreaterThan(5 * flatSkew);
  });

  it('gives every client at least 10 examples even at alpha 0.1 with 100 clients', () => {
    // Execute
    const parts = partition(labels, 100, parsePartition('dirichlet:0.1'), 1);

    // Assert
    expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(10);
  });

  it('gives up with a clear error when no draw can give every client its minimum', () => {
    // Prepare: 30 examples for 30 clients, each needing one; at tiny alpha one client takes a whole class.
    const tiny = Uint8Array.from({ length: 30 }, (_, i) => i % 3);

    // Execute
    const attempt = (): unknown => partition(tiny, 30, parsePartition('dirichlet:0.01'), 1);

    // Assert
    expect(attempt).toThrow(OptionsError);
    expect(attempt).toThrow(/fewer than 1 of 30 examples .* raise alpha or use fewer clients/);
  });
});
