import { OptionsError } from '../protocol/errors.js';
import { taskLayout, type Task } from '../protocol/task.js';
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT } from './onnxExport.js';

/** Where predictions run: ONNX Runtime's native build, its WebAssembly build, or fedmq's own tfjs model. */
export type RuntimeName = 'onnxruntime-node' | 'onnxruntime-web' | 'tfjs';
export type RuntimeChoice = 'auto' | RuntimeName;
export const RUNTIME_CHOICES: readonly RuntimeChoice[] = ['auto', 'onnxruntime-node', 'onnxruntime-web', 'tfjs'];
/** The order `auto` tries them in. */
const AUTO_ORDER: readonly RuntimeName[] = ['onnxruntime-node', 'onnxruntime-web', 'tfjs'];

export interface PredictorOptions {
  /**
   * `auto`: onnxruntime-node where its native binary loads (x64, arm64), else onnxruntime-web
   * (wasm, one thread), else tfjs (`TaskModel`); also tfjs when the task is not exportable to
   * ONNX. A named runtime that cannot run the task is an `OptionsError('runtime', ...)`.
   * @default 'auto'
   */
  runtime?: RuntimeChoice;
  /** onnxruntime-node's intra-op threads. @default onnxruntime's own (one per core) */
  threads?: number;
  /** Where onnxruntime-web finds its `.wasm` files (a bundle that moved them). @default next to its module */
  wasmPaths?: string;
}

export interface Predictor {
  runtime: RuntimeName;
  /** Why `auto` passed over the runtimes before `runtime` (empty otherwise). */
  skipped: { runtime: RuntimeName; reason: string }[];
  /** Values of one raw example (the task's input) and of one prediction. */
  inputSize: number;
  outputSize: number;
  /**
   * The model's outputs, as declared (probabilities after a last softmax or sigmoid), for
   * `count` raw examples laid flat in `x` (row-major, channels last; preprocessing is the
   * model's). Calls are run one at a time.
   */
  predict(x: Float32Array, count: number): Promise<Float32Array>;
  /** Frees the session or model; safe to call twice. */
  dispose(): Promise<void>;
}

const ORT_NODE: string = 'onnxruntime-node';
type OrtApi = Pick<typeof import('onnxruntime-web'), 'InferenceSession' | 'Tensor'>;

/**
 * How each ONNX runtime is imported: on first use only. Tests replace these to play a board
 * whose native binary does not load.
 */
export const runtimeImports = {
  // onnxruntime-node is an optional dependency: named through a variable, so that the build
  // neither needs it nor a bundler tries to inline its native binary. Its API is
  // onnxruntime-common's, which onnxruntime-web (a dependency) types as well.
  'onnxruntime-node': (): Promise<OrtApi> => import(ORT_NODE) as Promise<OrtApi>,
  'onnxruntime-web': (): Promise<typeof import('onnxruntime-web')> => import('onnxruntime-web'),
};

type Backend = { run(x: Float32Array, count: number): Promise<Float32Array>; release(): Promise<void> };

/**
 * A predictor for `task` with `weights` (flat, `taskLayout` order). ONNX Runtime is imported
 * here, on first use, never when this module loads: on armv7l or with a broken native binary
 * the import throws and `auto` goes on to the next runtime.
 */
export async function createPredictor(task: Task, weights: Float32Array, options: PredictorOptions = {}): Promise<Predictor> {
  const choice = options.runtime ?? 'auto';
  if (!RUNTIME_CHOICES.includes(choice)) throw new OptionsError('runtime', `must be ${RUNTIME_CHOICES.join(' | ')}, got "${String(choice)}"`);
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) throw new OptionsError('threads', `must be a positive integer, got ${options.threads}`);
  const layout = taskLayout(task);
  if (!(weights instanceof Float32Array) || weights.length !== layout.paramCount) {
    throw new OptionsError('weights', `expected ${layout.paramCount} float32 values for task ${task.name}, got ${weights instanceof Float32Array ? weights.length : typeof weights}`);
  }
  const inputSize = task.input.shape.reduce((a, b) => a * b, 1);
  const outputSize = (layout.shapes[layout.shapes.length - 1] as number[]).reduce((a, b) => a * b, 1);

  const skipped: Predictor['skipped'] = [];
  let onnx: Uint8Array | null = null;
  let refusal: Error | null = null;
  const model = (): Uint8Array => {
    if (refusal) throw refusal;
    if (onnx === null) {
      try {
        onnx = exportOnnx(task, weights);
      } catch (e) {
        refusal = e as Error;
        throw e;
      }
    }
    return onnx;
  };

  const open = async (runtime: RuntimeName): Promise<Backend> => {
    switch (runtime) {
      case 'onnxruntime-node':
        return openOrtNode(model(), task, options.threads);
      case 'onnxruntime-web':
        return openOrtWeb(model(), task, options.wasmPaths);
      case 'tfjs':
        return openTfjs(task, weights);
    }
  };

  let backend: Backend | null = null;
  let runtime: RuntimeName | null = null;
  for (const candidate of choice === 'auto' ? AUTO_ORDER : [choice]) {
    try {
      backend = await open(candidate);
      runtime = candidate;
      break;
    } catch (e) {
      const reason = oneLine(e);
      if (choice !== 'auto') {
        if (e instanceof OptionsError) throw e;
        throw new OptionsError('runtime', `${candidate} cannot run here (${process.platform}-${process.arch}): ${reason}`, { cause: e });
      }
      skipped.push({ runtime: candidate, reason });
    }
  }
  if (backend === null || runtime === null) {
    throw new OptionsError('runtime', `no runtime can run task ${task.name}: ${skipped.map((s) => `${s.runtime}: ${s.reason}`).join('; ')}`);
  }

  const live: Backend = backend;
  let queue: Promise<unknown> = Promise.resolve();
  let disposed = false;
  return {
    runtime,
    skipped,
    inputSize,
    outputSize,
    predict(x, count) {
      if (disposed) return Promise.reject(new OptionsError('predictor', 'disposed'));
      if (!Number.isInteger(count) || count < 1) return Promise.reject(new OptionsError('count', `must be a positive integer, got ${count}`));
      if (!(x instanceof Float32Array) || x.length < count * inputSize) {
        return Promise.reject(new OptionsError('x', `must hold ${count} examples of ${inputSize} values (${count * inputSize}), got ${x instanceof Float32Array ? x.length : typeof x}`));
      }
      const run = queue.then(() => live.run(x.subarray(0, count * inputSize), count));
      queue = run.catch(() => undefined);
      return run;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await queue;
      await live.release();
    },
  };
}

function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n', 1)[0] ?? message;
}

async function openOrtNode(model: Uint8Array, task: Task, threads: number | undefined): Promise<Backend> {
  const ort = await runtimeImports['onnxruntime-node']();
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], ...(threads !== undefined && { intraOpNumThreads: threads }) });
  return {
    async run(x, count) {
      const input = new ort.Tensor('float32', x, [count, ...task.input.shape]);
      const out = await session.run({ [ONNX_INPUT]: input });
      return copyOutput(out[ONNX_OUTPUT]?.data);
    },
    release: () => session.release(),
  };
}

async function openOrtWeb(model: Uint8Array, task: Task, wasmPaths: string | undefined): Promise<Backend> {
  const ort = await runtimeImports['onnxruntime-web']();
  // One thread: no worker threads or SharedArrayBuffer to set up, the same on every board.
  ort.env.wasm.numThreads = 1;
  if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  return {
    async run(x, count) {
      const input = new ort.Tensor('float32', x, [count, ...task.input.shape]);
      const out = await session.run({ [ONNX_INPUT]: input });
      return copyOutput(out[ONNX_OUTPUT]?.data);
    },
    release: () => session.release(),
  };
}

async function openTfjs(task: Task, weights: Float32Array): Promise<Backend> {
  // tfjs is loaded here too: importing inference/ costs neither runtime.
  const { TaskModel } = await import('../learning/index.js');
  const model = await TaskModel.create(task, weights);
  return {
    run: async (x, count) => model.predict(x, count),
    release: async () => model.dispose(),
  };
}

function copyOutput(data: unknown): Float32Array {
  if (!(data instanceof Float32Array)) throw new Error(`the ONNX session returned no float32 ${ONNX_OUTPUT}`);
  return data.slice();
}
