export type { FitResult, RoundAggregation, Stateful, Strategy, StrategyState } from './strategy.js';
export {
  AggregatingStrategy,
  PLAIN_STEP,
  STREAMING_MEAN,
  type BufferedReduce,
  type DecodedUpdate,
  type Reduction,
  type ServerUpdate,
  type StrategyOptions,
} from './aggregatingStrategy.js';
export { FedAvg } from './fedAvg.js';
export { FedProx, DEFAULT_PROXIMAL_MU } from './fedProx.js';
export { FedAvgM, ServerMomentum, defaultFedAvgMOptions, DEFAULT_FEDAVGM_BETA, DEFAULT_FEDAVGM_LR, type FedAvgMOptions } from './fedAvgM.js';
export {
  FedOpt,
  AdaptiveServer,
  defaultFedOptOptions,
  DEFAULT_FEDOPT_ETA,
  DEFAULT_FEDOPT_TAU,
  DEFAULT_FEDOPT_BETA1,
  DEFAULT_FEDOPT_BETA2,
  type FedOptName,
  type FedOptOptions,
  type SecondMoment,
} from './fedOpt.js';
export { FedAdagrad, adagradMoment } from './fedAdagrad.js';
export { FedAdam, adamMoment } from './fedAdam.js';
export { FedYogi, yogiMoment } from './fedYogi.js';
export { Median } from './median.js';
export { TrimmedMean, DEFAULT_TRIM_BETA } from './trimmedMean.js';
export { Krum, MultiKrum, DEFAULT_KRUM_F } from './krum.js';
export { NormBound } from './normBound.js';
export {
  AdaptiveNormBound,
  DEFAULT_INFLUENCE_MULTIPLIER,
  DEFAULT_INFLUENCE_WINDOW,
  DEFAULT_INFLUENCE_WARMUP,
  type AdaptiveNormBoundOptions,
  type InfluenceRound,
} from './adaptiveNormBound.js';
export { DpFedAvg, dpStrategyRefusal, DP_MEAN_ID } from './dpFedAvg.js';
export { Bucketing } from './bucketing.js';
export { CenteredClipping, DEFAULT_CCLIP_ITERATIONS } from './centeredClipping.js';
export { WithServerMomentum } from './serverMomentum.js';
export { parseStrategy, STRATEGY_SPECS, DEFAULT_STRATEGY } from './registry.js';
export {
  weightedMean,
  mean,
  applyDelta,
  coordinateMedian,
  trimmedMean,
  pairwiseSquaredDistances,
  krumScores,
  krumSelect,
  l2Norm,
  clipToNorm,
  centeredClip,
} from './aggregate.js';
export { needsIndividualUpdates } from './needsIndividualUpdates.js';
