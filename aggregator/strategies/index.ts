export type { FitResult, RoundAggregation, Strategy } from './strategy.js';
export { FedAvg } from './fedAvg.js';
export { weightedMean, applyDelta } from './aggregate.js';
