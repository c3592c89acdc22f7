import { TASK_LIMITS, TaskError, type Task, type TaskLayer } from './taskTypes.js';

/** One trainable tensor of a task's model, in flat-vector order. */
export interface TaskParam {
  /** Index of its layer in `task.model.layers`. */
  layer: number;
  role: 'kernel' | 'recurrentKernel' | 'bias';
  /** Keras's layout: dense [in, units]; conv1d [k, in, filters]; conv2d [kh, kw, in, filters]; GRU/LSTM [in, gates*units], [units, gates*units], [gates*units] (GRU with `resetAfter`: [2, 3*units]). */
  shape: number[];
  size: number;
  /** Glorot fan-in and fan-out; receptive field times channels for convolutions. */
  fanIn: number;
  fanOut: number;
}

export interface TaskLayout {
  /** Output shape of each layer, without the batch dimension. */
  shapes: number[][];
  /** Every trainable tensor: per layer in order, kernel, recurrent kernel, bias (Keras's order). */
  params: TaskParam[];
  paramCount: number;
}

/** Shapes and parameters of a parsed task's model; pure, no tfjs. */
export function taskLayout(task: Task): TaskLayout {
  const shapes: number[][] = [];
  const params: TaskParam[] = [];
  let shape = task.input.shape;
  task.model.layers.forEach((layer, i) => {
    const out = layerLayout(layer, i, shape, `model.layers[${i}]`);
    shapes.push(out.shape);
    params.push(...out.params);
    shape = out.shape;
  });
  return { shapes, params, paramCount: params.reduce((sum, p) => sum + p.size, 0) };
}

/** The number of values in the flat weight vector of a task's model. */
export function taskParamCount(task: Task): number {
  return taskLayout(task).paramCount;
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Output shape and parameters of one layer given its input shape; throws `TaskError` naming
 * `field` when the layer does not fit its input.
 */
export function layerLayout(layer: TaskLayer, index: number, input: number[], field: string): { shape: number[]; params: TaskParam[] } {
  const need = (rank: number, what: string): void => {
    if (input.length !== rank) throw new TaskError(field, `${layer.kind} needs ${what} input, got shape [${input.join(', ')}]`);
  };
  const param = (role: TaskParam['role'], shape: number[], fanIn: number, fanOut: number): TaskParam => ({ layer: index, role, shape, size: product(shape), fanIn, fanOut });
  let shape: number[];
  const params: TaskParam[] = [];
  switch (layer.kind) {
    case 'dense': {
      need(1, 'a flat [features]');
      const n = input[0] as number;
      params.push(param('kernel', [n, layer.units], n, layer.units));
      if (layer.useBias) params.push(param('bias', [layer.units], 0, 0));
      shape = [layer.units];
      break;
    }
    case 'dropout':
      shape = input;
      break;
    case 'flatten':
      shape = [product(input)];
      break;
    case 'conv1d': {
      need(2, 'a [steps, channels]');
      const [steps = 0, channels = 0] = input;
      const k = layer.kernelSize;
      shape = [windowOut(steps, k, layer.strides, layer.padding, field, 'kernelSize'), layer.filters];
      params.push(param('kernel', [k, channels, layer.filters], k * channels, k * layer.filters));
      if (layer.useBias) params.push(param('bias', [layer.filters], 0, 0));
      break;
    }
    case 'conv2d': {
      need(3, 'a [height, width, channels]');
      const [h = 0, w = 0, channels = 0] = input;
      const [kh = 1, kw = 1] = layer.kernelSize;
      const [sh = 1, sw = 1] = layer.strides;
      shape = [windowOut(h, kh, sh, layer.padding, field, 'kernelSize'), windowOut(w, kw, sw, layer.padding, field, 'kernelSize'), layer.filters];
      params.push(param('kernel', [kh, kw, channels, layer.filters], kh * kw * channels, kh * kw * layer.filters));
      if (layer.useBias) params.push(param('bias', [layer.filters], 0, 0));
      break;
    }
    case 'maxPool': {
      if (input.length < 2) throw new TaskError(field, `maxPool needs a [steps, channels] or [height, width, channels] input, got shape [${input.join(', ')}]`);
      const spatial = input.slice(0, -1);
      if (layer.poolSize.length !== spatial.length || layer.strides.length !== spatial.length) {
        throw new TaskError(`${field}.poolSize`, `must have ${spatial.length} size(s) for an input of shape [${input.join(', ')}]`);
      }
      shape = [...spatial.map((n, d) => windowOut(n, layer.poolSize[d] as number, layer.strides[d] as number, layer.padding, field, 'poolSize')), input[input.length - 1] as number];
      break;
    }
    case 'gru':
    case 'lstm': {
      need(2, 'a [steps, features]');
      const [steps = 0, features = 0] = input;
      const gates = layer.kind === 'gru' ? 3 : 4;
      const u = layer.units;
      params.push(param('kernel', [features, gates * u], features, gates * u));
      params.push(param('recurrentKernel', [u, gates * u], u, gates * u));
      if (layer.useBias) params.push(param('bias', layer.kind === 'gru' && layer.resetAfter ? [2, gates * u] : [gates * u], 0, 0));
      shape = layer.returnSequences ? [steps, u] : [u];
      break;
    }
  }
  if (product(shape) > TASK_LIMITS.maxExampleValues) {
    throw new TaskError(field, `output of ${product(shape)} values per example exceeds ${TASK_LIMITS.maxExampleValues}`);
  }
  return { shape, params };
}

/** Keras's output length of a window (kernel or pool) of size k, stride s, over n positions. */
function windowOut(n: number, k: number, s: number, padding: 'same' | 'valid', field: string, key: string): number {
  if (padding === 'same') return Math.ceil(n / s);
  if (k > n) throw new TaskError(`${field}.${key}`, `window ${k} is larger than the input (${n}) with padding "valid"`);
  return Math.floor((n - k) / s) + 1;
}
