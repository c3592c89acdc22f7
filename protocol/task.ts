import { layerLayout, type TaskParam } from './taskLayout.js';
import {
  LOSSES,
  METRICS,
  TASK_LIMITS as L,
  TaskError,
  type Activation,
  type OptimizerSpec,
  type OutputKind,
  type Padding,
  type Preprocessing,
  type RecurrentActivation,
  type Task,
  type TaskInput,
  type TaskLayer,
  type TaskOutput,
} from './taskTypes.js';

export * from './taskTypes.js';
export * from './taskLayout.js';
export { BUILTIN_TASK_NAMES, builtinTask, isBuiltinTask, isBuiltinTaskName, type BuiltinTaskName } from './taskBuiltins.js';

type Obj = Record<string, unknown>;

export const DEFAULT_TASK_NAME = 'task';
export const DEFAULT_TASK_EPOCHS = 1;
export const DEFAULT_TASK_BATCH_SIZE = 20;
export const DEFAULT_TASK_LR = 0.05;
const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax'];
const RECURRENT_ACTIVATIONS: readonly RecurrentActivation[] = ['sigmoid', 'hardSigmoid'];
const PADDINGS: readonly Padding[] = ['valid', 'same'];
const LAYER_KINDS: readonly TaskLayer['kind'][] = ['dense', 'dropout', 'conv1d', 'conv2d', 'maxPool', 'flatten', 'gru', 'lstm'];
const OUTPUT_KINDS: readonly OutputKind[] = ['classes', 'binary', 'regression'];
/** Activations the last layer may have, per output: the loss takes logits either way (see learning/task). */
const LAST_ACTIVATIONS: Record<OutputKind, readonly Activation[]> = {
  classes: ['linear', 'softmax'],
  binary: ['linear', 'sigmoid'],
  regression: ['linear', 'relu', 'sigmoid', 'tanh'],
};

/**
 * Validates a task as read from JSON (a `--task` file, the retained `task` message) and fills
 * its defaults. Unknown fields are refused (a typo must not pass silently). Throws `TaskError`
 * (an `OptionsError` for option `task`) whose message names the field, e.g.
 * `task.model.layers[2].units: must be an integer in [1, 65536], got 0`.
 */
export function parseTask(json: unknown): Task {
  const t = fields(json, '', ['name', 'input', 'output', 'model', 'loss', 'metrics', 'optimizer', 'training', 'preprocessing']);
  const name = t.has('name') ? t.str('name', /^[A-Za-z0-9._-]{1,64}$/, 'a name of 1 to 64 letters, digits, ".", "_" or "-"') : DEFAULT_TASK_NAME;
  const input = parseInput(t.obj('input', ['shape', 'features', 'scale']));
  const output = parseOutput(t.obj('output', ['kind', 'classes', 'outputs']));
  const m = t.obj('model', ['layers']);
  const rawLayers = m.array('layers', 1, L.maxLayers);
  const layers: TaskLayer[] = [];
  let shape = input.shape;
  let paramCount = 0;
  rawLayers.forEach((raw, i) => {
    const layer = parseLayer(raw, `model.layers[${i}]`, shape.length, i === rawLayers.length - 1);
    const out = layerLayout(layer, i, shape, `model.layers[${i}]`);
    paramCount += out.params.reduce((sum: number, p: TaskParam) => sum + p.size, 0);
    if (paramCount > L.maxParams) throw new TaskError(`model.layers[${i}]`, `the model exceeds ${L.maxParams} parameters`);
    layers.push(layer);
    shape = out.shape;
  });
  const size = output.kind === 'classes' ? output.classes : output.kind === 'binary' ? 1 : output.outputs;
  if (shape.length !== 1 || shape[0] !== size) {
    throw new TaskError('model.layers', `the model's output has shape [${shape.join(', ')}], the ${output.kind} output needs [${size}]`);
  }
  const last = layers[layers.length - 1] as TaskLayer;
  const lastActivation = 'activation' in last ? last.activation : 'linear';
  if (!LAST_ACTIVATIONS[output.kind].includes(lastActivation)) {
    throw new TaskError(`model.layers[${layers.length - 1}].activation`, `a ${output.kind} output needs one of ${LAST_ACTIVATIONS[output.kind].join(', ')}, got "${lastActivation}"`);
  }
  const loss = t.has('loss') ? t.oneOf('loss', LOSSES[output.kind], `for a ${output.kind} output`) : LOSSES[output.kind][0];
  const metrics = t.has('metrics') ? t.list('metrics', METRICS[output.kind], `for a ${output.kind} output`) : [...METRICS[output.kind]];
  const optimizer = t.has('optimizer') ? parseOptimizer(t.obj('optimizer', ['kind', 'lr', 'momentum', 'nesterov', 'beta1', 'beta2', 'epsilon'])) : defaultOptimizer();
  const tr = t.has('training') ? t.obj('training', ['epochs', 'batchSize']) : fields({}, 'training', []);
  const training = { epochs: tr.int('epochs', 1, L.maxEpochs, DEFAULT_TASK_EPOCHS), batchSize: tr.int('batchSize', 1, L.maxBatchSize, DEFAULT_TASK_BATCH_SIZE) };
  const task: Task = { name, input, output, model: { layers }, loss, metrics, optimizer, training };
  if (t.has('preprocessing')) task.preprocessing = parsePreprocessing(t.obj('preprocessing', ['standardize']), input.shape[input.shape.length - 1] as number);
  return task;
}

function defaultOptimizer(): OptimizerSpec {
  return { kind: 'sgd', lr: DEFAULT_TASK_LR, momentum: 0, nesterov: false };
}

function parseInput(f: Fields): TaskInput {
  let shape: number[] | null = f.has('shape') ? f.ints('shape', 1, L.maxRank, 1, L.maxDimension) : null;
  let features: string[] | undefined;
  if (f.has('features')) {
    const v = f.raw('features');
    if (typeof v === 'number') {
      const n = f.int('features', 1, L.maxDimension);
      if (shape === null) shape = [n];
      else if (shape[shape.length - 1] !== n) throw new TaskError('input.features', `${n} features disagree with the last dimension of input.shape [${shape.join(', ')}]`);
    } else {
      features = f.names('features', L.maxDimension);
      if (shape === null) shape = [features.length];
      else if (shape[shape.length - 1] !== features.length) {
        throw new TaskError('input.features', `${features.length} names disagree with the last dimension of input.shape [${shape.join(', ')}]`);
      }
    }
  }
  if (shape === null) throw new TaskError('input', 'needs "shape" or "features"');
  if (shape.reduce((a, b) => a * b, 1) > L.maxExampleValues) throw new TaskError('input.shape', `an example of more than ${L.maxExampleValues} values`);
  const input: TaskInput = { shape };
  if (features !== undefined) input.features = features;
  if (f.has('scale')) input.scale = f.num('scale', 0, L.maxScale, true);
  return input;
}

function parseOutput(f: Fields): TaskOutput {
  const kind = f.oneOf('kind', OUTPUT_KINDS);
  f.only(kind === 'classes' ? ['kind', 'classes'] : kind === 'regression' ? ['kind', 'outputs'] : ['kind'], `for a ${kind} output`);
  if (kind === 'classes') return { kind, classes: f.int('classes', 2, L.maxClasses) };
  if (kind === 'binary') return { kind };
  return { kind, outputs: f.int('outputs', 1, L.maxOutputs, 1) };
}

const LAYER_FIELDS: Record<TaskLayer['kind'], string[]> = {
  dense: ['units', 'activation', 'useBias'],
  dropout: ['rate'],
  conv1d: ['filters', 'kernelSize', 'strides', 'padding', 'activation', 'useBias'],
  conv2d: ['filters', 'kernelSize', 'strides', 'padding', 'activation', 'useBias'],
  maxPool: ['poolSize', 'strides', 'padding'],
  flatten: [],
  gru: ['units', 'activation', 'recurrentActivation', 'returnSequences', 'useBias', 'resetAfter'],
  lstm: ['units', 'activation', 'recurrentActivation', 'returnSequences', 'useBias'],
};

function parseLayer(raw: unknown, path: string, inputRank: number, isLast: boolean): TaskLayer {
  const f = fields(raw, path, null);
  const kind = f.oneOf('kind', LAYER_KINDS);
  f.only(['kind', ...LAYER_FIELDS[kind]], `for a ${kind} layer`);
  const activation = (fallback: Activation): Activation => {
    const a = f.has('activation') ? f.oneOf('activation', ACTIVATIONS) : fallback;
    if (a === 'softmax' && !isLast) throw new TaskError(`${path}.activation`, 'softmax is allowed on the last layer only');
    return a;
  };
  const useBias = f.bool('useBias', true);
  switch (kind) {
    case 'dense':
      return { kind, units: f.int('units', 1, L.maxUnits), activation: activation('linear'), useBias };
    case 'dropout':
      return { kind, rate: f.num('rate', 0, 1, false, true) };
    case 'flatten':
      return { kind };
    case 'conv1d':
    case 'conv2d': {
      const rank = kind === 'conv1d' ? 1 : 2;
      const filters = f.int('filters', 1, L.maxFilters);
      const kernelSize = f.sizes('kernelSize', rank, L.maxKernel);
      const strides = f.has('strides') ? f.sizes('strides', rank, L.maxKernel) : new Array<number>(rank).fill(1);
      const padding = f.has('padding') ? f.oneOf('padding', PADDINGS) : 'valid';
      const common = { filters, padding, activation: activation('linear'), useBias };
      return kind === 'conv1d'
        ? { kind, ...common, kernelSize: kernelSize[0] as number, strides: strides[0] as number }
        : { kind, ...common, kernelSize, strides };
    }
    case 'maxPool': {
      // 1-D over [steps, channels], 2-D over [height, width, channels]; a wrong rank is reported by the layout.
      const rank = Math.max(1, Math.min(2, inputRank - 1));
      const poolSize = f.has('poolSize') ? f.sizes('poolSize', rank, L.maxKernel) : new Array<number>(rank).fill(2);
      const strides = f.has('strides') ? f.sizes('strides', rank, L.maxKernel) : poolSize;
      return { kind, poolSize, strides, padding: f.has('padding') ? f.oneOf('padding', PADDINGS) : 'valid' };
    }
    case 'gru':
    case 'lstm': {
      const common = {
        units: f.int('units', 1, L.maxRecurrentUnits),
        activation: activation('tanh'),
        recurrentActivation: f.has('recurrentActivation') ? f.oneOf('recurrentActivation', RECURRENT_ACTIVATIONS) : 'sigmoid',
        returnSequences: f.bool('returnSequences', false),
        useBias,
      };
      return kind === 'gru' ? { kind, ...common, resetAfter: f.bool('resetAfter', false) } : { kind, ...common };
    }
  }
}

function parseOptimizer(f: Fields): OptimizerSpec {
  const kind = f.oneOf('kind', ['sgd', 'adam'] as const);
  f.only(kind === 'sgd' ? ['kind', 'lr', 'momentum', 'nesterov'] : ['kind', 'lr', 'beta1', 'beta2', 'epsilon'], `for the ${kind} optimizer`);
  if (kind === 'sgd') {
    return { kind, lr: f.num('lr', 0, L.maxLr, true, false, DEFAULT_TASK_LR), momentum: f.num('momentum', 0, 1, false, true, 0), nesterov: f.bool('nesterov', false) };
  }
  return {
    kind,
    lr: f.num('lr', 0, L.maxLr, true, false, 0.001),
    beta1: f.num('beta1', 0, 1, false, true, 0.9),
    beta2: f.num('beta2', 0, 1, false, true, 0.999),
    epsilon: f.num('epsilon', 0, 1, true, false, 1e-7),
  };
}

function parsePreprocessing(f: Fields, featureCount: number): Preprocessing {
  if (!f.has('standardize')) return {};
  // "fleet": the aggregator asks the fleet for its statistics before round 1 and publishes the task with them.
  if (f.raw('standardize') === 'fleet') return { standardize: 'fleet' };
  const s = f.obj('standardize', ['mean', 'std']);
  return {
    standardize: {
      mean: s.nums('mean', featureCount, -L.maxMeanAbs, L.maxMeanAbs, false),
      std: s.nums('std', featureCount, 0, L.maxMeanAbs, true),
    },
  };
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function fields(v: unknown, path: string, allowed: string[] | null): Fields {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) throw new TaskError(path || '(root)', `must be an object, got ${show(v)}`);
  const f = new Fields(v as Obj, path);
  if (allowed !== null) f.only(allowed, '');
  return f;
}

/** Typed reads of one JSON object's fields; every failure names `path.key`. */
class Fields {
  constructor(
    private readonly o: Obj,
    private readonly path: string,
  ) {}

  private at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  private fail(key: string, what: string): never {
    throw new TaskError(this.at(key), `${what}, got ${show(this.o[key])}`);
  }

  has(key: string): boolean {
    return this.o[key] !== undefined;
  }

  raw(key: string): unknown {
    return this.o[key];
  }

  only(allowed: readonly string[], context: string): void {
    for (const key of Object.keys(this.o)) {
      if (!allowed.includes(key)) throw new TaskError(this.at(key), `unknown field${context === '' ? '' : ' ' + context} (expected ${allowed.join(', ') || 'none'})`);
    }
  }

  obj(key: string, allowed: string[]): Fields {
    if (!this.has(key)) throw new TaskError(this.at(key), 'is required');
    return fields(this.o[key], this.at(key), allowed);
  }

  array(key: string, min: number, max: number): unknown[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length < min || v.length > max) this.fail(key, `must be a list of ${min} to ${max} items`);
    return v;
  }

  int(key: string, min: number, max: number, fallback?: number): number {
    const v = this.o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `must be an integer in [${min}, ${max}]`);
    return v;
  }

  /** A finite number in the interval from lo to hi, each end open or closed. */
  num(key: string, lo: number, hi: number, loOpen: boolean, hiOpen = false, fallback?: number): number {
    const v = this.o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
    if (!ok) this.fail(key, `must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}`);
    return v as number;
  }

  nums(key: string, length: number, lo: number, hi: number, loOpen: boolean): number[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length !== length) this.fail(key, `must be a list of ${length} numbers (one per feature)`);
    v.forEach((n: unknown, i) => {
      const ok = typeof n === 'number' && Number.isFinite(n) && (loOpen ? n > lo : n >= lo) && n <= hi;
      if (!ok) throw new TaskError(`${this.at(key)}[${i}]`, `must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${show(n)}`);
    });
    return [...(v as number[])];
  }

  ints(key: string, minItems: number, maxItems: number, min: number, max: number): number[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length < minItems || v.length > maxItems) this.fail(key, `must be a list of ${minItems} to ${maxItems} integers`);
    v.forEach((n: unknown, i) => {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new TaskError(`${this.at(key)}[${i}]`, `must be an integer in [${min}, ${max}], got ${show(n)}`);
    });
    return [...(v as number[])];
  }

  /** An integer for every dimension, or a list of `rank` of them. */
  sizes(key: string, rank: number, max: number): number[] {
    const v = this.o[key];
    if (typeof v === 'number') return new Array<number>(rank).fill(this.int(key, 1, max));
    if (!Array.isArray(v) || v.length !== rank) this.fail(key, `must be an integer in [1, ${max}] or a list of ${rank}`);
    return this.ints(key, rank, rank, 1, max);
  }

  str(key: string, pattern: RegExp, what: string): string {
    const v = this.o[key];
    if (typeof v !== 'string' || !pattern.test(v)) this.fail(key, `must be ${what}`);
    return v;
  }

  names(key: string, max: number): string[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length < 1 || v.length > max) this.fail(key, `must be a feature count or a list of 1 to ${max} names`);
    const seen = new Set<string>();
    v.forEach((s: unknown, i) => {
      if (typeof s !== 'string' || s.length < 1 || s.length > L.maxFeatureNameLength) throw new TaskError(`${this.at(key)}[${i}]`, `must be a name of 1 to ${L.maxFeatureNameLength} characters, got ${show(s)}`);
      if (seen.has(s)) throw new TaskError(`${this.at(key)}[${i}]`, `repeats the name ${show(s)}`);
      seen.add(s);
    });
    return [...(v as string[])];
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[], context = ''): T {
    const v = this.o[key];
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) this.fail(key, `must be one of ${values.join(', ')}${context === '' ? '' : ' ' + context}`);
    return v as T;
  }

  list<T extends string>(key: string, values: readonly T[], context: string): T[] {
    const v = this.o[key];
    if (!Array.isArray(v) || v.length > values.length) this.fail(key, `must be a list of distinct names among ${values.join(', ')} ${context}`);
    v.forEach((s: unknown, i) => {
      if (typeof s !== 'string' || !(values as readonly string[]).includes(s) || v.indexOf(s) !== i) {
        throw new TaskError(`${this.at(key)}[${i}]`, `must be one of ${values.join(', ')} ${context} (once each), got ${show(s)}`);
      }
    });
    return [...(v as T[])];
  }
}
