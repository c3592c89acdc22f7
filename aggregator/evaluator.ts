import { LocalModel, type ModelName, type TrainingData } from '../learning/index.js';
import type { Evaluator } from './coordinator.js';

/** Evaluates global weights on held-out data with one model kept for the whole run. */
export async function createEvaluator(model: ModelName, data: TrainingData): Promise<Evaluator & { dispose(): void }> {
  const local = await LocalModel.create(model);
  const evaluate = async (weights: Float32Array): Promise<{ accuracy: number; loss: number }> => {
    local.setWeights(weights);
    const { accuracy, loss } = await local.evaluate(data);
    return { accuracy, loss };
  };
  return Object.assign(evaluate, { dispose: () => local.dispose() });
}
