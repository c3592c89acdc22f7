import { FedOpt, type FedOptOptions, type SecondMoment } from './fedOpt.js';

/** Adagrad's accumulator: v_t = v_{t-1} + delta_t^2 (beta2 unused). */
export const adagradMoment: SecondMoment = (v, d2) => v + d2;

/** FedAdagrad (Reddi et al. 2021, Algorithm 2). Streaming; O(model) state across rounds. */
export class FedAdagrad extends FedOpt {
  constructor(options: Partial<Omit<FedOptOptions, 'beta2'>> = {}) {
    super('fedadagrad', adagradMoment, options);
  }
}
