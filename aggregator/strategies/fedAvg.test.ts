import { describe, expect, it } from 'vitest';
import { Rng, f32Codec, int8Codec } from '../../protocol/index.js';
import { FedAvg } from './fedAvg.js';
import { weightedMean } from './aggregate.js';

describe('FedAvg', () => {
  it('equals the hand-computed example-weighted mean of the deltas, added to the global', () => {
    // Prepare: global [1, 2, 3]; device a (1 example) delta [3, 0, -3], device b (3 examples) delta [-1, 4, 1].
    const global = new Float32Array([1, 2, 3]);
    const aggregation = new FedAvg().beginRound(1, global);
    // Execute
    aggregation.add({ deviceId: 'a', numExamples: 1, codec: f32Codec, delta: f32Codec.encode(new Float32Array([3, 0, -3]), new Rng(0)) });
    aggregation.add({ deviceId: 'b', numExamples: 3, codec: f32Codec, delta: f32Codec.encode(new Float32Array([-1, 4, 1]), new Rng(0)) });
    const next = aggregation.finish([]);
    // Assert: mean delta = ([3,0,-3] + 3*[-1,4,1]) / 4 = [0, 3, 0]
    expect(Array.from(next!)).toEqual([1, 5, 3]);
  });

  it('keeps the global (returns null) when no update arrived', () => {
    expect(new FedAvg().beginRound(1, new Float32Array(4)).finish(['a'])).toBeNull();
  });

  it('does not depend on the order updates arrive in', () => {
    const rng = new Rng(1);
    const global = new Float32Array(1000).map(() => rng.normal());
    const deltas = [0, 1, 2, 3].map(() => new Float32Array(1000).map(() => rng.normal() * 0.01));
    const sizes = [100, 250, 600, 50];
    const codec = int8Codec();
    const encoded = deltas.map((d, k) => codec.encode(d, new Rng(k)));
    const run = (order: number[]): Float32Array => {
      const agg = new FedAvg().beginRound(1, global);
      for (const k of order) agg.add({ deviceId: `d${k}`, numExamples: sizes[k]!, codec, delta: encoded[k]! });
      return agg.finish([])!;
    };
    expect(run([0, 1, 2, 3])).toEqual(run([3, 1, 0, 2]));
  });

  it('matches the pure weightedMean on decoded updates', () => {
    const rng = new Rng(2);
    const global = new Float32Array(500);
    const deltas = [0, 1, 2].map(() => new Float32Array(500).map(() => rng.normal()));
    const agg = new FedAvg().beginRound(1, global);
    deltas.forEach((d, k) => agg.add({ deviceId: `d${k}`, numExamples: k + 1, codec: f32Codec, delta: f32Codec.encode(d, rng) }));
    const expected = weightedMean(deltas, [1, 2, 3]);
    const got = agg.finish([])!;
    for (let i = 0; i < 500; i++) expect(got[i]).toBeCloseTo(expected[i]!, 5);
  });
});
