import { describe, expect, it } from 'vitest';
import { Rng } from '../../protocol/index.js';
import { parseStrategy } from './index.js';
import { relativeError, runRound, stepOf, type TestUpdate } from './testSupport.js';

const P = 400;

/**
 * A label-skewed round: 16 honest devices, each moving only its own quarter of the weights
 * (as on a shards:2 split, where an output row moves only on the devices holding its class),
 * and 4 devices sending -4 times their honest delta (the simulator's signflip).
 */
function skewedRound(): { updates: TestUpdate[]; honestMean: Float64Array } {
  const rng = new Rng(3);
  const deltas = Array.from({ length: 20 }, (_, k) => {
    const d = new Float32Array(P);
    for (let i = (k % 4) * (P / 4); i < ((k % 4) + 1) * (P / 4); i++) d[i] = 0.1 + 0.02 * rng.normal();
    return d;
  });
  const honestMean = new Float64Array(P).map((_, i) => deltas.slice(0, 16).reduce((s, d) => s + d[i]!, 0) / 16);
  const updates = deltas.map((d, k) => ({ id: `d${String(k).padStart(2, '0')}`, examples: 100, delta: k < 16 ? d : d.map((v) => -4 * v) }));
  return { updates, honestMean };
}

describe('centered clipping on a label-skewed round with 20% sign flippers', () => {
  it('follows the honest mean where the coordinate-wise median discards it', () => {
    // Prepare
    const { updates, honestMean } = skewedRound();
    const global = new Float32Array(P);
    const error = (spec: string): number => relativeError(stepOf(runRound(parseStrategy(spec), global, updates)!, global), honestMean);
    // Execute
    const median = error('median');
    const cclip = error('cclip:0.5:10');
    // Assert: per coordinate, 3 of 4 honest values are 0, so the median is about 0 (error ~1).
    expect(median).toBeGreaterThan(0.9);
    expect(cclip).toBeLessThan(0.5);
  });

  it('starts from the previous aggregate, so a second round of the same updates gets closer', () => {
    // Prepare
    const { updates, honestMean } = skewedRound();
    const global = new Float32Array(P);
    const s = parseStrategy('cclip:0.5:1');
    // Execute
    const first = relativeError(stepOf(runRound(s, global, updates, undefined, 1)!, global), honestMean);
    const second = relativeError(stepOf(runRound(s, global, updates, undefined, 2)!, global), honestMean);
    // Assert
    expect(second).toBeLessThan(first);
  });
});
