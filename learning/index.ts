/**
 * fedmq's learning folder, the only one that imports tfjs: backend choice, models built from
 * a task (learning/task: flat weight vectors, local training and evaluation, Keras import).
 */
export { currentBackend, initBackend, type BackendName } from './backend.js';
export { ModelBusyError, ModelDisposedError, TrainingDataError, TrainingStoppedError, WeightsLengthError } from './errors.js';
export { tensorCount } from './memory.js';
export * from './task/index.js';
