/**
 * fedmq's learning folder, the only one that imports tfjs: backend choice, models built from
 * a task (learning/task: flat weight vectors, local training and evaluation, Keras import).
 */
export { currentBackend, initBackend, type BackendName } from './backend.js';
// The model zoo's names, shapes and initial weights: still used by the root index.ts, test/
// and bench/codecs.ts, bench/robustness.ts. New code describes models as tasks
// (protocol/task.ts `builtinTask`, `taskLayout(task).paramCount`, `taskInitialWeights`).
export { MODEL_NAMES, isModelName, modelInfo, type ModelInfo, type ModelName } from './models.js';
export { initialWeights } from './initialWeights.js';
// Temporary: bench/robustness.ts still imports LocalModel from here. The zoo's training path
// lives in bench/baseline/ (the speed baseline of bench/task-speed.ts); remove this line once
// bench/robustness.ts imports it from there or trains a TaskModel.
export { LocalModel } from '../bench/baseline/localModel.js';
export { ModelBusyError, ModelDisposedError, TrainingDataError, TrainingStoppedError, WeightsLengthError } from './errors.js';
export { tensorCount } from './memory.js';
export * from './task/index.js';
