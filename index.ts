/**
 * fedmq as a library: `import { Simulation } from 'fedmq'`. Everything the `fedmq` command
 * does is a call here; the CLI only parses flags into these options and prints the events.
 * `package.json`'s `exports` makes this file the package's only entry point.
 */

// A fleet on one machine.
export { Simulation, simulate, deviceId, parseSimulationOptions, simulationSpecs, DEFAULT_DEVICES, DEFAULT_PARTITION } from './simulator/index.js';
export type { SimulationEvents, SimulationOptions, SimulationSettings, RunReport, ReportRound, DeviceProfile, ProfileMix } from './simulator/index.js';
export { BUILTIN_PROFILES, parseProfiles, parseAttack, writeRunChart, type Attack } from './simulator/index.js';

// The aggregator: sync rounds or FedBuff-style async aggregation, and its strategies.
export { Coordinator, BufferedCoordinator, createCoordinator, createEvaluator, connectAggregator, parseCoordinatorOptions, defaultCoordinatorOptions, coordinatorSpecs } from './aggregator/index.js';
export type { CoordinatorOptions, CoordinatorSettings, CoordinatorDeps, CoordinatorEvents, Evaluator, RoundReport, Criterion, DeviceRecord } from './aggregator/index.js';
export { parseStrategy, STRATEGY_SPECS, DEFAULT_STRATEGY, type Strategy, type StrategyState, type RoundAggregation, type FitResult } from './aggregator/index.js';

// The device.
export { DeviceAgent, connectDevice, LocalTrainer, FileResidualStore, MemoryResidualStore, MessageRefusedError, ResidualStorageError } from './device-agent/index.js';
export type { AgentOptions, AgentDeps, AgentEvents, Trainer, TrainJob, TrainOutcome, DeviceConnectOptions, FileResidualStoreOptions } from './device-agent/index.js';

// The broker.
export { startBroker, parseBrokerOptions, defaultBrokerOptions, credentialHooks, loadCredentials, hashPassword } from './broker/index.js';
export type { BrokerHandle, BrokerOptions, BrokerHooks } from './broker/index.js';

// Watching a fleet.
export { watchFleet, FleetState, type FleetWatch, type WatchOptions, type MonitorSnapshot } from './monitor/index.js';

// The wire: topics, messages, codecs, downlinks, the clock.
export {
  CODEC_SPECS,
  parseCodec,
  parseDownlink,
  fleetTopics,
  parseTopic,
  build,
  encodeMessage,
  decodeMessage,
  systemClock,
  ManualClock,
  OptionsError,
  DecodeError,
  RejectReason,
  type Clock,
  type Codec,
  type Downlink,
  type FleetTopics,
  type RoundMessage,
  type TaskMessage,
  type UpdateMessage,
  type GlobalMessage,
  type MetricsMessage,
  type StatusMessage,
} from './protocol/index.js';

// Tasks: what the fleet trains (model, input, output, loss, metrics, optimizer), as JSON.
export {
  builtinTask,
  parseTask,
  isBuiltinTaskName,
  BUILTIN_TASK_NAMES,
  taskLayout,
  taskParamCount,
  TaskError,
  type Task,
  type TaskInput,
  type TaskOutput,
  type TaskLayer,
  type TaskLayout,
  type BuiltinTaskName,
  type LossName,
  type MetricName,
  type OptimizerSpec,
} from './protocol/index.js';
export { loadTaskSource, type TaskSource } from './aggregator/index.js';

// Data.
export { loadMnist, partition, parsePartition, type Dataset, type PartitionSpec } from './datasets/index.js';
export { loadDeviceData, parseDeviceDataOptions, type DeviceData, type DeviceDataOptions, type DeviceDataConfig } from './datasets/index.js';
export { deviceExamples, datasetExamples, MNIST_SHAPE, type DeviceExamples, type Examples } from './datasets/index.js';

// Models built from a task.
export { initBackend, TaskModel, taskInitialWeights, importKerasModel, TrainingStoppedError, TrainingDataError, type BackendName } from './learning/index.js';
export { exportOnnx, createPredictor, type Predictor, type PredictorOptions, type RuntimeName } from './inference/index.js';
export type { TaskData, TaskTrainOptions, TaskTrainResult, TaskEvalResult } from './learning/index.js';
