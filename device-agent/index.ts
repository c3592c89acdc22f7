export { DeviceAgent, type AgentDeps, type AgentEvents, type AgentOptions, type FinishedWork, type SkipReason } from './agent.js';
export { FileResidualStore, MemoryResidualStore, ResidualStorageError, type FileResidualStoreOptions, type ResidualStore } from './residualStore.js';
export { MessageRefusedError, type RefusedKind } from './errors.js';
export { connectDevice, sendImmediately, withBackoff, type DeviceConnectOptions } from './connect.js';
export { LocalTrainer, numbers, taskKey, type EvalJob, type Trainer, type TrainJob, type TrainOutcome } from './trainer.js';
export { GlobalCopy, FOLLOW_MODES, type FollowMode } from './globalCopy.js';
export {
  FileModelStore, MemoryModelStore, SavedModelError, MODEL_FILE, MODEL_FORMAT, MODEL_FORMAT_VERSION,
  expandHome, formatModelFile, loadSavedModel, modelFile, parseModelFile, type ModelStore, type SavedModel,
} from './modelStore.js';
export { PREDICTOR_RUNTIMES, describeRuntime, openPredictor, parsePredictorRuntime, type Predictor, type PredictorOptions, type PredictorRuntime } from './predictor.js';
export {
  PredictInputError, exampleSize, flatExamples, inputFormat, parsePredictInputs, predictions, type InputFormat, type PredictInputs, type Prediction,
} from './predictInputs.js';
export {
  DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EXAMPLES, PredictServer, isLoopback, parseServeAddress,
  type PredictServerEvents, type PredictServerOptions, type ServeAddress,
} from './predictServer.js';
export { boundResources, readResources, type ResourceReaderOptions } from './resources.js';
export { IDLE_LOAD, TRAIN_WHEN_USAGE, parseTrainPolicy, type PolicyRule, type TrainPolicy } from './trainPolicy.js';
export { SecAggSession, maskedBytes, type SecAggStep, type SecAggSessionIo } from './secagg.js';
