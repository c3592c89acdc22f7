import { describe, expect, it } from 'vitest';
import { DecodeError, Rng, f32Codec, int8Codec } from '../../protocol/index.js';
import { AdaptiveNormBound, parseStrategy } from './index.js';
import { runRound, stepOf } from './testSupport.js';

const zeros = (n: number): Float32Array => new Float32Array(n);

describe('the adaptive norm bound', () => {
  it('bounds the first round by the median of its own updates: one long update moves FedAvg no further than 4 x the median', () => {
    // Prepare: norms 1 (a), 2 (b), 1e6 (x): median 2, bound 8.
    const s = new AdaptiveNormBound(parseStrategy('fedavg'));
    // Execute
    const next = runRound(s, zeros(2), [
      { id: 'a', examples: 1, delta: [1, 0] },
      { id: 'b', examples: 1, delta: [0, 2] },
      { id: 'x', examples: 1, delta: [1e6, 0] },
    ])!;
    // Assert: x is scaled to (8, 0); the mean is (1 + 8, 2) / 3.
    expect(next[0]).toBeCloseTo(3, 5);
    expect(next[1]).toBeCloseTo(2 / 3, 5);
    expect(s.last).toEqual({ bound: 8, clipped: 1, longest: 1e6 });
  });

  it('after the warm-up bounds each update as it arrives by 4 x the median of the accepted norms', () => {
    // Prepare: ten rounds of one update of norm 0.5 (warm-up 10 norms).
    const s = new AdaptiveNormBound(parseStrategy('fedavg'));
    for (let r = 1; r <= 10; r++) runRound(s, zeros(2), [{ id: 'a', examples: 1, delta: [0.3, 0.4] }], f32Codec, r);
    // Execute: alone, an update of norm 50.
    const step = stepOf(runRound(s, zeros(2), [{ id: 'x', examples: 1, delta: [30, 40] }], f32Codec, 11)!, zeros(2));
    // Assert: scaled to norm 2, as alone it would not be in the first round.
    expect(s.bound).toBeCloseTo(2, 6);
    expect(step[0]).toBeCloseTo(1.2, 5);
    expect(step[1]).toBeCloseTo(1.6, 5);
  });

  it('leaves updates within the bound exactly as the inner strategy would have them', () => {
    const updates = [
      { id: 'a', examples: 3, delta: [0.1, -0.2, 0.3] },
      { id: 'b', examples: 1, delta: [0.2, 0.1, -0.1] },
    ];
    for (const spec of ['fedavg', 'median', 'fedavgm:0.9:1']) {
      expect(runRound(new AdaptiveNormBound(parseStrategy(spec)), zeros(3), updates)).toEqual(runRound(parseStrategy(spec), zeros(3), updates));
    }
  });

  it('refuses an update that decodes past float32 (DecodeError), and aggregates as if it never came', () => {
    // Prepare: a valid int8 encoding whose scale is the largest float32 (values decode to infinity).
    const bytes = int8Codec().encode(new Float32Array(4).fill(1), new Rng(0));
    // After the 8-byte header: the chunk size (u32), then the one chunk's scale.
    new DataView(bytes.buffer, bytes.byteOffset).setFloat32(12, 3.4028234663852886e38, true);
    const aggregation = new AdaptiveNormBound(parseStrategy('fedavg')).beginRound(1, zeros(4));
    // Execute, Assert
    expect(() => aggregation.add({ deviceId: 'x', numExamples: 1, codec: int8Codec(), delta: bytes })).toThrow(DecodeError);
    aggregation.add({ deviceId: 'a', numExamples: 1, codec: f32Codec, delta: f32Codec.encode(new Float32Array([1, 0, 0, 0]), new Rng(0)) });
    expect(Array.from(aggregation.finish([])!)).toEqual([1, 0, 0, 0]);
  });

  it('keeps its norms with the inner state, and loading the state saved before a round undoes that round', () => {
    // Prepare: momentum inside, one round done.
    const s = new AdaptiveNormBound(parseStrategy('fedavgm:0.9:1'));
    runRound(s, zeros(2), [{ id: 'a', examples: 1, delta: [1, 0] }], f32Codec, 1);
    const before = s.saveState();
    // Execute: a second round, then its state taken back.
    runRound(s, zeros(2), [{ id: 'a', examples: 1, delta: [0, 5] }], f32Codec, 2);
    s.loadState(before);
    // Assert: the same state as before the second round, names of the inner strategy untouched.
    expect(Object.keys(before).sort()).toEqual(['influence.norms', 'velocity']);
    expect(s.saveState()).toEqual(before);
    s.loadState({});
    expect(s.saveState()).toEqual({});
  });
});
