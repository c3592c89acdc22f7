import { FedOpt, type FedOptOptions, type SecondMoment } from './fedOpt.js';

/**
 * Yogi's additive update: v_t = v_{t-1} - (1 - beta2) delta_t^2 sign(v_{t-1} - delta_t^2),
 * which changes v by at most (1 - beta2) delta^2 per step, however v compares (Zaheer et al. 2018).
 */
export const yogiMoment: SecondMoment = (v, d2, beta2) => v - (1 - beta2) * d2 * Math.sign(v - d2);

/** FedYogi (Reddi et al. 2021, Algorithm 2). Streaming; O(model) state across rounds. */
export class FedYogi extends FedOpt {
  constructor(options: Partial<FedOptOptions> = {}) {
    super('fedyogi', yogiMoment, options);
  }
}
