import { RUNTIME_CHOICES, createPredictor, type Predictor as InferencePredictor, type RuntimeChoice } from '../inference/index.js';
import { OptionsError, type Task } from '../protocol/index.js';

/** Where predictions run; `auto` picks the best that loads on this machine (inference/predictor.ts). */
export const PREDICTOR_RUNTIMES: readonly RuntimeChoice[] = RUNTIME_CHOICES;
export type PredictorRuntime = RuntimeChoice;

/** A task's model with fixed weights, answering predictions on raw (unscaled, unstandardised) inputs. */
export type Predictor = Pick<InferencePredictor, 'runtime' | 'skipped' | 'predict' | 'dispose'>;

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
 * A predictor for `task` with `weights`: inference/'s `createPredictor` (ONNX Runtime's native
 * build where it loads, its wasm build elsewhere, tfjs for what ONNX export refuses).
 */
export function openPredictor(task: Task, weights: Float32Array, options: PredictorOptions = {}): Promise<Predictor> {
  return createPredictor(task, weights, { runtime: options.runtime ?? 'auto' });
}

/** `onnxruntime-node (skipped: ...)`: the runtime used, and why `auto` passed over others. */
export function describeRuntime(predictor: Predictor): string {
  const skipped = predictor.skipped.map((s) => `${s.runtime}: ${s.reason}`);
  return skipped.length === 0 ? predictor.runtime : `${predictor.runtime} (passed over ${skipped.join('; ')})`;
}
