import { TaskModel, currentBackend } from '../learning/index.js';
import { OptionsError, type Task } from '../protocol/index.js';

/** Where predictions run; `auto` picks the best that loads on this machine. */
export const PREDICTOR_RUNTIMES = ['auto', 'onnxruntime-node', 'onnxruntime-web', 'tfjs'] as const;
export type PredictorRuntime = (typeof PREDICTOR_RUNTIMES)[number];

/** A task's model with fixed weights, answering predictions on raw (unscaled, unstandardised) inputs. */
export interface Predictor {
  /** The runtime that answers (`tfjs`, `onnxruntime-node`, ...). */
  readonly runtime: string;
  /** Outputs (as the task declares them) of `count` examples, flat, row-major. */
  predict(x: Float32Array, count: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export interface PredictorOptions {
  /** @default 'auto' */
  runtime?: PredictorRuntime;
}

/** `--runtime` as given, or `OptionsError` naming the choices. */
export function parsePredictorRuntime(text: string): PredictorRuntime {
  if (!(PREDICTOR_RUNTIMES as readonly string[]).includes(text)) throw new OptionsError('runtime', `must be ${PREDICTOR_RUNTIMES.join(', ')}; got "${text}"`);
  return text as PredictorRuntime;
}

/**
 * A predictor for `task` with `weights`. Until inference/ offers `createPredictor` (ONNX Runtime
 * where it loads), this runs on tfjs through `TaskModel.predict`, the model training uses.
 */
export async function openPredictor(task: Task, weights: Float32Array, options: PredictorOptions = {}): Promise<Predictor> {
  const runtime = options.runtime ?? 'auto';
  if (runtime !== 'auto' && runtime !== 'tfjs') throw new OptionsError('runtime', `${runtime} is not available in this build; use auto or tfjs`);
  const model = await TaskModel.create(task, weights);
  let disposed = false;
  return {
    runtime: `tfjs (${currentBackend() ?? 'none'})`,
    predict: async (x, count) => model.predict(x, count),
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}
