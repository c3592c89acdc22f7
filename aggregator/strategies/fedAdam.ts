import { FedOpt, type FedOptOptions, type SecondMoment } from './fedOpt.js';

/** Adam's moving average: v_t = beta2 v_{t-1} + (1 - beta2) delta_t^2 (no bias correction, as in the paper). */
export const adamMoment: SecondMoment = (v, d2, beta2) => beta2 * v + (1 - beta2) * d2;

/** FedAdam (Reddi et al. 2021, Algorithm 2). Streaming; O(model) state across rounds. */
export class FedAdam extends FedOpt {
  constructor(options: Partial<FedOptOptions> = {}) {
    super('fedadam', adamMoment, options);
  }
}
