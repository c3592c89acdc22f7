import { definedMetrics, TaskModel, type TaskData } from '../learning/index.js';
import type { Task } from '../protocol/index.js';
import type { Evaluator } from './contract.js';

/**
 * Evaluates global weights on held-out data with one `TaskModel`: the mean loss and the task's
 * metrics, by name. The model is `task`'s, rebuilt when the coordinator evaluates under another
 * one (its fleet statistics arrived, and it standardises with them). Call `dispose()` when the
 * run is over.
 */
export async function createEvaluator(task: Task, data: TaskData): Promise<Evaluator & { dispose(): void }> {
  let current = { key: JSON.stringify(task), model: await TaskModel.create(task) };
  const evaluate = async (weights: Float32Array, as: Task = task): Promise<{ loss: number; metrics: Record<string, number> }> => {
    const key = JSON.stringify(as);
    if (key !== current.key) {
      current.model.dispose();
      current = { key, model: await TaskModel.create(as) };
    }
    current.model.setWeights(weights);
    const { loss, metrics } = await current.model.evaluate(data);
    return { loss, metrics: definedMetrics(metrics) };
  };
  return Object.assign(evaluate, { dispose: () => current.model.dispose() });
}
