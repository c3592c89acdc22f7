export { Coordinator, type CoordinatorEvents, type CoordinatorDeps, type Evaluator, type RoundReport } from './coordinator.js';
export { BufferedCoordinator, stalenessWeight } from './buffered.js';
export { createCoordinator } from './createCoordinator.js';
export { createEvaluator } from './evaluator.js';
export { connectAggregator, type AggregatorConnectOptions } from './connect.js';
export {
  coordinatorSpecs,
  defaultCoordinatorOptions,
  parseCoordinatorOptions,
  resolveSpec,
  stripUndefined,
  type CoordinatorOptions,
  type CoordinatorSettings,
  DEFAULT_ROUNDS,
  DEFAULT_CODEC,
  DEFAULT_MODEL,
  MODES,
  type Mode,
  INFLUENCE_MODES,
  DEFAULT_INFLUENCE,
  type Influence,
} from './options.js';
export { DeviceRegistry, type DeviceRecord } from './registry.js';
export { createPrivacyRun, type PrivacyRun, type PrivacyRefusal } from './privacy.js';
export { RoundCollection } from './round.js';
export { selectParticipants, type Criterion, type SelectionOptions } from './selection.js';
export * from './strategies/index.js';
export { registerAggregatorMetrics, ROUND_DURATION_BUCKETS } from './metrics.js';
export { loadTaskSource, type TaskSource } from './taskSource.js';
export { PhaseCollection, fleetEvaluation, fleetStatistics } from './phase.js';
export { EVALUATIONS, type Evaluation } from './options.js';
export { SecureRound, SECAGG_MEAN_ID, type SecureRoundSummary, type SecureRoundHost, type SecureRoundSettings } from './secureRound.js';
export { DEFAULT_SECAGG_CLIP, resolveSecAgg, secaggRefusal, type SecAggOptions, type SecAggSetting } from './secureOptions.js';
