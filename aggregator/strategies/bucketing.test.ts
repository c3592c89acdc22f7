import { describe, expect, it } from 'vitest';
import { Rng, f32Codec } from '../../protocol/index.js';
import { parseStrategy } from './registry.js';

const P = 400;

/** Honest deltas as on a label-skewed split: each device moves only its own quarter of the weights. */
function heterogeneousHonest(n: number, rng: Rng): Float32Array[] {
  return Array.from({ length: n }, (_, k) => {
    const d = new Float32Array(P);
    const part = k % 4;
    for (let i = part * (P / 4); i < (part + 1) * (P / 4); i++) d[i] = 0.1 + 0.02 * rng.normal();
    return d;
  });
}

function step(spec: string, deltas: Float32Array[]): Float32Array {
  const aggregation = parseStrategy(spec).beginRound(1, new Float32Array(P));
  deltas.forEach((d, k) => aggregation.add({ deviceId: `d${String(k).padStart(2, '0')}`, numExamples: 100, codec: f32Codec, delta: f32Codec.encode(d, new Rng(0)) }));
  return aggregation.finish([])!;
}

function relativeError(x: Float32Array, target: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < P; i++) {
    num += (x[i]! - target[i]!) ** 2;
    den += target[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('bucketing before a robust statistic', () => {
  it('keeps coordinate-wise median close to the honest mean on heterogeneous updates, where plain median is not', () => {
    // Prepare: 16 honest devices, each moving a quarter of the model; the honest mean moves all of it by 0.025.
    const honest = heterogeneousHonest(16, new Rng(1));
    const honestMean = new Float32Array(P).map((_, i) => honest.reduce((s, d) => s + d[i]!, 0) / honest.length);
    // Execute
    const median = relativeError(step('median', honest), honestMean);
    const bucketed = relativeError(step('bucket:4+median', honest), honestMean);
    // Assert: the median of sparse, disagreeing updates is zero almost everywhere; bucket means agree.
    expect(median).toBeGreaterThan(0.9);
    expect(bucketed).toBeLessThan(0.5);
  });

  it('names itself canonically and refuses bad sizes', () => {
    expect(parseStrategy('bucket:2+trimmed-mean').name).toBe('bucket:2+trimmed-mean:0.2');
    expect(() => parseStrategy('bucket:0+median')).toThrow(/bucket size/);
    expect(() => parseStrategy('bucket:2')).toThrow(/bucket:S\+SPEC/);
    expect(() => parseStrategy('bucket:2+nope')).toThrow(/unknown strategy/);
  });
});
