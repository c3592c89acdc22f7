/** Models built from a task (protocol/task.ts): layers, flat weights, training, evaluation, Keras import. */
export { TaskModel, DEFAULT_TASK_EVAL_BATCH_SIZE, type TaskEvalResult, type TaskTrainOptions, type TaskTrainResult } from './taskModel.js';
export { taskInitialWeights } from './initialWeights.js';
export { checkTaskData, type TaskData } from './taskData.js';
export { definedMetrics, metricsFromSums, type EvalSums } from './objective.js';
export { importKerasModel, loadKerasModelFile, type ImportedModel, type KerasImportOptions } from './kerasImport.js';
