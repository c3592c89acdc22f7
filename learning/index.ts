/**
 * fedmq's learning folder, the only one that imports tfjs: backend choice, the model zoo,
 * flat weight vectors, local training and evaluation.
 */
export { currentBackend, initBackend, type BackendName } from './backend.js';
export { MODEL_NAMES, isModelName, modelInfo, type ModelInfo, type ModelName } from './models.js';
export { initialWeights } from './initialWeights.js';
export { type TrainingData } from './batches.js';
export { LocalModel, DEFAULT_EVAL_BATCH_SIZE, type EvalResult, type TrainOptions, type TrainResult } from './localModel.js';
export { ModelBusyError, ModelDisposedError, TrainingDataError, TrainingStoppedError, WeightsLengthError } from './errors.js';
export { tensorCount } from './memory.js';
export * from './task/index.js';
