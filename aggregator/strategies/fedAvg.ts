import { applyDelta, scale } from './aggregate.js';
import type { FitResult, RoundAggregation, Strategy } from './strategy.js';

/**
 * FedAvg (McMahan et al. 2017): the mean of the deltas weighted by example count, added
 * to the global. Streaming: each update is decoded straight into one float64 sum, so a
 * round needs O(model) memory whatever the number of devices.
 */
export class FedAvg implements Strategy {
  readonly name = 'fedavg';

  beginRound(_round: number, global: Float32Array): RoundAggregation {
    const sum = new Float64Array(global.length);
    let totalExamples = 0;
    return {
      add(result: FitResult): void {
        result.codec.accumulate(result.delta, global.length, sum, result.numExamples);
        totalExamples += result.numExamples;
      },
      finish(): Float32Array | null {
        if (totalExamples === 0) return null;
        return applyDelta(global, scale(sum, 1 / totalExamples));
      },
    };
  }
}
