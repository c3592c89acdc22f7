import { AggregatingStrategy, STREAMING_MEAN } from './aggregatingStrategy.js';

/**
 * FedAvg (McMahan et al. 2017): the mean of the deltas weighted by example count, added
 * to the global. Streaming: each update is decoded straight into one float64 sum, so a
 * round needs O(model) memory whatever the number of devices.
 */
export class FedAvg extends AggregatingStrategy {
  constructor() {
    super({ name: 'fedavg', reduction: STREAMING_MEAN });
  }
}
