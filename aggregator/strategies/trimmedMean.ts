import { OptionsError } from '../../protocol/index.js';
import { trimmedMean } from './aggregate.js';
import { AggregatingStrategy } from './aggregatingStrategy.js';

/**
 * Flower's `FedTrimmedAvg` default. Yin et al. need beta at least the fraction of Byzantine
 * devices; with floor(beta * n) dropped per end, beta = 0.2 trims nothing below 5 devices.
 */
export const DEFAULT_TRIM_BETA = 0.2;

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per parameter, drop the floor(beta * n)
 * largest and smallest deltas and average the rest. Unweighted, like the median.
 * Buffered: n decoded float32 deltas (4 n P bytes) until `finish`, plus O(P).
 */
export class TrimmedMean extends AggregatingStrategy {
  constructor(readonly beta: number = DEFAULT_TRIM_BETA) {
    if (!(beta >= 0 && beta < 0.5)) throw new OptionsError('strategy', `trimmed-mean: beta must be in [0, 0.5), got ${beta}`);
    super({ name: `trimmed-mean:${beta}`, reduction: { kind: 'buffered', reduce: (updates) => trimmedMean(updates.map((u) => u.delta), beta) } });
  }
}
