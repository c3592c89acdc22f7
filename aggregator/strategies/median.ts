import { coordinateMedian } from './aggregate.js';
import { AggregatingStrategy } from './aggregatingStrategy.js';

/**
 * Coordinate-wise median (Yin et al. 2018, "Byzantine-Robust Distributed Learning: Towards
 * Optimal Statistical Rates"): each parameter moves by the median of the devices' deltas.
 * Unweighted: example counts are ignored, so a device cannot buy influence by claiming many.
 * Buffered: n decoded float32 deltas (4 n P bytes) until `finish`, plus O(P).
 */
export class Median extends AggregatingStrategy {
  constructor() {
    super({ name: 'median', reduction: { kind: 'buffered', reduce: (updates) => coordinateMedian(updates.map((u) => u.delta)) } });
  }
}
