import { OptionsError } from '../../protocol/index.js';
import { AggregatingStrategy, STREAMING_MEAN } from './aggregatingStrategy.js';

/**
 * FedProx's default mu: the middle of Li et al.'s grid {0.001, 0.01, 0.1, 1} (their best on
 * MNIST, with 90% stragglers doing partial work, was 1; without stragglers a large mu mostly
 * slows local progress).
 */
export const DEFAULT_PROXIMAL_MU = 0.01;

/**
 * FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks"): the server
 * aggregates exactly as FedAvg (streaming, O(model) memory); devices add the proximal term
 * (mu / 2) ||w - w_global||^2 to their local objective, so `proximalMu` must reach them in
 * the round config.
 */
export class FedProx extends AggregatingStrategy {
  constructor(readonly mu: number = DEFAULT_PROXIMAL_MU) {
    if (!(Number.isFinite(mu) && mu >= 0)) throw new OptionsError('strategy', `fedprox: mu must be a finite number >= 0, got ${mu}`);
    super({ name: `fedprox:${mu}`, reduction: STREAMING_MEAN, proximalMu: mu });
  }
}
