import { definedMetrics, TaskModel, type TaskData } from '../learning/index.js';
import type { Task } from '../protocol/index.js';
import type { Evaluator } from './contract.js';

/**
 * Evaluates global weights of `task` on held-out data with one `TaskModel` kept for the whole
 * run: the mean loss and the task's metrics, by name. Call `dispose()` when the run is over.
 */
export async function createEvaluator(task: Task, data: TaskData): Promise<Evaluator & { dispose(): void }> {
  const model = await TaskModel.create(task);
  const evaluate = async (weights: Float32Array): Promise<{ loss: number; metrics: Record<string, number> }> => {
    model.setWeights(weights);
    const { loss, metrics } = await model.evaluate(data);
    return { loss, metrics: definedMetrics(metrics) };
  };
  return Object.assign(evaluate, { dispose: () => model.dispose() });
}
